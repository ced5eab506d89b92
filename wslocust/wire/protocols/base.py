"""The protocol interface: how a prompt becomes messages, and how reply messages become events.

A protocol is socket-free. The client gives it whole WebSocket messages (``str`` for text frames,
``bytes`` for binary ones) and it answers with events:

- :class:`Chunk`: a piece of the reply's text arrived;
- :class:`End`: the reply is complete;
- :class:`Failure`: the bot says the reply failed (the round trip is a failure);
- :class:`Answer`: a message to send back at once (a protocol's own heartbeat answer);
- voice (an audio turn, :mod:`wslocust.wire.voice`): :class:`AudioOut` (a piece of the answer's
  audio), :class:`Transcript` (a transcript arrived: of the answer, or of the user's speech for
  speech-to-text), :class:`SpeechEnded` (the server detected the end of the user's speech).

A message that is not part of the current reply (a server push, a heartbeat, another response's
event) yields no event. A message the protocol cannot read raises
:class:`~wslocust.errors.ProtocolError`.

A protocol that holds a dialogue of its own with the server beyond prompts and replies (Socket.IO:
an opening, heartbeats, a namespace) sets ``manages_connection``; it then also sees the messages
that arrive between replies and during the opening, and may use the hooks whose defaults change
nothing: :meth:`Protocol.resource` (the URL's path and query), :meth:`Protocol.open` and
:attr:`Protocol.ready` (messages right after the handshake, and when the first prompt may go),
:attr:`Protocol.quiet_ms` (a reply ended by a quiet period). Its ``feed`` may raise
:class:`~wslocust.errors.ConnectionClosed` (the server ended the session) or
:class:`~wslocust.errors.SessionRefused` (the server refused it).

To speak a bot's own dialect, subclass :class:`Protocol`, set ``name`` and implement ``request`` and
``feed``; a subclass with a ``name`` is registered and selectable with ``--protocol NAME``.
"""

from __future__ import annotations

import argparse
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, ClassVar

from ...errors import ConfigurationError

__all__ = [
    "END",
    "PROTOCOLS",
    "Answer",
    "AudioOut",
    "Chunk",
    "End",
    "Event",
    "Failure",
    "Message",
    "Protocol",
    "SpeechEnded",
    "Transcript",
    "chunk_reader",
    "get_protocol",
    "reply_reader",
]

Message = str | bytes
"""One WebSocket message: ``str`` for a text frame, ``bytes`` for a binary frame."""


