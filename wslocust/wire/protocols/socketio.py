"""``socketio``: Socket.IO v4 over Engine.IO v4 (WebSocket transport), and the ``rasa`` preset.

The handshake requests ``/socket.io/?EIO=4&transport=websocket`` (``--socketio-path`` changes the
path; the URL's own query is kept). Then the opening: the server's Engine.IO open packet
(``0{"sid", "pingInterval", ...}``) is answered with the namespace's connect (``40``, with
``--socketio-auth``), which the server accepts (``40{"sid"}``) or refuses (``44{"message"}``: a
:class:`~wslocust.errors.SessionRefused`); ``rasa`` then emits ``session_request`` and waits for
``session_confirm``. The server's pings (``2``) are answered with pongs (``3``) at once, mid-reply as
well as idle; they are never part of a reply.

A prompt is an emitted event (``--socketio-event``, its payload ``--socketio-template``); the reply
is the ``--socketio-reply-event`` events, whose text is the payload when it is a string, else the
string at ``--socketio-text-path`` in it (``text`` by default). What ends a reply:

- by default, the first reply event (Rasa sends one ``bot_uttered`` per message);
- ``--socketio-end-event NAME``: reply events are chunks until the event ``NAME``;
- ``--socketio-quiet-ms N``: reply events are chunks until none came for N ms (the reply's time is
  its last chunk's);
- ``--socketio-ack``: the prompt asks for an ack (``42<id>[...]``); reply events are chunks until
  the ack (``43<id>[...]``).

A reply event, end event or ack whose payload meets ``--socketio-error`` (a condition as
``--json-error``'s; by default ``error``: the payload has a non-empty ``error`` field) ends the
reply as the bot's error (a :class:`~wslocust.errors.BotError`, its text the field's when the
condition is a bare path).

Binary packets (``45``/``46`` and their attachments) are read whole before they count. A Socket.IO
v2 server (Engine.IO v3: it answers the connect without a sid) is a
:class:`~wslocust.errors.ProtocolError` at connect. A malformed
packet is a :class:`~wslocust.errors.ProtocolError`; the server leaving the namespace (``41``) or
closing the Engine.IO session (``1``) a :class:`~wslocust.errors.ConnectionClosed`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ...errors import ConfigurationError, ConnectionClosed, ProtocolError, SessionRefused
from ...values import flag, milliseconds
from .. import socketio as sio
from ..handshake import expand_env
from .base import Answer, Chunk, End, Event, Failure, Message, Protocol
from .json_messages import Condition, JsonTemplate, check_path, get_path

__all__ = ["RasaProtocol", "SocketIOProtocol"]

_PATH = re.compile(r"/[^\s?#\x00-\x1f\x7f]*")
_NAMESPACE = re.compile(r"/[^\s,?#\x00-\x1f\x7f]*")
_ENGINEIO = ("EIO", "transport")  # the query parameters Engine.IO's handshake sets
_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}")  # as wire.handshake.expand_env reads them
_BARE_PATH = re.compile(r"[^=|!]+")  # a condition that is a path alone: its value is the error's text

# The opening's stages, in order.
_AWAIT_OPEN, _AWAIT_NAMESPACE, _AWAIT_EVENT, _READY = range(4)


def _text_of(value: Any, path: str) -> str:
    """A reply event's text: the payload when it is a string, else the string at ``path`` in it, else
    empty."""
    if isinstance(value, str):
        return value
    text = get_path(value, path)
    return text if isinstance(text, str) else ""


def _event_name(value: Any, option: str, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise ConfigurationError(f"{option} is empty: give an event name")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{option} must be an event name, got {value!r}")
    if value in sio.RESERVED_EVENTS:
        raise ConfigurationError(f"{option} {value!r} is reserved by Socket.IO; give another event name")
    return value


class SocketIOProtocol(Protocol):
    """Socket.IO v4 events over Engine.IO v4 (see the module).

    Args:
        path: the Engine.IO endpoint's path (None: the URL's path, else ``/socket.io/``).
        namespace: the namespace to connect to (``/`` by default).
        auth: the namespace connect's auth payload, a JSON object (a secret: never shown); in its
            text, ``${VAR}`` is read from the environment at each connect.
        event: the event a prompt is emitted as.
        template: the event's payload, a JSON template (see
            :class:`~wslocust.wire.protocols.JsonTemplate`).
        reply_event: the event carrying the reply.
        text_path: where a reply event's payload holds its text, a dotted path (``text``); a
            payload that is a string is the text.
        end_event: the event ending a reply (reply events before it are chunks), or None.
        quiet_ms: end a reply once no reply event came for this long, or None.
        ack: emit the prompt with an ack id; its ack ends the reply.
        error: the condition (see :class:`~wslocust.wire.protocols.Condition`) that marks a reply,
            end event or ack payload as the bot's error (``error``: its ``error`` field is set).
        on_connect: events (name, payload) to emit once the namespace is connected.
        await_event: the event to await (after ``on_connect``) before the first prompt, or None.

    Raises:
        ConfigurationError: a value is wrong (names its option), or more than one end is asked for.
    """

    name = "socketio"
    manages_connection = True

    DEFAULT_PATH = "/socket.io/"
    DEFAULT_EVENT = "user_uttered"
    DEFAULT_REPLY_EVENT = "bot_uttered"
    DEFAULT_TEMPLATE = '{"message": "{prompt}"}'
    DEFAULT_ERROR = "error"
    CONNECTION_VALUES: tuple[str, ...] = ()
    """The template's fields the protocol fills itself, per connection (not the record's)."""
    template_option = "--socketio-template"

    def __init__(
        self,
        *,
        path: str | None = None,
        namespace: str | None = None,
        auth: str | Mapping[str, Any] | None = None,
        event: str | None = None,
        template: str | None = None,
        reply_event: str | None = None,
        text_path: str | None = None,
        end_event: str | None = None,
        quiet_ms: float | str | None = None,
        ack: bool = False,
        error: str | None = None,
        on_connect: Sequence[tuple[str, Any]] = (),
        await_event: str | None = None,
    ) -> None:
        if path is not None and not _PATH.fullmatch(path):
            raise ConfigurationError(f"--socketio-path must be a path starting with /, got {path!r}")
        self.path = path
        namespace = namespace or "/"
        if not _NAMESPACE.fullmatch(namespace):
            raise ConfigurationError(
                f"--socketio-namespace must start with / and hold no comma or space, got {namespace!r}"
            )
        self.namespace = namespace
        self._auth = auth
        # Checked now when this process's environment has its ${VAR}s (check_environment says which
        # it lacks, at start-up); read again at each connect (a worker's environment may lack them).
        self.auth = None if _unset_variables(auth) else _auth(auth)
        self.event = _event_name(self.DEFAULT_EVENT if event is None else event, "--socketio-event")
        try:
            self.template = JsonTemplate(template or self.DEFAULT_TEMPLATE)
        except ConfigurationError as error:
            raise ConfigurationError(f"--socketio-template: {error}") from None
        reply_event = self.DEFAULT_REPLY_EVENT if reply_event is None else reply_event
        self.reply_event = _event_name(reply_event, "--socketio-reply-event")
        self.text_path = check_path(text_path or "text", "--socketio-text-path")
        self.end_event = _event_name(end_event, "--socketio-end-event", required=False)
        for option, name in (("--socketio-reply-event", self.reply_event), ("--socketio-event", self.event)):
            if self.end_event == name:
                raise ConfigurationError(
                    f"--socketio-end-event {name!r} is also the {option}: a reply could never end; "
                    "give the end event its own name"
                )
        given_quiet = quiet_ms is not None and quiet_ms != ""
        self.quiet_ms = milliseconds(quiet_ms, "--socketio-quiet-ms", positive=True) if given_quiet else None
        self.ack = ack
        try:
            self.error = Condition(error or self.DEFAULT_ERROR)
        except ConfigurationError as refused:
            raise ConfigurationError(f"--socketio-error: {refused}") from None
        bare = self.error.spec.strip()
        self._error_path = bare if _BARE_PATH.fullmatch(bare) else None  # the error's text, if any
        ends = [
            name
            for name, given in (
                ("--socketio-end-event", self.end_event),
                ("--socketio-quiet-ms", self.quiet_ms),
                ("--socketio-ack", ack),
            )
            if given
        ]
        if len(ends) > 1:
            raise ConfigurationError(f"{' and '.join(ends)} each end a reply: give one of them")
        self.on_connect = tuple(on_connect)
        self.await_event = await_event
        self._prefix = "42" + ("" if namespace == "/" else namespace + ",")
        self._event_json = json.dumps(self.event, ensure_ascii=False)
        self._stage = _AWAIT_OPEN
        self._ack_id = -1
        self._streamed: list[str] = []  # the texts of the awaited reply's chunks so far
        self._values: dict[str, Any] = {}  # per-connection values the template may use
        self._binary: sio.Packet | None = None  # a binary packet awaiting its attachments
        self._attachments: list[bytes] = []

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        ack = getattr(options, "socketio_ack", None)
        return cls(
            path=getattr(options, "socketio_path", None) or None,
            namespace=getattr(options, "socketio_namespace", None),
            auth=getattr(options, "socketio_auth", None),
            event=getattr(options, "socketio_event", None),
            template=getattr(options, "socketio_template", None),
            reply_event=getattr(options, "socketio_reply_event", None),
            text_path=getattr(options, "socketio_text_path", None),
            end_event=getattr(options, "socketio_end_event", None),
            quiet_ms=getattr(options, "socketio_quiet_ms", None),
            ack=ack is not None and flag(ack, "--socketio-ack"),
            error=getattr(options, "socketio_error", None),
        )

    def resource(self, url: str) -> str:
        parts = urlsplit(url)
        path = self.path or (parts.path if parts.path not in ("", "/") else self.DEFAULT_PATH)
        # The user's own parameters as they are written, then Engine.IO's (which replace theirs).
        kept = [part for part in parts.query.split("&") if part and part.partition("=")[0] not in _ENGINEIO]
        query = "&".join([*kept, "EIO=4", "transport=websocket"])
        return urlunsplit((parts.scheme, parts.netloc, path, query, ""))

    def check_environment(self) -> None:
        _auth(self._auth)

    def open(self) -> Sequence[Message]:
        if isinstance(self._auth, str) and "${" in self._auth:
            self.auth = _auth(self._auth)  # this process's environment (a worker's, say)
        self._stage = _AWAIT_OPEN
        self._ack_id = -1
        self._streamed = []
        self._values = {}
        self._binary = None
        self._attachments = []
        return ()

    @property
    def ready(self) -> bool:
        return self._stage == _READY

    def opening_hint(self) -> str:
        if self._stage == _AWAIT_OPEN:
            return "is it a Socket.IO v4 server? (no Engine.IO open packet)"
        if self._stage == _AWAIT_NAMESPACE:
            return f"the namespace connect of {self.namespace} was not answered"
        return f"no {self.await_event} event" if self._stage == _AWAIT_EVENT else ""

    def record_fields(self) -> Sequence[str]:
        own = ("prompt", *self.CONNECTION_VALUES)
        return [name for name in self.template.fields if name not in own]

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        payload = self.template.render(prompt, {**record, **self._values} if self._values else record)
        self._streamed = []
        if self.ack:
            self._ack_id += 1
            return (f"{self._prefix}{self._ack_id}[{self._event_json},{payload}]",)
        return (f"{self._prefix}[{self._event_json},{payload}]",)

    def documents(self, message: Message) -> Sequence[Any]:
        """The JSON payloads of an event packet of the namespace (what ``--capture`` paths read)."""
        if not isinstance(message, str) or not message.startswith(sio.MESSAGE + "2"):
            return ()
        try:
            packet = sio.decode_packet(message[1:])
        except ProtocolError:
            return ()
        if packet.namespace != self.namespace or packet.type != sio.EVENT:
            return ()
        return tuple(packet.data[1:])

    def feed(self, message: Message) -> Sequence[Event]:
        if isinstance(message, bytes):
            return self._attachment(message)
        kind, data = sio.decode_engineio(message)
        if self._stage == _AWAIT_OPEN:
            return self._engineio_open(kind, data)
        if kind == sio.MESSAGE:
            packet = sio.decode_packet(data)
            if packet.attachments:
                self._binary, self._attachments = packet, []
                return ()
            return self._packet(packet)
        if kind == sio.PING:
            return (Answer(sio.PONG + data),)
        if kind == sio.CLOSE:
            raise ConnectionClosed(None, "(the server closed the Engine.IO session)")
        if kind == sio.OPEN:
            raise ProtocolError("a second Engine.IO open packet on one connection")
        return ()  # a pong, an upgrade or a noop

    def _engineio_open(self, kind: str, data: str) -> Sequence[Event]:
        """The first packet: Engine.IO v4's open; answered with the namespace's connect."""
        if kind != sio.OPEN:
            raise ProtocolError(
                f"expected the Engine.IO v4 open packet (0{{...}}) first, got {(kind + data)[:80]!r}: "
                "is the server Socket.IO v3 or v4?"
            )
        try:
            handshake = json.loads(data)
        except ValueError:
            handshake = None
        if not (
            isinstance(handshake, dict)
            and isinstance(handshake.get("sid"), str)
            and isinstance(handshake.get("pingInterval"), int)
            and isinstance(handshake.get("pingTimeout"), int)
        ):
            raise ProtocolError(
                f"Engine.IO open packet without sid, pingInterval and pingTimeout: {data[:80]!r}"
            )
        self._stage = _AWAIT_NAMESPACE
        return (Answer(sio.encode_connect(self.namespace, self.auth)),)

    def _attachment(self, data: bytes) -> Sequence[Event]:
        """A binary message: an attachment of the binary packet before it (else not ours)."""
        packet = self._binary
        if packet is None:
            return ()
        self._attachments.append(data)
        if len(self._attachments) < packet.attachments:
            return ()
        self._binary = None
        filled = sio.fill_placeholders(packet.data, self._attachments)
        self._attachments = []
        return self._packet(sio.Packet(packet.type, packet.namespace, filled, packet.id))

    def _packet(self, packet: sio.Packet) -> Sequence[Event]:
        if packet.namespace != self.namespace:
            return ()
        kind = packet.type
        if kind in (sio.EVENT, sio.BINARY_EVENT):
            events = self._event(packet.data[0], packet.data[1:])
            if packet.id is not None:  # the server asks for an ack: give an empty one
                return (Answer(sio.encode_ack(packet.id, namespace=self.namespace)), *events)
            return events
        if kind in (sio.ACK, sio.BINARY_ACK):
            if self.ack and packet.id == self._ack_id and self._stage == _READY:
                args = packet.data
                return self._last(args[0] if args else None)
            return ()
        if kind == sio.CONNECT:
            if self._stage != _AWAIT_NAMESPACE:
                return ()
            if not isinstance(packet.data, dict) or "sid" not in packet.data:
                # Socket.IO v2 (Engine.IO v3) connects the default namespace unasked, with no sid.
                raise ProtocolError(
                    "the namespace connect was answered without a sid: a Socket.IO v2 server? "
                    "(wslocust speaks Socket.IO v3 and v4, Engine.IO v4)"
                )
            return self._connected()
        if kind == sio.CONNECT_ERROR:
            data = packet.data
            reason = data.get("message", json.dumps(data)) if isinstance(data, dict) else data
            raise SessionRefused(f"Socket.IO namespace {self.namespace} refused: {reason}")
        raise ConnectionClosed(None, f"(the server disconnected the Socket.IO namespace {self.namespace})")

    def _connected(self) -> Sequence[Event]:
        """The namespace is connected: emit the on-connect events; await the awaited one, if any."""
        self._stage = _AWAIT_EVENT if self.await_event else _READY
        return tuple(
            Answer(sio.encode_event(name, payload, namespace=self.namespace))
            for name, payload in self.on_connect
        )

    def _event(self, name: str, args: list[Any]) -> Sequence[Event]:
        if self._stage != _READY:
            if self._stage == _AWAIT_EVENT and name == self.await_event:
                self._awaited(args)
                self._stage = _READY
            return ()
        payload = args[0] if args else None
        if name == self.reply_event:
            if self.error(payload):
                return self._failure(payload)
            if self.end_event or self.ack or self.quiet_ms:
                text = _text_of(payload, self.text_path)
                if text or self.quiet_ms:
                    self._streamed.append(text)
                    return (Chunk(text),)
                return ()
            return self._last(payload)
        if name == self.end_event:
            return self._last(payload)
        return ()

    def _awaited(self, args: list[Any]) -> None:
        """The awaited event came (override to keep what it carries)."""

    def _last(self, payload: Any) -> Sequence[Event]:
        """The reply's last event: its end (the payload's fields as meta), after its text as the
        reply's last chunk, unless that text is the whole answer streamed before it again (some
        bots repeat it in the ack or end event: counting it would double the reply); or the bot's
        error."""
        if self.error(payload):
            return self._failure(payload)
        end = End(payload if isinstance(payload, dict) else None)
        text = _text_of(payload, self.text_path)
        if not text or (self._streamed and text == "".join(self._streamed)):
            return (end,)
        return (Chunk(text), end)

    def _failure(self, payload: Any) -> Sequence[Event]:
        """The reply ends as the bot's error: its text the error field's, else the payload's JSON."""
        detail = get_path(payload, self._error_path) if self._error_path else None
        if isinstance(detail, str) and detail:
            return (Failure(detail),)
        return (Failure(json.dumps(payload, ensure_ascii=False)[:200]),)


