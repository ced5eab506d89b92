"""The Socket.IO v4 / Engine.IO v4 packet codec, with strings alone."""

from __future__ import annotations

import json

import pytest

from wslocust.errors import ProtocolError
from wslocust.wire import socketio
from wslocust.wire.socketio import (
    ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    Packet,
    decode_engineio,
    decode_packet,
    encode_ack,
    encode_connect,
    encode_connect_error,
    encode_disconnect,
    encode_event,
    encode_open,
    fill_placeholders,
)


def test_an_event_on_the_default_namespace_is_42_and_a_json_list() -> None:
    assert encode_event("user_uttered", {"message": "hi"}) == '42["user_uttered",{"message":"hi"}]'


def test_an_event_with_a_namespace_and_an_ack_id_puts_them_before_the_data() -> None:
    assert encode_event("ask", "hi", namespace="/chat", ack_id=7) == '42/chat,7["ask","hi"]'


def test_an_ack_connect_connect_error_and_disconnect_encode_as_the_protocol_spells_them() -> None:
    assert encode_ack(7, "fine") == '437["fine"]'
    assert encode_connect() == "40"
    assert encode_connect("/chat", {"token": "t"}) == '40/chat,{"token":"t"}'
    assert encode_connect_error("Not authorized") == '44{"message":"Not authorized"}'
    assert encode_disconnect("/chat") == "41/chat,"


def test_the_open_packet_carries_the_sid_and_the_ping_timing() -> None:
    kind, data = decode_engineio(encode_open("abc", 25000, 20000))
    assert kind == socketio.OPEN
    assert json.loads(data) == {
        "sid": "abc", "upgrades": [], "pingInterval": 25000, "pingTimeout": 20000, "maxPayload": 1000000,
    }  # fmt: skip


def test_decoding_reads_what_encoding_wrote() -> None:
    for packet in (
        Packet(EVENT, "/", ["bot_uttered", {"text": "hello"}]),
        Packet(EVENT, "/chat", ["ask", "hi", 3], 12),
        Packet(ACK, "/chat", ["fine"], 12),
        Packet(CONNECT, "/", {"sid": "s1"}),
        Packet(CONNECT_ERROR, "/admin", {"message": "Invalid namespace"}),
        Packet(DISCONNECT, "/chat"),
        Packet(BINARY_EVENT, "/", ["file", {"_placeholder": True, "num": 0}], None, 1),
    ):
        kind, data = decode_engineio(socketio.encode_packet(packet))
        assert kind == socketio.MESSAGE
        assert decode_packet(data) == packet


def test_a_namespace_without_a_trailing_comma_runs_to_the_end() -> None:
    assert decode_packet("1/chat") == Packet(DISCONNECT, "/chat")


def test_an_event_packet_names_its_event_and_arguments() -> None:
    packet = decode_packet('2["bot_uttered",{"text":"hello"},2]')
    assert packet.event == "bot_uttered"
    assert packet.args == [{"text": "hello"}, 2]


def test_placeholders_are_filled_with_their_attachments() -> None:
    packet = decode_packet('52-["file",{"a":{"_placeholder":true,"num":1}},[{"_placeholder":true,"num":0}]]')
    assert packet.attachments == 2
    assert fill_placeholders(packet.data, [b"zero", b"one"]) == ["file", {"a": b"one"}, [b"zero"]]


def test_a_placeholder_naming_a_missing_attachment_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="attachment 3 of 1"):
        fill_placeholders([{"_placeholder": True, "num": 3}], [b"x"])


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "malformed Socket"),
        ("9", "malformed Socket"),
        ("2not json", "not JSON"),
        ('2{"a":1}', "event without a"),
        ("2[]", "event without a"),
        ("2[1]", "event without a"),
        ('3{"a":1}', "ack without a list"),
        ("0[1]", "connect data is not an object"),
        ("4", "connect error without a message"),
        ('5["x"]', "no attachment count"),
    ],
)
def test_a_malformed_packet_is_a_protocol_error_that_quotes_it(text: str, says: str) -> None:
    with pytest.raises(ProtocolError, match=says):
        decode_packet(text)


@pytest.mark.parametrize("message", ["", "9", "x40"])
def test_a_message_of_no_engineio_type_is_a_protocol_error(message: str) -> None:
    with pytest.raises(ProtocolError, match=r"malformed Engine\.IO packet"):
        decode_engineio(message)
