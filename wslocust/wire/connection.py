"""One WebSocket connection's policy, socket-free: received bytes in, the reply and actions out.

The client's I/O loop only moves bytes and time. It hands :meth:`Connection.receive` each block it
reads with the block's receive time; the connection reads the block's frames, folds the protocol's
events (:class:`~wslocust.wire.protocols.Chunk`, ``End``, ``Failure``) into the
:class:`~wslocust.wire.reply.Reply` being built, and returns what the I/O must do:

- :class:`Pong`: send a pong with this payload (the server pinged);
- :class:`Close`: send a close frame with this code, then close the socket (the server closed: 1000;
  the server broke the protocol, a masked frame for one: 1002, RFC 6455 §7.1.7);
- :class:`Dropped`: a message arrived outside any reply; it was dropped (count it).

So the decisions a connection makes (answer a ping, when a reply is over, what a close means for it,
what is pushed between replies) are tested with bytes alone, the way websockets' ``Protocol`` owns
them beside its I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from ..errors import BotError, ConnectionClosed, ProtocolError
from .frames import OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, FrameReader, encode_frame, parse_close
from .protocols.base import Chunk, End, Failure, Message, Protocol
from .reply import Reply

__all__ = ["Action", "Close", "Connection", "Dropped", "Pong"]


class Pong(NamedTuple):
    """Send a pong carrying ``payload`` (the ping's, as RFC 6455 §5.5.3 asks)."""

    payload: bytes

    @property
    def frame(self) -> bytes:
        """The pong's frame, masked, ready to send."""
        return encode_frame(OP_PONG, self.payload)


class Close(NamedTuple):
    """Send a close frame with ``code``, then close the socket: the connection is over."""

    code: int


class Dropped(NamedTuple):
    """A message arrived while no reply was awaited (a server push); it was dropped."""

    opcode: int
    size: int


Action = Pong | Close | Dropped

_NO_ACTIONS: tuple[Action, ...] = ()
_DATA = frozenset((OP_TEXT, OP_BINARY))


class Connection:
    """The state and policy of one WebSocket connection: its frame reader and the reply being built.

    Use one a connection (a fresh one after each connect): :meth:`start` a reply and send what it
    returns, :meth:`receive` every block read until :attr:`reply` is None, then :meth:`finish`.
    Between replies, keep feeding :meth:`receive`: pings are answered, pushed messages dropped.

    Args:
        protocol: the dialect that turns messages into reply events.
        reader: the frame reader (a default :class:`~wslocust.wire.frames.FrameReader`, which
            refuses masked frames, when None).
    """

    __slots__ = ("_chunk_times", "_feed", "_pieces", "_read_frames", "protocol", "reader", "reply")

    def __init__(self, protocol: Protocol, reader: FrameReader | None = None) -> None:
        self.protocol = protocol
        self.reader = reader if reader is not None else FrameReader()
        self.reply: Reply | None = None
        """The reply being awaited; None between replies (and once it ended or failed)."""
        self._feed = protocol.feed
        self._read_frames = self.reader.feed
        self._pieces: list[str] = []  # the reply's chunk texts, joined by finish()
        self._chunk_times: list[float] = []

    def start(self, reply: Reply) -> bytes:
        """Start awaiting ``reply``: return its prompt's frames, masked, ready to send in one go."""
        messages = self.protocol.request(reply.prompt, reply.record)
        self.reply = reply
        self._pieces.clear()
        self._chunk_times = reply.chunk_times_ms
        # Most prompts are one message: its frame as it is, without a join.
        return _frame(messages[0]) if len(messages) == 1 else b"".join(map(_frame, messages))

    def receive(self, data: bytes, time_ms: float) -> Sequence[Action]:
        """Read a received block; fold the reply's messages into the reply; return the actions.

        Args:
            data: the bytes read.
            time_ms: when they arrived, in ms since the prompt was sent (the chunks' times).

        Returns:
            What the I/O must do, in order (empty, the usual case, when nothing). The reply is over
            when :attr:`reply` is None: ended, failed by the bot, or failed by the connection (a
            close, a protocol error: ``reply.error`` says which, ``reply.total_time_ms`` is
            ``time_ms``).
        """
        reply = self.reply
        try:
            frames = self._read_frames(data)
        except ProtocolError as error:
            return self._fail(error, time_ms, _NO_ACTIONS)
        actions: list[Action] | None = None  # a list only when there is one (rarely)
        for opcode, payload in frames:
            if opcode in _DATA:
                if reply is None:
                    if actions is None:
                        actions = []
                    actions.append(Dropped(opcode, len(payload)))
                    continue
                try:
                    events = self._feed(payload.decode() if opcode == OP_TEXT else payload)
                except UnicodeDecodeError:
                    not_utf8 = ProtocolError("text frame is not valid UTF-8")
                    return self._fail(not_utf8, time_ms, actions or _NO_ACTIONS)
                except ProtocolError as error:
                    return self._fail(error, time_ms, actions or _NO_ACTIONS)
                if not events:
                    continue  # not this reply's (another response's event, a heartbeat)
                reply.bytes += len(payload)
                over = False
                for event in events:
                    if type(event) is Chunk:
                        self._pieces.append(event.text)
                        self._chunk_times.append(time_ms)
                    elif type(event) is End:
                        reply.meta = event.meta
                        over = True
                    elif type(event) is Failure:
                        reply.error = BotError(f"bot reported an error: {event.message}")
                        over = True
                        break
                if over:
                    reply.total_time_ms = time_ms
                    self.reply = reply = None
            elif opcode == OP_PING:
                if actions is None:
                    actions = []
                actions.append(Pong(payload))
            elif opcode == OP_CLOSE:
                try:
                    code, reason = parse_close(payload)
                except ProtocolError as error:
                    return self._fail(error, time_ms, actions or _NO_ACTIONS)
                if reply is not None:
                    reply.error = ConnectionClosed(code, f"({reason})" if reason else "")
                    reply.total_time_ms = time_ms
                    self.reply = None
                return [*(actions or _NO_ACTIONS), Close(1000)]  # nothing is read after a close
            # A pong needs nothing (this client sends no pings: it is unsolicited).
        return _NO_ACTIONS if actions is None else actions

    def _fail(self, error: ProtocolError, time_ms: float, actions: Sequence[Action]) -> list[Action]:
        """The server broke the protocol: the reply (if any) fails, the connection is failed with 1002."""
        reply = self.reply
        if reply is not None:
            reply.error = error
            reply.total_time_ms = time_ms
            self.reply = None
        return [*actions, Close(1002)]

    def finish(self, reply: Reply) -> Reply:
        """Complete ``reply`` (ended, failed, or abandoned by the I/O: a timeout, a dropped
        connection): its text, chunk count and time to first chunk from the chunks received."""
        self.reply = None
        pieces = self._pieces
        reply.text = "".join(pieces)
        pieces.clear()
        chunk_times = reply.chunk_times_ms
        reply.chunks = len(chunk_times)
        if chunk_times:
            reply.time_to_first_chunk_ms = chunk_times[0]
        return reply


def _frame(message: Message) -> bytes:
    """One message as a masked frame: text for ``str``, binary for ``bytes``."""
    if isinstance(message, str):
        return encode_frame(OP_TEXT, message.encode())
    return encode_frame(OP_BINARY, message)