def _auth(auth: str | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The namespace connect's auth payload, a JSON object, its ``${VAR}``s read from the environment
    (its value is never shown: a secret).

    Raises:
        ConfigurationError: it is not a JSON object, or names a variable that is not set.
    """
    if auth is None or auth == "":
        return None
    if isinstance(auth, str):
        try:
            auth = json.loads(expand_env(auth, "--socketio-auth", escape=_json_string_text))
        except ConfigurationError as error:
            message = str(error)
            raise ConfigurationError(
                message if message.startswith("--socketio-auth") else f"--socketio-auth: {message}"
            ) from None
        except ValueError:
            raise ConfigurationError("--socketio-auth is not JSON (the value is not shown)") from None
    if not isinstance(auth, Mapping):
        raise ConfigurationError("--socketio-auth must be a JSON object (the value is not shown)")
    return dict(auth)


def _json_string_text(value: str) -> str:
    """``value`` escaped as the inside of a JSON string (a ``"`` or ``\\`` in a token ends no string)."""
    return json.dumps(value)[1:-1]


def _unset_variables(auth: str | Mapping[str, Any] | None) -> list[str]:
    """The ``${VAR}``s of the auth payload's text that this process's environment lacks."""
    if not isinstance(auth, str):
        return []
    return [name for name in _ENV_REFERENCE.findall(auth) if name not in os.environ]


class RasaProtocol(SocketIOProtocol):
    """Rasa's ``socketio`` channel: on connect it emits ``session_request`` with a session id it
    generates and waits for ``session_confirm``; prompts go as ``user_uttered``
    ``{"message": ..., "session_id": <id>}``, replies come as ``bot_uttered``. Rasa's session
    persistence may be on (the id names the conversation) or off (the socket does).

    Takes :class:`SocketIOProtocol`'s arguments; its template may use ``{session_id}``.
    """

    name = "rasa"

    DEFAULT_TEMPLATE = '{"message": "{prompt}", "session_id": "{session_id}"}'
    CONNECTION_VALUES = ("session_id",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(await_event="session_confirm", **kwargs)

    def open(self) -> Sequence[Message]:
        sent = super().open()
        session_id = uuid.uuid4().hex
        self._values = {"session_id": session_id}
        self.on_connect = (("session_request", {"session_id": session_id}),)
        return sent

    def _awaited(self, args: list[Any]) -> None:
        # Rasa confirms with the session id it uses (ours, echoed); keep it should it differ.
        confirmed = args[0] if args else None
        if isinstance(confirmed, dict):
            confirmed = confirmed.get("session_id")
        if isinstance(confirmed, str) and confirmed:
            self._values["session_id"] = confirmed
