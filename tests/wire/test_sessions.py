"""The session layer around a protocol, socket-free: messages on connect, an awaited welcome, captured
values and a token in templates."""

from __future__ import annotations

import json

import pytest

from wslocust.errors import CaptureMissing, ConfigurationError
from wslocust.wire.connection import Connection, Send
from wslocust.wire.frames import OP_TEXT, FrameReader, encode_frame
from wslocust.wire.managed import ManagedConnection, connection_for
from wslocust.wire.protocols import Answer, JsonProtocol, SocketIOProtocol
from wslocust.wire.reply import Reply
from wslocust.wire.sessions import SessionProtocol, parse_capture, session_protocol

TEMPLATE = '{"session_id": "{session}", "text": "{prompt}"}'
WELCOME = '{"type": "welcome", "session_id": "s-1"}'
OPEN = '0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000}'


def text(message: str) -> bytes:
    """A text frame as a server sends it: unmasked."""
    return encode_frame(OP_TEXT, message.encode(), mask=False)


def sent(frames: bytes | list[object] | None) -> list[str]:
    """The text messages of frames the client sends (bytes, or the Send actions)."""
    data = (
        frames
        if isinstance(frames, bytes)
        else b"".join(action.frame for action in frames or () if isinstance(action, Send))
    )
    return [payload.decode() for _, payload in FrameReader(accept_masked=True).feed(data)]


def session(**kwargs: object) -> SessionProtocol:
    protocol = session_protocol(JsonProtocol(template=TEMPLATE), **kwargs)  # type: ignore[arg-type]
    assert isinstance(protocol, SessionProtocol)
    return protocol


def test_without_any_session_setting_the_protocol_is_left_as_it_is_and_keeps_the_plain_connection() -> None:
    protocol = JsonProtocol()
    assert session_protocol(protocol) is protocol
    assert session_protocol(protocol, values=lambda: {"token": "T"}) is protocol  # ${TOKEN} only
    assert type(connection_for(session_protocol(protocol))) is Connection


def test_a_token_alone_keeps_the_plain_connection_and_captures_need_the_managed_one() -> None:
    token_only = session_protocol(JsonProtocol(template='{"t": "{token}"}'), values=lambda: {"token": "T"})
    assert type(connection_for(token_only)) is Connection
    assert type(connection_for(session(captures={"session": "session_id"}))) is ManagedConnection


def test_a_captured_value_from_the_welcome_fills_the_prompts_template() -> None:
    connection = ManagedConnection(session(captures={"session": "session_id"}))
    assert connection.open() == b""
    connection.receive(text(WELCOME), 0.0)
    [message] = sent(connection.start(Reply(prompt="hi", name="ask")))
    assert json.loads(message) == {"session_id": "s-1", "text": "hi"}


def test_a_value_captured_from_a_reply_is_used_by_the_next_prompt() -> None:
    protocol = session(captures={"session": "meta.next"})
    protocol.open()
    protocol.feed('{"type": "end", "text": "ok", "meta": {"next": 7}}')
    [message] = protocol.request("again", {})
    assert json.loads(message)["session_id"] == 7


def test_a_non_json_push_between_replies_is_read_for_captures_only_as_before() -> None:
    connection = ManagedConnection(session(captures={"session": "session_id"}))
    connection.open()
    assert connection.receive(text("server restarting soon") + text(WELCOME), 0.0) is not None
    assert connection.error is None
    reply = Reply(prompt="hi", name="ask")
    connection.start(reply)
    connection.receive(text('{"type": "end", "text": "hello"}'), 5.0)
    assert (reply.ok, reply.text) == (True, "hello")


def test_a_template_naming_a_value_never_captured_raises_capture_missing_naming_it_and_its_path() -> None:
    protocol = session(captures={"session": "sid"})
    protocol.open()
    protocol.feed(WELCOME)  # has session_id, not sid: the path never matches
    with pytest.raises(CaptureMissing, match=r"\{session\}.*--capture session=sid"):
        protocol.request("hi", {})


def test_a_new_connection_starts_with_no_captured_value() -> None:
    protocol = session(captures={"session": "session_id"})
    protocol.open()
    protocol.feed(WELCOME)
    protocol.open()
    with pytest.raises(CaptureMissing):
        protocol.request("hi", {})


def test_the_layers_fields_are_not_asked_of_the_dataset_records() -> None:
    protocol = session_protocol(
        JsonProtocol(template='{"s": "{session}", "t": "{token}", "lang": "{lang}"}'),
        captures={"session": "session_id"},
        values=lambda: {"token": "T"},
    )
    assert list(protocol.record_fields()) == ["lang"]


def test_on_connect_messages_are_sent_at_once_filled_with_the_token() -> None:
    connection = ManagedConnection(
        session(on_connect=['{"type": "hello", "auth": "{token}"}', "ping"], values=lambda: {"token": "T0"})
    )
    assert sent(connection.open()) == ['{"type": "hello", "auth": "T0"}', "ping"]
    assert connection.ready


def test_a_token_with_quotes_and_backslashes_is_json_escaped_in_the_prompts_and_on_connect_templates() -> (
    None
):
    token = 'a"b\\c\n}{'
    connection = ManagedConnection(
        session_protocol(
            JsonProtocol(template='{"auth": "{token}", "header": "Bearer {token}", "text": "{prompt}"}'),
            on_connect=['{"type": "hello", "auth": "{token}"}'],
            values=lambda: {"token": token},
        )
    )
    assert [json.loads(message) for message in sent(connection.open())] == [{"type": "hello", "auth": token}]
    prompt = json.loads(sent(connection.start(Reply(prompt="hi", name="ask")))[0])
    assert prompt == {"auth": token, "header": f"Bearer {token}", "text": "hi"}


def test_the_first_prompt_waits_for_the_awaited_message_and_others_before_it_do_not_count() -> None:
    connection = ManagedConnection(
        session(await_on_connect="type=welcome", captures={"session": "session_id"})
    )
    connection.open()
    assert not connection.ready
    assert connection.receive(text('{"type": "notice", "text": "hold on"}'), 0.0) is None
    assert not connection.ready
    assert "--await-on-connect 'type=welcome'" in connection.protocol.opening_hint()
    connection.receive(text(WELCOME), 0.0)
    assert connection.ready


def test_an_on_connect_message_naming_neither_a_capture_nor_the_token_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"--on-connect .*\{user\}"):
        session(on_connect=['{"user": "{user}"}'])


def test_socketio_on_connect_goes_after_the_namespace_connect_and_captures_read_event_payloads() -> None:
    protocol = session_protocol(
        SocketIOProtocol(template='{"message": "{prompt}", "sid": "{session}"}'),
        on_connect=['42["hello"]'],
        await_on_connect="type=welcome",
        captures={"session": "session_id"},
    )
    assert protocol.open() == []
    assert protocol.feed(OPEN) == [Answer("40")]
    assert protocol.feed('40{"sid":"n1"}') == [Answer('42["hello"]')]
    assert not protocol.ready
    protocol.feed('42["bot_uttered",{"type":"welcome","session_id":"s-9"}]')
    assert protocol.ready
    [message] = protocol.request("hi", {})
    assert message == '42["user_uttered",{"message": "hi", "sid": "s-9"}]'


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("session", "expected NAME=PATH"),
        ("9x=session_id", "expected NAME=PATH"),
        ("prompt=session_id", "wslocust's own"),
        ("token=a.b", "wslocust's own"),
        ("session=a..b", "no empty segment"),
    ],
)
def test_a_bad_capture_is_refused_naming_it(spec: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        parse_capture(spec)
