"""``socketio`` and ``rasa``, socket-free: Engine.IO / Socket.IO messages in, reply events out."""

from __future__ import annotations

import argparse
import json

import pytest

from wslocust.errors import ConfigurationError, ConnectionClosed, ProtocolError, SessionRefused
from wslocust.wire.protocols import Answer, Chunk, End, Failure, RasaProtocol, SocketIOProtocol, get_protocol

OPEN = '0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'


def opened(protocol: SocketIOProtocol, connected: str = '40{"sid":"s1"}') -> SocketIOProtocol:
    """The protocol after a successful opening on the default namespace."""
    assert protocol.open() == ()
    protocol.feed(OPEN)
    protocol.feed(connected)
    return protocol


def test_the_url_gets_the_engineio_path_and_query_keeping_the_users_query() -> None:
    protocol = SocketIOProtocol()
    assert protocol.resource("ws://bot:3000") == "ws://bot:3000/socket.io/?EIO=4&transport=websocket"
    assert (
        protocol.resource("wss://bot/?room=a%20b&EIO=3&x")
        == "wss://bot/socket.io/?room=a%20b&x&EIO=4&transport=websocket"
    )


def test_the_urls_own_path_is_kept_unless_socketio_path_is_given() -> None:
    assert SocketIOProtocol().resource("ws://bot/chat/socket.io/").startswith("ws://bot/chat/socket.io/?")
    assert SocketIOProtocol(path="/ws/").resource("ws://bot/chat/").startswith("ws://bot/ws/?")


def test_the_engineio_open_packet_is_answered_with_the_namespace_connect_and_its_auth() -> None:
    protocol = SocketIOProtocol(namespace="/chat", auth='{"token": "t"}')
    protocol.open()
    assert protocol.feed(OPEN) == (Answer('40/chat,{"token":"t"}'),)
    assert not protocol.ready
    assert protocol.feed('40/chat,{"sid":"s1"}') == ()
    assert protocol.ready


def test_a_first_packet_that_is_not_an_engineio_open_is_a_protocol_error() -> None:
    protocol = SocketIOProtocol()
    protocol.open()
    with pytest.raises(ProtocolError, match=r"expected the Engine\.IO v4 open packet"):
        protocol.feed("40")


def test_an_open_packet_without_its_fields_is_a_protocol_error() -> None:
    protocol = SocketIOProtocol()
    protocol.open()
    with pytest.raises(ProtocolError, match="without sid, pingInterval and pingTimeout"):
        protocol.feed('0{"sid":"e1"}')


def test_a_connect_answered_without_a_sid_is_a_socketio_v2_server_and_a_protocol_error() -> None:
    protocol = SocketIOProtocol()
    protocol.open()
    protocol.feed(OPEN)
    with pytest.raises(ProtocolError, match=r"without a sid: a Socket\.IO v2 server"):
        protocol.feed("40")


def test_a_connect_error_is_the_session_refused_with_the_servers_words() -> None:
    protocol = SocketIOProtocol(namespace="/admin")
    protocol.open()
    protocol.feed(OPEN)
    with pytest.raises(SessionRefused, match="namespace /admin refused: Invalid namespace"):
        protocol.feed('44/admin,{"message":"Invalid namespace"}')


def test_pings_are_answered_with_pongs_and_never_make_a_chunk() -> None:
    protocol = opened(SocketIOProtocol())
    assert protocol.feed("2") == (Answer("3"),)
    assert protocol.feed("2probe") == (Answer("3probe"),)


def test_a_prompt_is_the_event_with_its_templated_payload() -> None:
    protocol = opened(SocketIOProtocol(event="ask", template='{"q": "{prompt}", "lang": "{lang}"}'))
    (message,) = protocol.request('say "hi"', {"lang": "fr"})
    assert message == '42["ask",{"q": "say \\"hi\\"", "lang": "fr"}]'


def test_the_first_reply_event_is_the_whole_reply_by_default() -> None:
    protocol = opened(SocketIOProtocol())
    protocol.request("hi", {})
    events = protocol.feed('42["bot_uttered",{"text":"hello","intent":"greet"}]')
    assert events == (Chunk("hello"), End({"text": "hello", "intent": "greet"}))