class Chunk:
    """A piece of the reply's text."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"Chunk({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chunk) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


class End:
    """The reply is complete.

    Attributes:
        meta: fields the final message carried beside the text (for example the bot's intent), for
            the metrics to read; empty when the protocol has none.
    """

    __slots__ = ("meta",)

    def __init__(self, meta: Mapping[str, Any] | None = None) -> None:
        self.meta: Mapping[str, Any] = meta if meta is not None else {}

    def __repr__(self) -> str:
        return f"End({dict(self.meta)!r})" if self.meta else "End()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, End) and dict(other.meta) == dict(self.meta)

    __hash__ = None  # type: ignore[assignment]


class Failure:
    """The bot reported that the reply failed; ``message`` says why, in the bot's words."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Failure({self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Failure) and other.message == self.message

    __hash__ = None  # type: ignore[assignment]


class Answer:
    """A message to send back to the server at once (a heartbeat's answer, a step of an opening);
    never part of a reply."""

    __slots__ = ("message",)

    def __init__(self, message: Message) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"Answer({self.message!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Answer) and other.message == self.message

    __hash__ = None  # type: ignore[assignment]


class AudioOut:
    """A piece of the answer's audio arrived: ``seconds`` of it (its length when played)."""

    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"AudioOut({self.seconds!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AudioOut) and other.seconds == self.seconds

    __hash__ = None  # type: ignore[assignment]


class Transcript:
    """A transcript arrived; ``final`` when it is a final result (speech-to-text), not an interim
    one. Only its time is recorded: text that makes the reply comes as :class:`Chunk` events."""

    __slots__ = ("final", "text")

    def __init__(self, text: str, *, final: bool = False) -> None:
        self.text = text
        self.final = final

    def __repr__(self) -> str:
        return f"Transcript({self.text!r}, final={self.final!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transcript) and (other.text, other.final) == (self.text, self.final)

    __hash__ = None  # type: ignore[assignment]


class SpeechEnded:
    """The server detected the end of the user's speech (voice activity detection)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "SpeechEnded()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SpeechEnded)

    __hash__ = None  # type: ignore[assignment]


Event = Chunk | End | Failure | Answer | AudioOut | Transcript | SpeechEnded

END = End()
"""The shared :class:`End` of protocols whose end carries no fields."""

PROTOCOLS: dict[str, type[Protocol]] = {}
"""Every protocol class with a ``name``, built in or defined in a locustfile, by name."""


class Protocol(ABC):
    """How a chatbot's prompts and replies are framed.

    One instance serves one client, one connection at a time: it may keep state across the messages
    of a reply (such as the id of the response being awaited), :meth:`request` starts a new reply,
    and :meth:`open` a new connection.
    """

    name: ClassVar[str] = ""
    """The value of ``--protocol`` that selects this class; a subclass that sets it is registered."""

    subprotocol: ClassVar[str | None] = None
    """A WebSocket subprotocol to offer when the user sets none (``Sec-WebSocket-Protocol``)."""

    manages_connection: ClassVar[bool] = False
    """True when the protocol holds a dialogue of its own with the server: it is then fed every
    message (between replies and during the opening too), and its :class:`Answer` events are sent.
    False (the default) keeps the lean path: messages between replies are dropped unread."""

    quiet_ms: float | None = None
    """When set, a reply also ends once no reply event came for this long (ms); its time is then its
    last chunk's, not the end of the quiet period. Read only with ``manages_connection``."""

    keepalive_ms: float | None = None
    """When set, :attr:`keepalive_message` is sent every this many ms while the connection is idle
    (between turns: :mod:`wslocust.keepalive`); None: never."""

    keepalive_message: Message = ""
    """The message keeping an idle connection open (see :attr:`keepalive_ms`)."""

    audio_only: bool = False
    """True when the protocol sends audio turns only (:meth:`request` refuses a text prompt): a text
    prompt to ask is refused at start-up."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            PROTOCOLS[cls.name] = cls

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        """Build the protocol from parsed command-line options (override to read your own)."""
        return cls()

    def resource(self, url: str) -> str:
        """The URL the handshake requests, given the user's (override to set a path or a query)."""
        return url

    template_option: ClassVar[str | None] = None
    """The option holding the template a prompt's message is made from (``--json-template``), for
    the messages about its fields."""

    def record_fields(self) -> Sequence[str]:
        """The dataset record's fields a prompt's message reads (its template's, but ``prompt``): a
        dataset none of whose records has one is refused at start-up; a prompt whose record lacks
        one is a failure, not sent."""
        return ()

    def check_environment(self) -> None:
        """Check, at start-up, the settings read from this process's environment (``${VAR}``): a
        worker reads its own environment when its users connect (override when a setting does).

        Raises:
            ConfigurationError: a setting names a variable that is not set (names the option).
        """
        return None

    def opening_hint(self) -> str:
        """What the opening still awaits, said when it times out (override with :attr:`ready`)."""
        return ""

    def open(self) -> Sequence[Message]:
        """A new connection's handshake is done: reset per-connection state; return the messages to
        send at once. Called for every connection; its messages are read only with
        ``manages_connection``."""
        return ()

    @property
    def ready(self) -> bool:
        """True once the connection's opening is over and prompts may be sent (the client waits
        for it, within the connect timeout, after :meth:`open`)."""
        return True

    # Several prompts in flight on one connection (--in-flight, wslocust.wire.multiplex): a protocol
    # whose replies name the prompt they answer sets `correlates` and overrides the two methods below.
    @property
    def correlates(self) -> bool:
        """True when each reply message names the prompt it answers (a request id), so several
        prompts may be in flight on one connection (``--in-flight``); False (the default) refuses it."""
        return False

    def request_with_id(self, prompt: str, record: Mapping[str, Any], request_id: str) -> Sequence[Message]:
        """The messages sending ``prompt`` tagged with ``request_id`` (read only when :attr:`correlates`)."""
        return self.request(prompt, record)

    def feed_with_id(self, message: Message) -> tuple[str | None, Sequence[Event]]:
        """Read one received message: the request id it answers (None: none) and its events for that
        prompt's reply (read only when :attr:`correlates`).

        Raises:
            ProtocolError: the message cannot be read in this protocol.
        """
        return None, self.feed(message)

    def documents(self, message: Message) -> Sequence[Any]:
        """The JSON documents a received message holds, for ``--capture`` paths and
        ``--await-on-connect`` conditions: a text message that is a JSON object or array, else none
        (override where the JSON is inside a framing, as Socket.IO's event payloads are)."""
        if isinstance(message, str) and message[:1] in ("{", "["):
            try:
                return (json.loads(message),)
            except ValueError:
                return ()
        return ()

    # Audio turns (wslocust.wire.voice): the user speaks an utterance as a stream of frames, sent at
    # real-time pace by the I/O; the answer is read by `feed` as for a prompt. The defaults are the
    # generic case: each frame is one binary message of raw PCM, with nothing before or after it.
    audio_rate: int | None = None
    """The sample rate (Hz) of the PCM16 mono audio the protocol takes; the utterance is resampled to
    it. None: any rate (the utterance is sent at its own)."""

    def audio_start(self, record: Mapping[str, Any]) -> Sequence[Message]:
        """Start an audio turn: reset the reply state as :meth:`request` does; return the messages
        to send before the first frame."""
        return ()

    def audio_frames(self, frames: Sequence[bytes]) -> Sequence[Message]:
        """The messages carrying an utterance's frames (PCM16 mono little-endian at
        :attr:`audio_rate`, each ``--audio-frame-ms`` long), one message a frame. Called once a
        turn: build every message here, so the I/O only frames and sends them on schedule."""
        return frames

    def audio_frames_key(self) -> Hashable | None:
        """A key naming what :meth:`audio_frames` makes of frames when nothing but the frames changes
        its messages (no sequence numbers, nothing of the connection): the I/O then builds each
        utterance's messages once a process, shared by every user and turn of an equal key. None
        (any protocol that overrides :meth:`audio_frames` and not this): built every turn."""
        return "raw" if type(self).audio_frames is Protocol.audio_frames else None

    def audio_end(self) -> Sequence[Message]:
        """The messages to send after the utterance's last frame (a commit, a close-stream)."""
        return ()

    def audio_sent(self) -> None:
        """The utterance's last frame and :meth:`audio_end`'s messages went out (the I/O says so;
        the messages are built before the first frame goes)."""
        return None

    def closing(self) -> Sequence[Message]:
        """The messages to send before the client closes the connection itself (Twilio's
        ``stop``); none by default."""
        return ()

    @abstractmethod
    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        """Start a new reply: return the messages that send ``prompt``.

        Args:
            prompt: the prompt's text.
            record: the whole dataset record, for templates that insert other fields.
        """

    @abstractmethod
    def feed(self, message: Message) -> Sequence[Event]:
        """Read one received message; return the events it means for the current reply.

        Raises:
            ProtocolError: the message cannot be read in this protocol.
        """

    def chunk_text(self, message: Message) -> str | None:
        """The text of a message that :meth:`feed` would read as exactly one :class:`Chunk` (no end,
        no error, nothing else), else None: the connection then calls :meth:`feed` as usual.

        The hot path of a streamed reply, once a chunk: no event objects are made for the usual
        message. Override it beside :meth:`feed` (a subclass overriding :meth:`feed` alone keeps its
        own: :func:`chunk_reader` takes this only from the class of the ``feed`` it mirrors, or one
        below it). It must not raise where :meth:`feed` would not, and may return None whenever in
        doubt. The default says nothing.
        """
        return None

    def reply_text(self, message: Message) -> str | None:
        """The text of a message that :meth:`feed` would read as a whole reply: exactly one
        :class:`Chunk` of that text, then :data:`END` (nothing else), else None: the connection then
        calls :meth:`feed` as usual.

        The hot path of a reply that is one message (``plain``'s): the reply is completed without
        event objects. The same rules as :meth:`chunk_text`'s hold (:func:`reply_reader` takes it only
        from the class of the ``feed`` it mirrors, or one below it). The default says nothing.
        """
        return None


def chunk_reader(protocol: Protocol) -> Callable[[Message], str | None] | None:
    """``protocol.chunk_text`` when its class gives one that mirrors the ``feed`` it uses, else None."""
    return _mirror(protocol, "chunk_text")


def reply_reader(protocol: Protocol) -> Callable[[Message], str | None] | None:
    """``protocol.reply_text`` when its class gives one that mirrors the ``feed`` it uses, else None."""
    return _mirror(protocol, "reply_text")


def _mirror(protocol: Protocol, hook: str) -> Callable[[Message], str | None] | None:
    """The protocol's ``hook`` (a shortcut of ``feed``'s) when the class that gives it is the class of
    the ``feed`` the protocol uses, or one below it, and not the default; else None."""
    owner = type(protocol)
    hook_owner = next(klass for klass in owner.__mro__ if hook in vars(klass))
    feed_owner = next(klass for klass in owner.__mro__ if "feed" in vars(klass))
    if hook_owner is Protocol or not issubclass(hook_owner, feed_owner) or "feed" in vars(protocol):
        return None
    shortcut: Callable[[Message], str | None] = getattr(protocol, hook)
    return shortcut


def get_protocol(name: str) -> type[Protocol]:
    """Return the protocol class registered as ``name``.

    Raises:
        ConfigurationError: no protocol has that name (the message lists those that do).
    """
    try:
        return PROTOCOLS[name]
    except KeyError:
        known = ", ".join(sorted(PROTOCOLS))
        raise ConfigurationError(f"unknown protocol {name!r}; choose one of: {known}") from None
