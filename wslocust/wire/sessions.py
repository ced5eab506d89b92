"""A connection's session around any protocol: messages on connect, an awaited welcome, captured
values and a token in templates. Socket-free: messages in, events out.

:class:`SessionProtocol` wraps the user's protocol (``json``, ``socketio``, a locustfile's own) and
adds, per connection:

- ``on_connect``: templates sent right after the handshake (after the wrapped protocol's own opening,
  Socket.IO's namespace connect, when it has one);
- ``await_on_connect``: a :class:`~wslocust.wire.protocols.Condition` a server message must meet
  before the first prompt (``type=welcome``); the wait is part of the opening, so of ``CONNECT``;
- ``captures``: ``NAME → dotted path``; the value at that path in any JSON message the server sends
  on the connection (the welcome, a reply) is kept as ``{NAME}`` for every template (a new
  connection starts empty);
- ``values``: values given from outside at each use (the process's token as ``{token}``).

A template naming a captured value the connection has not given yet raises
:class:`~wslocust.errors.CaptureMissing` from :meth:`SessionProtocol.request`: the prompt is not sent.

Only what is asked for costs anything: :func:`session_protocol` returns the protocol itself when no
session feature is set, and the wrapper manages the connection (every message read) only when it
must (on-connect messages, an awaited message, captures, or a protocol that does already).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from ..errors import CaptureMissing, ConfigurationError
from .protocols.base import Answer, End, Event, Failure, Message, Protocol
from .protocols.json_messages import Condition, JsonTemplate, check_path, get_path

__all__ = ["RESERVED_NAMES", "SessionProtocol", "parse_capture", "session_protocol"]

RESERVED_NAMES = frozenset({"prompt", "token"})
"""Names a capture may not take: the template fields wslocust fills itself."""

_NAME = re.compile(r"[A-Za-z_]\w*")


def parse_capture(spec: str, option: str = "--capture") -> tuple[str, str]:
    """Read ``NAME=PATH`` (``session=session_id``): a template field name and a dotted JSON path.

    Raises:
        ConfigurationError: no ``=``, a name that is not a template field name (letters, digits,
            ``_``) or is reserved (``prompt``, ``token``), or a bad path.
    """
    name, equals, path = spec.partition("=")
    name, path = name.strip(), path.strip()
    if not equals or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{option} {spec!r}: expected NAME=PATH, NAME a template field name (letters, digits, _), "
            "e.g. session=session_id"
        )
    if name in RESERVED_NAMES:
        raise ConfigurationError(f"{option} {spec!r}: {{{name}}} is wslocust's own; name the value otherwise")
    check_path(path, f"{option} {name}: path")
    return name, path


class SessionProtocol(Protocol):
    """A protocol with a session around it (see the module).

    Args:
        inner: the protocol that frames prompts and replies.
        on_connect: message templates to send once the connection is open (``{token}`` and captured
            values may be used; a JSON template is filled as ``--json-template`` is, other text as is
            but for its ``{NAME}`` fields).
        await_on_connect: the condition a server message must meet before the first prompt, or None.
        captures: template field name → dotted path of its value in the server's JSON messages.
        values: called at each use for values given from outside (``{"token": ...}``); may raise a
            :class:`~wslocust.errors.WsLocustError` (no valid token).

    Raises:
        ConfigurationError: a capture name is reserved, or an on-connect template is not valid.
    """

    def __init__(
        self,
        inner: Protocol,
        *,
        on_connect: Sequence[str] = (),
        await_on_connect: str | None = None,
        captures: Mapping[str, str] | None = None,
        values: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        self.inner = inner
        self.captures = dict(captures or {})
        for name in self.captures:
            if name in RESERVED_NAMES:
                raise ConfigurationError(f"capture {name!r}: {{{name}}} is wslocust's own; name it otherwise")
        # The template fields this layer fills: the captured values, and the token when one is given.
        self._own = {*self.captures, *(("token",) if values is not None else ())}
        self.on_connect = tuple(_OnConnect(text) for text in on_connect)
        for message in self.on_connect:
            for name in message.fields:
                if name not in self._own:
                    raise ConfigurationError(
                        f"--on-connect {message.text!r} uses {{{name}}}: neither a --capture name nor "
                        "{token} (with --token-command)"
                    )
        self.await_on_connect = Condition(await_on_connect) if await_on_connect else None
        self._values = values
        self._documents = inner.documents
        self.captured: dict[str, Any] = {}
        """The values captured on the current connection, by name."""
        # The inner protocol's class settings, read by the client and the messages: an instance's own
        # values (the class attributes are ClassVars of Protocol).
        own = vars(self)
        own["subprotocol"] = inner.subprotocol
        own["template_option"] = inner.template_option
        own["manages_connection"] = bool(
            inner.manages_connection or self.on_connect or self.await_on_connect or self.captures
        )
        self.quiet_ms = inner.quiet_ms
        self.audio_rate = inner.audio_rate
        self.keepalive_ms, self.keepalive_message = inner.keepalive_ms, inner.keepalive_message
        self.audio_only = inner.audio_only
        self._session_fields = [name for name in inner.record_fields() if name in self._own]
        self._stage_sent = False  # the on-connect messages went out on this connection
        self._awaiting = False
        self._in_reply = False  # a prompt went out and its reply has not ended

    @property
    def opening_name(self) -> str:
        """What the opening is called in messages (the inner protocol's name)."""
        return self.inner.name or "session"

    def resource(self, url: str) -> str:
        return self.inner.resource(url)

    def record_fields(self) -> Sequence[str]:
        return [name for name in self.inner.record_fields() if name not in self._own]

    def session_fields(self) -> Sequence[str]:
        """The template fields this layer fills (captured values, the token), in the prompt's template."""
        return self._session_fields

    def check_environment(self) -> None:
        self.inner.check_environment()

    def opening_hint(self) -> str:
        if not self.inner.ready:
            return self.inner.opening_hint()
        if self._awaiting and self.await_on_connect is not None:
            return f"no message matching --await-on-connect {self.await_on_connect.spec!r}"
        return ""

    def open(self) -> Sequence[Message]:
        self.captured = {}
        self._in_reply = False
        self._stage_sent = False
        self._awaiting = self.await_on_connect is not None
        opening = self.inner.open()  # resets the inner protocol's per-connection state
        sent = list(opening) if self.inner.manages_connection else []
        if self.inner.ready:
            sent += [answer.message for answer in self._send_on_connect()]
        return sent

    @property
    def ready(self) -> bool:
        return self.inner.ready and self._stage_sent and not self._awaiting

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        if self._session_fields:
            record = {**record, **self._fill(self._session_fields)}
        messages = self.inner.request(prompt, record)
        self._in_reply = True
        return messages

    # An audio turn is the inner protocol's, as a prompt is.
    def audio_start(self, record: Mapping[str, Any]) -> Sequence[Message]:
        if self._session_fields:
            record = {**record, **self._fill(self._session_fields)}
        messages = self.inner.audio_start(record)
        self._in_reply = True
        return messages

    def audio_frames(self, frames: Sequence[bytes]) -> Sequence[Message]:
        return self.inner.audio_frames(frames)

    def audio_frames_key(self) -> Hashable | None:
        return self.inner.audio_frames_key()

    def audio_end(self) -> Sequence[Message]:
        return self.inner.audio_end()

    def audio_sent(self) -> None:
        self.inner.audio_sent()

    def closing(self) -> Sequence[Message]:
        return self.inner.closing()

    def feed(self, message: Message) -> Sequence[Event]:
        if self.captures or self._awaiting:
            for document in self._documents(message):
                for name, path in self.captures.items():
                    value = get_path(document, path)
                    if value is not None:
                        self.captured[name] = value
                if self._awaiting and self.inner.ready and self._stage_sent:
                    assert self.await_on_connect is not None
                    if self.await_on_connect(document):
                        self._awaiting = False
                        return self._answers_of(message)
        if not (self._in_reply or self.inner.manages_connection):
            # Between replies, a protocol that does not manage its connection never saw messages
            # (they are dropped unread): a server's non-JSON push must not break it now.
            return ()
        opening = not self.inner.ready
        events = self.inner.feed(message)
        if any(type(event) in (End, Failure) for event in events):
            self._in_reply = False
        if opening and self.inner.ready:  # the inner protocol's opening just ended: ours goes now
            return [*events, *self._send_on_connect()]
        if self._awaiting:  # no reply is awaited before the welcome: only the inner answers count
            return [event for event in events if type(event) is Answer]
        return events

    def _answers_of(self, message: Message) -> list[Event]:
        """The awaited message: only the answers of a protocol that manages its connection count."""
        if not self.inner.manages_connection:
            return []
        return [event for event in self.inner.feed(message) if type(event) is Answer]

    def _send_on_connect(self) -> list[Answer]:
        self._stage_sent = True
        return [Answer(template.render(self._fill)) for template in self.on_connect]

    def _fill(self, names: Sequence[str]) -> dict[str, Any]:
        """The values of ``names`` (captured or given from outside) for a template.

        Raises:
            CaptureMissing: a captured value this connection has not given yet.
        """
        filled: dict[str, Any] = {}
        given: Mapping[str, str] | None = None
        for name in names:
            if name in self.captured:
                filled[name] = self.captured[name]
            elif name in self.captures:
                option = self.inner.template_option or "the template"
                raise CaptureMissing(
                    f"{option} uses {{{name}}}, which no message of this connection has given yet "
                    f"(--capture {name}={self.captures[name]})"
                )
            else:
                if given is None:
                    given = self._values() if self._values is not None else {}
                if name not in given:
                    raise ConfigurationError(f"the template uses {{{name}}}, which nothing gives")
                filled[name] = given[name]
        return filled


class _OnConnect:
    """One ``--on-connect`` message: a JSON template (filled as ``--json-template`` is), else text
    whose ``{NAME}`` fields are filled."""

    _FIELD = re.compile(r"\{(\w+)\}")

    def __init__(self, text: str) -> None:
        self.text = text
        self.template: JsonTemplate | None = None
        if text.lstrip()[:1] in ("{", "["):
            try:
                self.template = JsonTemplate(text)
            except ConfigurationError:
                raise ConfigurationError(f"--on-connect {text!r} looks like JSON but is not") from None
            self.fields: Sequence[str] = self.template.fields
        else:
            self.fields = sorted(set(self._FIELD.findall(text)))

    def render(self, fill: Callable[[Sequence[str]], Mapping[str, Any]]) -> str:
        values = fill(self.fields) if self.fields else {}
        if self.template is not None:
            return self.template.render("", values)
        return self._FIELD.sub(lambda match: _text(values[match.group(1)]), self.text)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def session_protocol(
    inner: Protocol,
    *,
    on_connect: Sequence[str] = (),
    await_on_connect: str | None = None,
    captures: Mapping[str, str] | None = None,
    values: Callable[[], Mapping[str, str]] | None = None,
) -> Protocol:
    """``inner`` with a session around it, or ``inner`` itself when no session feature is asked for
    (its lean path kept); see :class:`SessionProtocol` for the arguments."""
    if values is not None and not (on_connect or "token" in inner.record_fields()):
        values = None  # the token goes only into the handshake (${TOKEN}): no template reads it
    if not (on_connect or await_on_connect or captures or values):
        return inner
    return SessionProtocol(
        inner, on_connect=on_connect, await_on_connect=await_on_connect, captures=captures, values=values
    )