def test_a_string_payload_is_the_reply_text() -> None:
    protocol = opened(SocketIOProtocol(reply_event="answer"))
    assert protocol.feed('42["answer","hello"]') == (Chunk("hello"), End())


def test_the_text_is_read_at_the_text_path() -> None:
    protocol = opened(SocketIOProtocol(reply_event="stream_token", end_event="task_end", text_path="token"))
    assert protocol.feed('42["stream_token",{"id":"m1","token":"Hel"}]') == (Chunk("Hel"),)
    assert protocol.feed('42["stream_token",{"id":"m1","text":"not this"}]') == ()


def test_other_events_and_other_namespaces_are_not_the_reply() -> None:
    protocol = opened(SocketIOProtocol())
    assert protocol.feed('42["typing",{}]') == ()
    assert protocol.feed('42/other,["bot_uttered",{"text":"x"}]') == ()


def test_with_an_end_event_reply_events_are_chunks_until_it() -> None:
    protocol = opened(SocketIOProtocol(end_event="bot_done"))
    assert protocol.feed('42["bot_uttered",{"text":"a"}]') == (Chunk("a"),)
    assert protocol.feed('42["bot_uttered",{"text":"b"}]') == (Chunk("b"),)
    assert protocol.feed('42["bot_done",{}]') == (End({}),)


def test_with_a_quiet_period_every_reply_event_is_a_chunk_even_an_empty_one() -> None:
    protocol = opened(SocketIOProtocol(quiet_ms="250"))
    assert protocol.quiet_ms == 250.0
    assert protocol.feed('42["bot_uttered",{"text":"a"}]') == (Chunk("a"),)
    assert protocol.feed('42["bot_uttered",{"image":"x.png"}]') == (Chunk(""),)


def test_with_acks_the_prompt_asks_for_an_ack_and_its_ack_ends_the_reply() -> None:
    protocol = opened(SocketIOProtocol(ack=True, namespace="/chat"), '40/chat,{"sid":"s1"}')
    assert protocol.request("hi", {}) == ('42/chat,0["user_uttered",{"message": "hi"}]',)
    assert protocol.feed('42/chat,["bot_uttered","a "]') == (Chunk("a "),)
    assert protocol.feed('43/chat,7["late"]') == ()  # another prompt's ack
    assert protocol.feed('43/chat,0["done"]') == (Chunk("done"), End())
    assert protocol.request("again", {})[0].startswith("42/chat,1[")


def test_an_acks_text_repeating_the_streamed_answer_is_not_counted_again() -> None:
    protocol = opened(SocketIOProtocol(ack=True))
    protocol.request("hi", {})
    assert protocol.feed('42["bot_uttered",{"text":"Hel"}]') == (Chunk("Hel"),)
    assert protocol.feed('42["bot_uttered",{"text":"lo"}]') == (Chunk("lo"),)
    # The ack repeats the whole answer: its fields are the end's, its text is not counted again.
    assert protocol.feed('430[{"text":"Hello","intent":"greet"}]') == (
        End({"text": "Hello", "intent": "greet"}),
    )
    protocol.request("again", {})
    assert protocol.feed('431[{"text":"Hi again"}]') == (Chunk("Hi again"), End({"text": "Hi again"}))


def test_an_end_events_text_is_its_last_chunk_unless_it_repeats_the_streamed_answer() -> None:
    protocol = opened(SocketIOProtocol(end_event="bot_done"))
    protocol.request("hi", {})
    assert protocol.feed('42["bot_uttered",{"text":"a"}]') == (Chunk("a"),)
    assert protocol.feed('42["bot_done",{"text":"a"}]') == (End({"text": "a"}),)
    protocol.request("again", {})
    assert protocol.feed('42["bot_uttered",{"text":"a"}]') == (Chunk("a"),)
    assert protocol.feed('42["bot_done",{"text":"b"}]') == (Chunk("b"), End({"text": "b"}))


def test_a_reply_payload_with_an_error_field_is_the_bots_error_with_its_text() -> None:
    protocol = opened(SocketIOProtocol())
    protocol.request("hi", {})
    assert protocol.feed('42["bot_uttered",{"text":"ERROR","error":"overloaded"}]') == (
        Failure("overloaded"),
    )


