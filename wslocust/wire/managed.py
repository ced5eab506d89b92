"""The policy of a connection whose protocol holds a dialogue of its own (``manages_connection``).

Beside what :class:`~wslocust.wire.connection.Connection` does, a :class:`ManagedConnection`:

- feeds the protocol every message, between replies and during the opening too, and sends the
  :class:`~wslocust.wire.protocols.Answer` events it returns at once (:class:`Send`), mid-reply as
  well as idle (Engine.IO's pongs);
- runs the opening: :meth:`open` gives what to send right after the handshake, :attr:`ready` says
  when prompts may go, and :attr:`error` why the opening (or the idle connection) failed;
- ends a reply after a quiet period when the protocol sets ``quiet_ms``: :attr:`quiet_until_ms` is
  when, and :meth:`end_quietly` completes the reply at its last chunk's time.

Protocols that do not set ``manages_connection`` keep the plain :class:`Connection` and its fast
path (:func:`connection_for` picks one).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import BotError, ConnectError, ConnectionClosed, ProtocolError, WsLocustError
from .connection import Action, Close, Connection, Dropped, Framer, Pong, Send
from .deflate import DeflateParameters
from .frames import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, FrameReader, parse_close
from .protocols.base import Answer, Chunk, End, Event, Failure, Message, Protocol
from .reply import Reply
from .traffic import count_control, count_sent_close
from .voice import note_voice

__all__ = ["ManagedConnection", "connection_for"]


def connection_for(
    protocol: Protocol,
    reader: FrameReader | None = None,
    *,
    deflate: DeflateParameters | None = None,
    framer: Framer | None = None,
) -> Connection:
    """A :class:`ManagedConnection` for a protocol that ``manages_connection``, else a
    :class:`~wslocust.wire.connection.Connection` (compressed as ``deflate`` agreed, if given; its
    uncompressed messages framed by ``framer``, if given).

    A protocol that does not manage its connection is opened here (:meth:`Protocol.open` resets its
    per-connection state; what it would send is not read); a managed one is opened by
    :meth:`ManagedConnection.open`, which sends it."""
    if protocol.manages_connection:
        return ManagedConnection(protocol, reader, deflate=deflate, framer=framer)
    protocol.open()
    return Connection(protocol, reader, deflate=deflate, framer=framer)


class ManagedConnection(Connection):
    """A connection whose protocol sees every message and may answer it (see the module).

    Args:
        protocol: the dialect (one that sets ``manages_connection``).
        reader: the frame reader (a default one when None).
        deflate: the permessage-deflate parameters agreed, if any (its messages are sent compressed).
        framer: how its uncompressed messages become masked frames (see :class:`Connection`).
    """

    __slots__ = ("error", "quiet_until_ms")

    def __init__(
        self,
        protocol: Protocol,
        reader: FrameReader | None = None,
        *,
        deflate: DeflateParameters | None = None,
        framer: Framer | None = None,
    ) -> None:
        super().__init__(protocol, reader, deflate=deflate, framer=framer)
        self.error: WsLocustError | None = None
        """Why the connection failed while no reply was awaited (its opening, or idle); None."""
        self.quiet_until_ms: float | None = None
        """When the awaited reply ends for want of reply events (ms since its prompt); None when
        no quiet period runs (the protocol sets no ``quiet_ms``, or no chunk came yet)."""

    def open(self) -> bytes:
        """The handshake is done: return the protocol's opening frames, ready to send (maybe none)."""
        messages = self.protocol.open()
        opening = b"".join(map(self._frame, messages))
        self.traffic.messages_sent += len(messages)  # traffic: the opening's messages
        self.traffic.bytes_sent += len(opening)
        return opening

    @property
    def ready(self) -> bool:
        """True once the protocol's opening is over (the first prompt may go)."""
        return self.protocol.ready

    def start(self, reply: Reply) -> bytes:
        """Start awaiting ``reply`` (see :meth:`Connection.start`), no quiet period running yet."""
        self.quiet_until_ms = None
        return super().start(reply)

    def expect(self, reply: Reply) -> None:
        """Start awaiting ``reply`` without a prompt (see :meth:`Connection.expect`), no quiet
        period running yet."""
        self.quiet_until_ms = None
        super().expect(reply)

    def end_quietly(self) -> None:
        """The quiet period ran out: the awaited reply is complete at its last chunk's (or, in an
        audio turn, its last audio's) time."""
        reply = self.reply
        if reply is None:
            return
        voice = reply.voice
        last = [times[-1] for times in (reply.chunk_times_ms, voice.audio_times_ms if voice else ()) if times]
        if last:
            self.quiet_until_ms = None
            self._complete(reply, max(last))

    def receive(self, data: bytes, time_ms: float) -> list[Action] | None:
        """Read a received block, as :meth:`Connection.receive` does, feeding the protocol every
        message and sending its answers; see the module for what is added."""
        broken: ProtocolError | None = None
        try:
            frames = self._read_frames(data)
        except ProtocolError as error:
            # The frames before the broken one count: a reply may have ended, a ping wait.
            frames = self.reader.read_before_error
            broken = error
        traffic = self.traffic  # traffic: counted a block, as Connection's
        traffic.bytes_received += len(data)
        traffic.frames_received += len(frames)
        actions: list[Action] = []
        for opcode, payload in frames:
            if opcode <= OP_BINARY:
                opening = not self.protocol.ready  # its messages are no pushes
                try:
                    message: Message = payload.decode() if opcode == OP_TEXT else payload
                    events = self._feed(message)
                except UnicodeDecodeError:
                    not_utf8 = ProtocolError("text message is not valid UTF-8", close_code=1007)
                    return self._fail_connection(not_utf8, time_ms, actions)
                except ProtocolError as error:
                    return self._fail_connection(error, time_ms, actions)
                except (ConnectionClosed, ConnectError) as error:  # the server ended or refused the session
                    return self._end(error, time_ms, actions)
                if self._fold(events, len(payload), time_ms, actions) and not opening:
                    actions.append(Dropped(opcode, len(payload)))
                    traffic.pushes += 1
            elif opcode == OP_PING:
                actions.append(Pong(payload))
                count_control(traffic, len(payload))
            elif opcode == OP_CLOSE:
                traffic.control_received += 1
                try:
                    code, reason = parse_close(payload)
                except ProtocolError as error:
                    return self._fail_connection(error, time_ms, actions)
                self.received_close = 1005 if code is None else code  # counted by the client, as Connection's
                count_sent_close(traffic)
                return self._end(ConnectionClosed(code, f"({reason})" if reason else ""), time_ms, actions)
            else:  # an unsolicited pong
                traffic.control_received += 1
        if broken is not None:
            return self._fail_connection(broken, time_ms, actions)
        return actions or None

    def _fold(self, events: Sequence[Event], size: int, time_ms: float, actions: list[Action]) -> bool:
        """Fold one message's events into the awaited reply; answers become :class:`Send` actions.

        Returns:
            True when the message was neither answered nor part of the awaited reply (a push).
        """
        awaited = reply = self.reply
        answered = in_reply = False
        for event in events:
            if type(event) is Answer:
                answer = self._frame(event.message)
                actions.append(Send(answer))
                self.traffic.messages_sent += 1  # traffic: a protocol's answer
                self.traffic.bytes_sent += len(answer)
                answered = True
            elif reply is None:
                continue  # a reply event outside any reply (late, or pushed): dropped below
            elif type(event) is Chunk:
                in_reply = True
                self._pieces.append(event.text)
                reply.chunk_times_ms.append(time_ms)
                quiet_ms = self.protocol.quiet_ms
                if quiet_ms is not None:
                    self.quiet_until_ms = time_ms + quiet_ms
            elif type(event) is End:
                in_reply = True
                reply.meta = event.meta
                self._complete(reply, time_ms)
                reply = None
            elif type(event) is Failure:
                in_reply = True
                reply.error = BotError(f"bot reported an error: {event.message}")
                self._complete(reply, time_ms)
                reply = None
            elif reply.voice is not None:  # an audio turn's voice event
                in_reply = True
                note_voice(reply.voice, event, time_ms)
                quiet_ms = self.protocol.quiet_ms
                if quiet_ms is not None:
                    self.quiet_until_ms = time_ms + quiet_ms
        if in_reply and awaited is not None:
            awaited.bytes += size
        return awaited is None and not answered

    def _end(self, error: WsLocustError, time_ms: float, actions: list[Action]) -> list[Action]:
        """The server ended (or refused) the session: the awaited reply fails with ``error`` (else
        the connection's :attr:`error` is it), and the connection is closed with 1000."""
        reply = self.reply
        if reply is not None:
            reply.error = error
            self._complete(reply, time_ms)
        else:
            self.error = error
        return [*actions, Close(1000)]

    def _fail_connection(
        self, error: ProtocolError, time_ms: float, actions: list[Action] | None
    ) -> list[Action]:
        if self.reply is None:
            self.error = error
        return super()._fail_connection(error, time_ms, actions)
