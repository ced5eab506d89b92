"""The lean I/O path of plain connections: one send, a wait on the connection's watcher and its reply
timer, reads into a shared block buffer; and the chat statistics that take in each reply once."""

from __future__ import annotations

import socket
import ssl
import time

import gevent
import gevent.monkey

from wslocust.client import ChatClient, _raw_socket
from wslocust.errors import ReplyTimeout
from wslocust.stats import ChatStats
from wslocust.wire.frames import OP_TEXT, FrameReader, encode_frame
from wslocust.wire.protocols import JsonProtocol, PlainProtocol

from .conftest import UNIT, make_reply


def echo_sizes(sock: socket.socket, _headers: dict[str, str]) -> None:
    """Answer each message with its size, as text (prompts of up to 64 MiB: the test sends large ones)."""
    reader = FrameReader(64 * 1024 * 1024, accept_masked=True)
    while True:
        data = sock.recv(1 << 20)
        if not data:
            return
        for _opcode, payload in reader.feed(data):
            sock.sendall(encode_frame(OP_TEXT, str(len(payload)).encode(), mask=False))


def test_a_plain_connection_takes_the_lean_path_and_an_ssl_socket_is_never_read_raw(
    recorded_env, raw_server
) -> None:
    environment, _ = recorded_env
    server = raw_server(echo_sizes)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol())
    assert client.connect()
    assert client._raw is not None
    assert client.ask("four").text == "4"
    client.close()
    assert client._raw is None
    plain, other = socket.socketpair()
    with plain, other:
        wrapped = ssl.create_default_context().wrap_socket(
            plain, server_hostname="localhost", do_handshake_on_connect=False
        )
        assert _raw_socket(wrapped) is None


def test_replies_longer_together_than_the_reply_timeout_each_get_the_whole_timeout(
    recorded_env, demo
) -> None:
    """The connection's reply timer is re-armed in full for every reply (not what a stopped timer kept)."""
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "40", "--itl-ms", "1", "--chunks", "2")
    client = ChatClient(environment, url, JsonProtocol(), reply_timeout_s=0.25 * UNIT)
    replies = [client.ask("hello") for _ in range(10)]  # 0.4 s or more in all
    assert all(reply.ok for reply in replies), [str(reply.error) for reply in replies if reply.error]
    assert len(recorded.of("CONNECT")) == 1


def test_the_reply_timeout_still_fires_on_the_lean_path_after_earlier_replies(
    recorded_env, raw_server
) -> None:
    environment, _ = recorded_env

    def answer_once(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        asked = 0
        while True:
            data = sock.recv(4096)
            if not data:
                return
            for _frame in reader.feed(data):
                asked += 1
                if asked == 1:
                    sock.sendall(encode_frame(OP_TEXT, b"first", mask=False))

    server = raw_server(answer_once)
    client = ChatClient(
        environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol(), reply_timeout_s=0.2 * UNIT
    )
    assert client.ask("one").text == "first"
    gevent.sleep(0.3 * UNIT)  # longer than the timeout between the replies
    reply = client.ask("two")
    assert isinstance(reply.error, ReplyTimeout)
    assert 200 * UNIT <= reply.total_time_ms <= 200 * UNIT + 150
    assert not client.connected


def test_a_timer_that_fired_after_a_reply_was_over_does_not_end_the_next_reply(
    recorded_env, raw_server
) -> None:
    """The connection's one waiter is cleared for every reply: what a past reply's timer left in it
    (it fired while the greenlet was busy) is not the next reply's timeout."""
    environment, _ = recorded_env
    server = raw_server(echo_sizes)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol())
    assert client.ask("one").text == "3"
    client._reply_timer.wake(False)  # as a timer firing while the greenlet was not waiting
    assert client._reply_timer.waiter.ready()
    reply = client.ask("three")
    assert reply.ok, reply.error
    assert reply.text == "5"


def test_a_connection_idle_for_longer_than_the_reply_timeout_answers_its_next_prompt(
    recorded_env, raw_server
) -> None:
    """The connection's reply timer runs on between replies (re-armed in full for each): idle past
    its timeout, it fires with no reply awaited, and the next reply is not failed by it."""
    environment, _ = recorded_env
    server = raw_server(echo_sizes)
    client = ChatClient(
        environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol(), reply_timeout_s=0.1 * UNIT
    )
    assert client.ask("one").text == "3"
    gevent.sleep(0.35 * UNIT)  # the timer fires (more than once) while the connection is idle
    assert client._reply_timer.waiter.ready()
    replies = [client.ask("three") for _ in range(3)]
    assert [reply.text for reply in replies] == ["5", "5", "5"], [str(reply.error) for reply in replies]