def test_the_error_condition_is_configurable_like_json_errors() -> None:
    protocol = opened(SocketIOProtocol(end_event="done", error="status=failed"))
    protocol.request("hi", {})
    assert protocol.feed('42["bot_uttered",{"text":"a","error":"not ours"}]') == (Chunk("a"),)
    assert protocol.feed('42["done",{"status":"failed"}]') == (Failure('{"status": "failed"}'),)


def test_a_servers_event_asking_for_an_ack_is_acked_at_once() -> None:
    protocol = opened(SocketIOProtocol())
    assert protocol.feed('425["bot_uttered","hi"]') == (Answer("435[]"), Chunk("hi"), End())


def test_a_binary_event_counts_once_its_attachments_came() -> None:
    protocol = opened(SocketIOProtocol())
    assert protocol.feed('451-["bot_uttered",{"text":"see","file":{"_placeholder":true,"num":0}}]') == ()
    assert protocol.feed(b"\x00\x01") == (Chunk("see"), End({"text": "see", "file": b"\x00\x01"}))


def test_a_binary_message_of_no_binary_packet_is_ignored() -> None:
    assert opened(SocketIOProtocol()).feed(b"\x00") == ()


def test_a_malformed_packet_is_a_protocol_error() -> None:
    protocol = opened(SocketIOProtocol())
    with pytest.raises(ProtocolError, match="not JSON"):
        protocol.feed('42["bot_uttered",')
    with pytest.raises(ProtocolError, match=r"malformed Engine\.IO packet"):
        protocol.feed("hello")
    with pytest.raises(ProtocolError, match=r"malformed Socket\.IO packet: '49\[\]'"):
        protocol.feed("49[]")  # shown as received, its Engine.IO type included


def test_the_server_leaving_the_namespace_or_closing_the_session_closes_the_connection() -> None:
    protocol = opened(SocketIOProtocol())
    with pytest.raises(ConnectionClosed, match=r"disconnected the Socket\.IO namespace /"):
        protocol.feed("41")
    with pytest.raises(ConnectionClosed, match=r"closed the Engine\.IO session"):
        protocol.feed("1")


def test_a_new_connection_starts_the_opening_again() -> None:
    protocol = opened(SocketIOProtocol(ack=True))
    protocol.request("hi", {})
    protocol.open()
    assert not protocol.ready
    opened(protocol)
    assert protocol.request("hi", {})[0].startswith("420[")


def test_rasa_requests_a_session_and_waits_for_its_confirmation() -> None:
    protocol = RasaProtocol()
    protocol.open()
    protocol.feed(OPEN)
    (request,) = protocol.feed('40{"sid":"s1"}')
    assert isinstance(request, Answer)
    assert isinstance(request.message, str)
    name, payload = json.loads(request.message[2:])
    session_id = payload["session_id"]
    assert name == "session_request"
    assert len(session_id) == 32
    assert not protocol.ready
    assert protocol.feed('42["bot_uttered",{"text":"early"}]') == ()
    assert protocol.feed(f'42["session_confirm","{session_id}"]') == ()
    assert protocol.ready
    (message,) = protocol.request("hi", {})
    assert json.loads(message[2:]) == ["user_uttered", {"message": "hi", "session_id": session_id}]


def test_rasa_uses_the_session_id_the_server_confirms() -> None:
    protocol = RasaProtocol()
    protocol.open()
    protocol.feed(OPEN)
    protocol.feed('40{"sid":"s1"}')
    protocol.feed('42["session_confirm","server-made"]')
    assert json.loads(protocol.request("hi", {})[0][2:])[1]["session_id"] == "server-made"


def test_each_rasa_connection_has_a_new_session_id() -> None:
    protocol = RasaProtocol()
    ids = set()
    for _ in range(2):
        protocol.open()
        protocol.feed(OPEN)
        (request,) = protocol.feed('40{"sid":"s1"}')
        ids.add(json.loads(request.message[2:])[1]["session_id"])  # type: ignore[arg-type, index]
    assert len(ids) == 2


def test_the_protocols_are_registered_and_manage_their_connection() -> None:
    assert get_protocol("socketio") is SocketIOProtocol
    assert get_protocol("rasa") is RasaProtocol
    assert SocketIOProtocol.manages_connection


