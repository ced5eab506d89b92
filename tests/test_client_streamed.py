"""A streamed reply on the lean path: its chunks read in the hub (one read each), the user's greenlet
woken once a reply; every figure kept, deadlines, pings and closes as before."""

from __future__ import annotations

import json
import socket
import time

import gevent
import greenlet
import pytest

from wslocust.client import ChatClient
from wslocust.errors import ConnectionClosed, ReplyTimeout
from wslocust.wire.frames import OP_PING, OP_PONG, OP_TEXT, FrameReader, encode_close, encode_frame
from wslocust.wire.protocols import JsonProtocol

from .conftest import UNIT

CHUNKS = 8
GAP_S = 0.02


def chunk(text: str) -> bytes:
    return encode_frame(OP_TEXT, json.dumps({"type": "chunk", "text": text}).encode(), mask=False)


END = encode_frame(OP_TEXT, b'{"type": "end"}', mask=False)


def stream(before_end: bytes = b"", *, end: bool = True):  # type: ignore[no-untyped-def]
    """A handler answering each prompt with CHUNKS chunks GAP_S apart, each in its own send; then
    ``before_end`` (a ping, a close) and the end. Pongs it receives are kept in ``pongs``."""
    pongs: list[bytes] = []

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        while True:
            data = sock.recv(4096)
            if not data:
                return
            for opcode, payload in reader.feed(data):
                if opcode == OP_PONG:
                    pongs.append(payload)
                    continue
                for index in range(CHUNKS):
                    gevent.sleep(GAP_S)
                    sock.sendall(chunk(f"t{index} "))
                    if index == CHUNKS // 2 and before_end:
                        sock.sendall(before_end)
                if end:
                    sock.sendall(END)
                else:
                    gevent.sleep(3600)

    return handler, pongs


def test_chunks_read_one_a_read_in_the_hub_keep_every_figure_and_the_greenlet_wakes_once(
    recorded_env, demo
) -> None:
    """Every chunk counted and timed at its own arrival; the user's greenlet woken once a reply."""
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "20", "--itl-ms", "20", "--chunks", str(CHUNKS))
    client = ChatClient(environment, url, JsonProtocol())
    assert client.connect()
    assert client._raw is not None
    assert client._stamped
    switches = 0
    user = gevent.getcurrent()

    def count(event: str, args: tuple[object, object]) -> None:
        nonlocal switches
        if event == "switch" and args[1] is user:
            switches += 1

    previous = greenlet.settrace(count)
    try:
        reply = client.ask("hello")
    finally:
        greenlet.settrace(previous)
    assert reply.ok, reply.error
    assert reply.chunks == CHUNKS == len(reply.chunk_times_ms)
    assert reply.time_to_first_chunk_ms == reply.chunk_times_ms[0] >= 20 - 1
    gaps = [b - a for a, b in zip(reply.chunk_times_ms, reply.chunk_times_ms[1:], strict=False)]
    assert len(gaps) == CHUNKS - 1
    assert all(gap >= 0 for gap in gaps), gaps
    # Each chunk timed at its own arrival, not all at the reply's end (a loaded server may send two
    # at once now and then: the demo jitters its gaps).
    assert sum(gap > 5 for gap in gaps) >= len(gaps) // 2, gaps
    assert reply.total_time_ms >= reply.chunk_times_ms[-1]
    assert switches <= 2, switches  # woken at the end (a timer at most once more), not once a chunk
    event = recorded.of("WS")[0]
    assert event["context"]["chunks"] == CHUNKS
    assert event["context"]["time_to_first_chunk_ms"] == reply.time_to_first_chunk_ms


def test_the_lean_and_the_gevent_socket_paths_give_the_same_reply(recorded_env, demo) -> None:
    """The same stream read both ways: equal text, chunk count and gap count; both timed at the
    server's pace (a loaded server may be late, never early)."""
    environment, _ = recorded_env
    url = demo("--ttft-ms", "20", "--itl-ms", "20", "--chunks", str(CHUNKS), "--seed", "1")
    lean = ChatClient(environment, url, JsonProtocol())
    plain = ChatClient(environment, url, JsonProtocol())
    assert lean.connect()
    assert plain.connect()
    plain._raw = None  # as a TLS connection reads: through gevent's socket, one greenlet wake-up a read
    one, other = lean.ask("hello"), plain.ask("hello")
    assert one.ok, one.error
    assert other.ok, other.error
    assert (one.text, one.chunks, len(one.chunk_times_ms)) == (
        other.text,
        other.chunks,
        len(other.chunk_times_ms),
    )
    paced_ms = 20 + (CHUNKS - 1) * 20
    for reply in (one, other):
        assert 20 - 1 <= reply.time_to_first_chunk_ms < 20 + 100 * UNIT  # type: ignore[operator]
        assert paced_ms - 2 <= reply.total_time_ms < paced_ms + 100 * UNIT


def test_a_ping_mid_stream_is_ponged_and_the_reply_goes_on(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    handler, pongs = stream(encode_frame(OP_PING, b"mid", mask=False))
    server = raw_server(handler)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", JsonProtocol())
    reply = client.ask("hello")
    assert reply.ok, reply.error
    assert reply.chunks == CHUNKS
    assert client.pings_answered == 1
    deadline = time.monotonic() + 1.0 * UNIT
    while not pongs and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert pongs == [b"mid"]


def test_a_close_mid_stream_fails_the_reply_with_its_code(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    handler, _ = stream(encode_close(1011, "overloaded", mask=False))
    server = raw_server(handler)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", JsonProtocol())
    reply = client.ask("hello")
    assert isinstance(reply.error, ConnectionClosed)
    assert "1011" in str(reply.error)
    assert reply.chunks == CHUNKS // 2 + 1  # the chunks before the close count
    assert not client.connected


def test_a_stream_that_never_ends_times_out_on_time(recorded_env, raw_server) -> None:
    """Chunks keep the hub reading; the reply's timer still ends it at its deadline."""
    environment, _ = recorded_env
    handler, _ = stream(end=False)
    server = raw_server(handler)
    timeout_s = 0.1 * UNIT
    client = ChatClient(
        environment, f"ws://127.0.0.1:{server.port}/", JsonProtocol(), reply_timeout_s=timeout_s
    )
    reply = client.ask("hello")
    assert isinstance(reply.error, ReplyTimeout)
    assert 0 < reply.chunks < CHUNKS
    assert timeout_s * 1000 <= reply.total_time_ms <= timeout_s * 1000 + 100 * UNIT


class Broken(JsonProtocol):
    """A protocol whose ``feed`` fails with an error of its own (a bug), not a protocol error."""

    def feed(self, message: str | bytes) -> list[object]:  # type: ignore[override]
        raise RuntimeError("feed broke")


def test_an_error_raised_while_reading_in_the_hub_is_raised_in_the_users_greenlet(
    recorded_env, raw_server
) -> None:
    """The hub reads the blocks but never raises: the error surfaces in ``ask``, the hub keeps running."""
    environment, _ = recorded_env
    handler, _ = stream()
    server = raw_server(handler)
    client = ChatClient(environment, f"ws://127.0.0.1:{server.port}/", Broken())
    with pytest.raises(RuntimeError, match="feed broke"):
        client.ask("hello")
    assert not client.connected
    gevent.sleep(0.01)  # the hub still runs timers and switches back