BLOCK_S = 0.3


def answer_then_block_the_process(sock: socket.socket, _headers: dict[str, str]) -> None:
    """Answer each prompt at once, then hold the whole process (every greenlet) for BLOCK_S."""
    blocking_sleep = gevent.monkey.get_original("time", "sleep")
    reader = FrameReader(accept_masked=True)
    while True:
        data = sock.recv(4096)
        if not data:
            return
        for _frame in reader.feed(data):
            sock.sendall(encode_frame(OP_TEXT, b"at once", mask=False))
            blocking_sleep(BLOCK_S)  # the reply waits in the client's socket, unread


def test_a_reply_is_timed_when_it_arrives_not_when_a_busy_process_reads_it(recorded_env, raw_server) -> None:
    """The kernel's receive timestamp: a load generator's scheduling delay is not the bot's latency."""
    environment, _ = recorded_env
    server = raw_server(answer_then_block_the_process)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol())
    assert client.connect()
    assert client._stamped
    for _ in range(3):
        started = time.perf_counter()
        reply = client.ask("hello")
        waited_ms = (time.perf_counter() - started) * 1000
        assert reply.ok, reply.error
        assert waited_ms >= BLOCK_S * 1000
        assert reply.total_time_ms < 100 * UNIT
        assert reply.time_to_first_chunk_ms == reply.total_time_ms


def test_without_receive_timestamps_the_time_a_reply_is_read_is_its_time(recorded_env, raw_server) -> None:
    """The other side of the test above: what the timestamps remove is there without them."""
    environment, _ = recorded_env
    server = raw_server(answer_then_block_the_process)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol())
    assert client.connect()
    client._stamped = False
    reply = client.ask("hello")
    assert reply.ok, reply.error
    assert reply.total_time_ms >= BLOCK_S * 1000


def test_a_prompt_larger_than_the_send_buffer_goes_out_whole(recorded_env, raw_server) -> None:
    """The one non-blocking send takes what fits; gevent sends the rest, waiting for room."""
    environment, _ = recorded_env
    server = raw_server(echo_sizes)
    client = ChatClient(
        environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol(), reply_timeout_s=10 * UNIT
    )
    prompt = "x" * (8 << 20)
    for _ in range(2):
        reply = client.ask(prompt)
        assert reply.ok, reply.error
        assert reply.text == str(len(prompt))


def test_connections_share_the_block_buffer_without_mixing_replies(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    server = raw_server(echo_sizes)
    clients = [ChatClient(environment, f"ws://127.0.0.1:{server.port}/", PlainProtocol()) for _ in range(20)]

    def ask_all(client: ChatClient, index: int) -> list[str]:
        return [client.ask("y" * (index * 7 + turn)).text for turn in range(20)]

    greenlets = [gevent.spawn(ask_all, client, index) for index, client in enumerate(clients)]
    gevent.joinall(greenlets, timeout=20 * UNIT, raise_error=True)
    for index, greenlet in enumerate(greenlets):
        assert greenlet.value == [str(index * 7 + turn) for turn in range(20)]


def test_chat_stats_read_between_records_hold_every_reply_once() -> None:
    stats = ChatStats()
    stats.record(make_reply("a", started_at=100.0, total_time_ms=10.0, chunk_times_ms=[4.0, 6.0]))
    assert (stats.total.replies, stats.by_name["a"].replies) == (1, 1)
    stats.record(make_reply("a", started_at=100.2, total_time_ms=20.0, chunk_times_ms=[5.0]))
    stats.record(make_reply("b", started_at=101.5, total_time_ms=30.0, chunk_times_ms=[7.0]))
    assert stats.total.replies == 3
    assert stats.total.latency.percentiles((0.0, 1.0)) == [10.0, 30.0]
    assert stats.total.gap.count == 1
    assert {name: s.replies for name, s in stats.by_name.items()} == {"a": 2, "b": 1}
    assert {second: {n: s.replies for n, s in names.items()} for second, names in stats.seconds.items()} == {
        100: {"a": 2},
        101: {"b": 1},
    }
    taken = stats.take_seconds(before=101)
    assert [second for second, _ in taken] == [100]
    stats.record(make_reply("b", started_at=101.9, total_time_ms=5.0, chunk_times_ms=[1.0]))
    assert stats.seconds[101]["b"].replies == 2
    assert stats.total.replies == 4
    assert stats.by_name["b"].ttft.percentiles((0.0, 1.0)) == [1.0, 7.0]