def test_options_build_the_protocol() -> None:
    options = argparse.Namespace(
        socketio_path="/io/", socketio_namespace="/chat", socketio_auth='{"k": 1}', socketio_event="ask",
        socketio_template='{"q": "{prompt}"}', socketio_reply_event="answer", socketio_end_event=None,
        socketio_quiet_ms="300", socketio_ack=False,
    )  # fmt: skip
    protocol = SocketIOProtocol.from_options(options)
    assert isinstance(protocol, SocketIOProtocol)
    assert (protocol.path, protocol.namespace, protocol.auth) == ("/io/", "/chat", {"k": 1})
    assert (protocol.event, protocol.reply_event, protocol.quiet_ms) == ("ask", "answer", 300.0)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"path": "socket.io"}, "--socketio-path must be a path starting with /"),
        ({"namespace": "chat"}, "--socketio-namespace must start with /"),
        ({"namespace": "/a,b"}, "--socketio-namespace must start with /"),
        ({"auth": "{nope"}, "--socketio-auth is not JSON"),
        ({"auth": "[1]"}, "--socketio-auth must be a JSON object"),
        ({"event": "connect"}, "--socketio-event 'connect' is reserved"),
        ({"reply_event": " "}, "--socketio-reply-event must be an event name"),
        ({"reply_event": ""}, "--socketio-reply-event is empty: give an event name"),
        ({"event": ""}, "--socketio-event is empty: give an event name"),
        ({"text_path": "a..b"}, "--socketio-text-path 'a..b': expected a dotted path"),
        ({"template": "{nope"}, "--socketio-template: request template is not JSON"),
        ({"quiet_ms": "0"}, "--socketio-quiet-ms must be"),
        ({"quiet_ms": "nan"}, "--socketio-quiet-ms must be"),
        ({"end_event": "done", "ack": True}, "--socketio-end-event and --socketio-ack each end a reply"),
        ({"quiet_ms": "5", "end_event": "done"}, "--socketio-end-event and --socketio-quiet-ms"),
        ({"error": "=x"}, "--socketio-error: condition '=x' has no path"),
        (
            {"end_event": "bot_uttered"},
            "--socketio-end-event 'bot_uttered' is also the --socketio-reply-event",
        ),
        ({"end_event": "ask", "event": "ask"}, "--socketio-end-event 'ask' is also the --socketio-event"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_option(settings: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        SocketIOProtocol(**settings)  # type: ignore[arg-type]


def test_the_auth_reads_environment_variables_at_each_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIO_TOKEN", "first")
    protocol = SocketIOProtocol(auth='{"token": "${SIO_TOKEN}"}')
    monkeypatch.setenv("SIO_TOKEN", "second")
    protocol.open()
    assert protocol.feed(OPEN) == (Answer('40{"token":"second"}'),)


def test_a_variable_in_the_auth_is_json_escaped_into_its_string(monkeypatch: pytest.MonkeyPatch) -> None:
    token = 'a"b\\c", "admin": true'
    monkeypatch.setenv("SIO_TOKEN", token)
    protocol = SocketIOProtocol(auth='{"token": "${SIO_TOKEN}"}')
    protocol.open()
    [answer] = protocol.feed(OPEN)
    assert isinstance(answer, Answer)
    assert json.loads(str(answer.message)[2:]) == {"token": token}


def test_an_auth_naming_an_unset_variable_is_refused_at_start_up_and_at_connect_naming_both() -> None:
    """Built without it (a worker's users are built before they connect), the protocol refuses it at
    the start-up check and at each connect, naming the option and the variable."""
    protocol = SocketIOProtocol(auth='{"token": "${SIO_UNSET_TOKEN}"}')
    says = "--socketio-auth: environment variable SIO_UNSET_TOKEN is referenced but not set"
    with pytest.raises(ConfigurationError, match=says):
        protocol.check_environment()
    with pytest.raises(ConfigurationError, match=says):
        protocol.open()


def test_a_bad_auth_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigurationError) as refused:
        SocketIOProtocol(auth='{"token": "s3cret"')
    assert "s3cret" not in str(refused.value)
