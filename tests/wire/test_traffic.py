"""Traffic counting, socket-free: the messages and bytes a connection sends and reads, pushes and
control frames apart, counted a prompt and a block."""

from __future__ import annotations

from wslocust.wire.connection import Connection
from wslocust.wire.frames import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, encode_close, encode_frame
from wslocust.wire.multiplex import Multiplexer
from wslocust.wire.protocols import JsonProtocol, PlainProtocol
from wslocust.wire.reply import Reply
from wslocust.wire.traffic import PROCESS_TRAFFIC, Traffic

from .test_managed_connection import opened


def server_frame(opcode: int, payload: bytes) -> bytes:
    return encode_frame(opcode, payload, mask=False)


def counted() -> tuple[Connection, Traffic]:
    traffic = Traffic()
    return Connection(PlainProtocol(), traffic=traffic), traffic


def test_a_prompt_counts_its_messages_and_the_bytes_of_its_frames() -> None:
    connection, traffic = counted()
    payload = connection.start(Reply(prompt="hello", name="ask"))
    assert (traffic.prompts, traffic.messages_sent, traffic.bytes_sent) == (1, 1, len(payload))


def test_a_block_counts_its_bytes_and_messages_and_a_ping_its_pong_apart() -> None:
    connection, traffic = counted()
    connection.start(Reply(prompt="hi", name="ask"))
    sent = traffic.bytes_sent
    block = server_frame(OP_TEXT, b"one") + server_frame(OP_PING, b"abc") + server_frame(OP_TEXT, b"two")
    connection.receive(block, 1.0)
    assert traffic.bytes_received == len(block)
    assert (traffic.messages_received, traffic.control_received, traffic.control_sent) == (2, 1, 1)
    assert traffic.bytes_sent - sent == len(encode_frame(OP_PONG, b"abc"))  # the pong, masked


def test_a_message_between_replies_is_a_push_and_a_pong_received_a_control_frame() -> None:
    connection, traffic = counted()
    connection.receive(server_frame(OP_TEXT, b"news") + server_frame(OP_PONG, b""), 0.0)
    assert (traffic.pushes, traffic.messages_received, traffic.control_received) == (1, 1, 1)


def test_the_servers_close_and_ours_are_control_frames_and_our_close_counts_its_bytes() -> None:
    connection, traffic = counted()
    connection.receive(server_frame(OP_CLOSE, encode_close(1001, mask=False)[2:]), 0.0)
    assert (traffic.messages_received, traffic.control_received, traffic.control_sent) == (0, 1, 1)
    assert traffic.bytes_sent == len(encode_close(1000))


def test_a_connection_counts_into_the_process_traffic_by_default() -> None:
    before = PROCESS_TRAFFIC.prompts
    Connection(PlainProtocol()).start(Reply(prompt="hi", name="ask"))
    assert PROCESS_TRAFFIC.prompts == before + 1


def test_take_returns_the_counts_and_starts_again_from_zero() -> None:
    connection, traffic = counted()
    connection.start(Reply(prompt="hi", name="ask"))
    taken = traffic.take()
    assert (taken.prompts, traffic.prompts, traffic.bytes_sent) == (1, 0, 0)


def test_counts_merge_exactly_through_their_wire_form() -> None:
    one, two = Traffic(), Traffic()
    for number, traffic in enumerate((one, two), start=1):
        for field in Traffic.FIELDS:
            setattr(traffic, field, number * (len(field) + 1))
    merged = Traffic.from_wire(one.to_wire())
    merged.merge(Traffic.from_wire(two.to_wire()))
    assert merged.to_wire() == [3 * (len(field) + 1) for field in Traffic.FIELDS]


def test_a_managed_connection_counts_a_protocols_answer_as_a_message_sent() -> None:
    connection = opened()  # the Socket.IO opening done
    traffic = connection.traffic = Traffic()
    ping = server_frame(OP_TEXT, b"2")  # an Engine.IO ping, answered with "3"
    connection.receive(ping, 0.0)
    assert (traffic.frames_received, traffic.bytes_received, traffic.pushes) == (1, len(ping), 0)
    assert (traffic.messages_sent, traffic.bytes_sent) == (1, len(encode_frame(OP_TEXT, b"3")))


def test_several_prompts_in_flight_count_as_one_connection_does() -> None:
    mux = Multiplexer(JsonProtocol(template='{"prompt": "{prompt}", "id": "{request_id}"}', id_path="id"))
    traffic = mux.traffic = Traffic()
    payload = mux.start(Reply(prompt="hi", name="ask"), "1", 0.0, 10.0)
    block = server_frame(OP_TEXT, b'{"id": "9", "text": "late"}') + server_frame(OP_PING, b"")
    mux.receive(block, 0.1)
    assert (traffic.prompts, traffic.bytes_sent - 6) == (1, len(payload))  # and the pong's 6 bytes
    assert (traffic.messages_received, traffic.pushes, traffic.control_received) == (1, 1, 1)


def test_a_reply_message_answering_no_prompt_in_flight_counts_as_unmatched_and_as_a_push() -> None:
    mux = Multiplexer(
        JsonProtocol(template='{"prompt": "{prompt}", "id": "{request_id}"}', id_path="id"), traffic=Traffic()
    )
    mux.start(Reply(prompt="hi", name="ask"), "1", 0.0, 10.0)
    stray = server_frame(OP_TEXT, b'{"id": "9", "text": "late"}') + server_frame(
        OP_TEXT, b'{"text": "no id"}'
    )
    mux.receive(stray + server_frame(OP_TEXT, b'{"id": "1", "text": "mine"}'), 0.1)
    assert (mux.traffic.unmatched, mux.traffic.pushes, mux.traffic.messages_received) == (2, 2, 3)
