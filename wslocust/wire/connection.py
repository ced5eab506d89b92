"""One WebSocket connection's policy, socket-free: received bytes in, the reply and actions out.

The client's I/O loop only moves bytes and time. It hands :meth:`Connection.receive` each block it
reads with the block's receive time; the connection reads the block's frames, folds the protocol's
events (:class:`~wslocust.wire.protocols.Chunk`, ``End``, ``Failure``) into the
:class:`~wslocust.wire.reply.Reply` being built, and returns what the I/O must do:

- :class:`Pong`: send a pong with this payload (the server pinged);
- :class:`Close`: send a close frame with this code, then close the socket (the server closed: 1000;
  the server broke the protocol, RFC 6455 §7.1.7: 1002, a masked frame for one; 1007, a text
  message that is not UTF-8; 1009, a message over the reader's limit);
- :class:`Dropped`: a message arrived outside any reply; it was dropped (count it);
- :class:`Send`: send this frame now (a protocol's answer; see :mod:`wslocust.wire.managed`).

So the decisions a connection makes (answer a ping, when a reply is over, what a close means for it,
what is pushed between replies) are tested with bytes alone, the way websockets' ``Protocol`` owns
them beside its I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from ..errors import BotError, ConnectionClosed, ProtocolError, WsLocustError
from .deflate import DeflateFrameReader, DeflateParameters, Deflater
from .frames import (
    OP_BINARY,
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    RSV1,
    FrameReader,
    encode_frame,
    encode_message,
    parse_close,
)
from .protocols.base import END, Chunk, End, Failure, Message, Protocol, chunk_reader, reply_reader
from .reply import Reply
from .traffic import PROCESS_TRAFFIC, Traffic, count_control, count_sent_close
from .voice import note_voice

__all__ = [
    "Action",
    "Block",
    "BlockReader",
    "Close",
    "Connection",
    "Dropped",
    "Framer",
    "Pong",
    "Send",
    "complete_reply",
    "framing",
]


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


class Send(NamedTuple):
    """Send ``frame`` (a protocol's answer, masked) now."""

    frame: bytes


Action = Pong | Close | Dropped | Send


class Connection:
    """The state and policy of one WebSocket connection: its frame reader and the reply being built.

    Use one a connection (a fresh one after each connect): :meth:`start` a reply and send what it
    returns, then :meth:`receive` every block read until :attr:`reply` is None (the reply is then
    complete: ended, or failed by the bot or the server). When the I/O stops waiting first (a
    timeout, a dropped connection), :meth:`fail` completes the reply with its error. Between
    replies, keep feeding :meth:`receive`: pings are answered, pushed messages dropped.

    Args:
        protocol: the dialect that turns messages into reply events.
        reader: the frame reader (when None, a default :class:`~wslocust.wire.frames.FrameReader`,
            which refuses masked frames, or with ``deflate`` a
            :class:`~wslocust.wire.deflate.DeflateFrameReader`).
        deflate: the permessage-deflate parameters agreed at the handshake, if any: the server's
            compressed messages are inflated, and prompts are sent compressed.
        traffic: where its messages and bytes are counted (the process's :data:`PROCESS_TRAFFIC`
            when None).
        framer: how an uncompressed connection's messages become masked frames
            (:func:`~wslocust.wire.frames.encode_message` when None; the client gives one masked by
            websockets' C ``apply_mask``, which this layer does not import).
    """

    __slots__ = (
        "_chunk_text", "_feed", "_frame", "_pieces", "_read_frames", "_reply_text", "_request",
        "protocol", "reader", "received_close", "reply", "traffic",
    )  # fmt: skip

    def __init__(
        self,
        protocol: Protocol,
        reader: FrameReader | None = None,
        *,
        deflate: DeflateParameters | None = None,
        traffic: Traffic | None = None,
        framer: Framer | None = None,
    ) -> None:
        self.protocol = protocol
        self.reader, self._frame = framing(reader, deflate, framer)
        self.traffic = PROCESS_TRAFFIC if traffic is None else traffic
        self.reply: Reply | None = None
        """The reply being awaited; None between replies (and once it is complete)."""
        self._request = protocol.request
        self._feed = protocol.feed
        self._chunk_text = chunk_reader(protocol)  # the usual chunk's text, without events
        self._reply_text = reply_reader(protocol)  # a whole reply's text, when one message is one
        self._read_frames = self.reader.feed
        self._pieces: list[str] = []  # the awaited reply's chunk texts
        self.received_close: int | None = None
        """The code of the server's close frame once one came (1005 when it had none, RFC 6455 §7.1.5)."""

    def start(self, reply: Reply) -> bytes:
        """Start awaiting ``reply``: return its prompt's frames, masked, ready to send in one go."""
        messages = self._request(reply.prompt, reply.record)
        self.reply = reply
        self._pieces = []
        # Most prompts are one message: its frame as it is, without a join.
        frame = self._frame
        payload = frame(messages[0]) if len(messages) == 1 else b"".join(map(frame, messages))
        traffic = self.traffic  # traffic: counted a prompt, never a message
        traffic.prompts += 1
        traffic.messages_sent += len(messages)
        traffic.bytes_sent += len(payload)
        return payload

    def expect(self, reply: Reply) -> None:
        """Start awaiting ``reply`` without sending a prompt (an audio turn: the I/O sends the
        protocol's audio messages itself, framed by :meth:`frame`)."""
        self.reply = reply
        self._pieces = []

    def frame(self, message: Message) -> bytes:
        """``message`` as a masked frame, ready to send (compressed when the connection is)."""
        return self._frame(message)

    def receive(self, data: bytes, time_ms: float) -> list[Action] | None:
        """Read a received block: fold the awaited reply's messages into it; say what to do.

        Args:
            data: the bytes read.
            time_ms: when they arrived, in ms since the prompt was sent (the chunks' times).

        Returns:
            What the I/O must do, in order; None (the usual case) when nothing. When the block
            completes the reply, :attr:`reply` becomes None and the reply holds its text, chunks,
            ``total_time_ms`` (``time_ms``) and, when it failed (the bot's error, a close, a
            protocol error), its ``error``.
        """
        reply = self.reply
        if reply is not None and self._reply_text is not None:
            # The usual block of a reply that is one message: one whole unmasked final text frame
            # under 126 bytes, no partial frame or message before it. Read here as the loop below
            # reads it, without a frame list or events (tests/wire/test_whole_reply.py).
            size = len(data)
            reader = self.reader
            if (
                1 < size < 128
                and data[0] == 0x81
                and data[1] == size - 2
                and size - 2 <= reader.max_message_bytes
                and reader.between_messages
            ):
                try:
                    text = self._reply_text(data[2:].decode())
                except UnicodeDecodeError:
                    text = None  # the loop below fails the connection (1007)
                if text is not None:
                    traffic = self.traffic  # traffic: as below, a block of one frame
                    traffic.bytes_received += size
                    traffic.frames_received += 1
                    reply.bytes += size - 2
                    reply.meta = END.meta
                    self.reply = None  # _complete(), inline: the chunk's text ends the pieces
                    pieces = self._pieces
                    if pieces:
                        pieces.append(text)
                        text = "".join(pieces)
                    reply.text = text
                    chunk_times = reply.chunk_times_ms
                    chunk_times.append(time_ms)
                    reply.chunks = len(chunk_times)
                    reply.time_to_first_chunk_ms = chunk_times[0]
                    reply.total_time_ms = time_ms
                    return None
        broken: ProtocolError | None = None
        try:
            frames = self._read_frames(data)
        except ProtocolError as error:
            # The frames before the broken one count: a reply may have ended, a ping wait.
            frames = self.reader.read_before_error
            broken = error
        traffic = self.traffic  # traffic: counted a block (its bytes and frames), never a message
        traffic.bytes_received += len(data)
        traffic.frames_received += len(frames)
        actions: list[Action] | None = None  # a list only when there is something to do (rarely)
        for opcode, payload in frames:
            if opcode <= OP_BINARY:  # text or binary: the reader returns no other opcode below 8
                if reply is None:
                    if actions is None:
                        actions = []
                    actions.append(Dropped(opcode, len(payload)))
                    traffic.pushes += 1  # traffic: a push
                    continue
                try:
                    message = payload.decode() if opcode == OP_TEXT else payload
                    if self._chunk_text is not None:
                        text = self._chunk_text(message)
                        if text is not None:  # a chunk and nothing else: most of a stream's messages
                            reply.bytes += len(payload)
                            self._pieces.append(text)
                            reply.chunk_times_ms.append(time_ms)
                            continue
                    events = self._feed(message)
                except UnicodeDecodeError:
                    not_utf8 = ProtocolError("text message is not valid UTF-8", close_code=1007)
                    return self._fail_connection(not_utf8, time_ms, actions)
                except ProtocolError as error:
                    return self._fail_connection(error, time_ms, actions)
                if not events:
                    continue  # not this reply's (another response's event, a heartbeat)
                reply.bytes += len(payload)
                over = False
                for event in events:
                    if type(event) is Chunk:
                        self._pieces.append(event.text)
                        reply.chunk_times_ms.append(time_ms)
                    elif type(event) is End:
                        reply.meta = event.meta
                        over = True
                    elif type(event) is Failure:
                        reply.error = BotError(f"bot reported an error: {event.message}")
                        over = True
                        break
                    elif reply.voice is not None:
                        note_voice(reply.voice, event, time_ms)
                if over:  # _complete(), inline on this path: most replies end here
                    self.reply = None
                    reply.total_time_ms = time_ms
                    reply.text = "".join(self._pieces)
                    chunk_times = reply.chunk_times_ms
                    reply.chunks = len(chunk_times)
                    if chunk_times:
                        reply.time_to_first_chunk_ms = chunk_times[0]
                    reply = None
            elif opcode == OP_PING:
                if actions is None:
                    actions = []
                actions.append(Pong(payload))
                count_control(traffic, len(payload))  # traffic: a ping and its pong
            elif opcode == OP_CLOSE:
                traffic.control_received += 1  # traffic: a close
                try:
                    code, reason = parse_close(payload)
                except ProtocolError as error:
                    return self._fail_connection(error, time_ms, actions)
                self.received_close = 1005 if code is None else code
                count_sent_close(traffic)  # traffic: ours
                if reply is not None:
                    reply.error = ConnectionClosed(code, f"({reason})" if reason else "")
                    self._complete(reply, time_ms)
                return [*(actions or ()), Close(1000)]  # nothing is read after a close
            else:  # A pong needs nothing (this client sends no pings: it is unsolicited).
                traffic.control_received += 1  # traffic: a pong
        if broken is not None:
            return self._fail_connection(broken, time_ms, actions)
        return actions

    def block_reader(self) -> BlockReader:
        """:meth:`receive` for the awaited reply's next blocks, read where they lie: the reader
        ``read(block, size, time_ms)`` takes ``block[:size]`` (``bytes``, or a ``memoryview`` of a
        buffer the I/O reuses once it returns) and returns what :meth:`receive` returns.

        A streamed reply's usual block is one whole final text frame under 126 bytes holding a chunk
        and nothing else (:meth:`Protocol.chunk_text`): that is folded into the reply here, as
        :meth:`receive` folds it (the chunk's text, time and bytes, the traffic's counts), without
        copying the block or making a frame list; any other block, and any block once the reply is
        over, goes to :meth:`receive`. Make one a reply: it holds that reply's lists.
        """
        receive = self.receive
        reply = self.reply
        chunk_text = self._chunk_text
        reader = self.reader
        if reply is None or chunk_text is None or reader.max_message_bytes < 125:

            def read_any(block: Block, size: int, time_ms: float) -> list[Action] | None:
                return receive(bytes(block[:size]), time_ms)

            return read_any
        traffic = self.traffic
        add_piece = self._pieces.append
        add_time = reply.chunk_times_ms.append

        def read(block: Block, size: int, time_ms: float) -> list[Action] | None:
            # One whole unmasked final text frame (first byte FIN | text, no reserved bit; second the
            # payload's size, under 126), no partial frame or message before it, the reply awaited.
            if (
                size < 128
                and block[0] == 0x81
                and block[1] == size - 2
                and self.reply is reply
                and reader.between_messages
            ):
                try:
                    text = chunk_text(str(block[2:size], "utf-8"))
                except UnicodeDecodeError:
                    text = None  # receive fails the connection (1007)
                if text is not None:
                    traffic.bytes_received += size  # traffic: as receive counts a block
                    traffic.frames_received += 1
                    reply.bytes += size - 2
                    add_piece(text)
                    add_time(time_ms)
                    return None
            return receive(bytes(block[:size]), time_ms)

        return read

    def fail(self, reply: Reply, error: WsLocustError, time_ms: float) -> None:
        """The I/O gave up on ``reply`` (a timeout, a dropped connection): it fails with ``error``
        at ``time_ms``, keeping the chunks that came. A complete reply keeps its times."""
        reply.error = error
        if reply is self.reply:
            self._complete(reply, time_ms)

    def _fail_connection(
        self, error: ProtocolError, time_ms: float, actions: list[Action] | None
    ) -> list[Action]:
        """The server broke the protocol: the awaited reply fails with ``error``, and the
        connection is failed with the error's close code (RFC 6455 §7.1.7)."""
        count_sent_close(self.traffic)  # traffic: our close
        reply = self.reply
        if reply is not None:
            reply.error = error
            self._complete(reply, time_ms)
        return [*(actions or ()), Close(error.close_code)]

    def _complete(self, reply: Reply, time_ms: float) -> None:
        """The reply is over at ``time_ms``: its text, chunk count and time to first chunk."""
        self.reply = None
        complete_reply(reply, self._pieces, time_ms)


def complete_reply(reply: Reply, pieces: list[str], time_ms: float) -> None:
    """``reply`` is over at ``time_ms``: its text (``pieces`` joined), chunk count and time to first
    chunk (the fast path of :meth:`Connection.receive` does the same inline)."""
    reply.total_time_ms = time_ms
    reply.text = "".join(pieces)
    chunk_times = reply.chunk_times_ms
    reply.chunks = len(chunk_times)
    if chunk_times:
        reply.time_to_first_chunk_ms = chunk_times[0]


Block = bytes | memoryview
"""Received bytes as the I/O holds them: a block read into a reused buffer, or decrypted ones."""

BlockReader = Callable[[Block, int, float], "list[Action] | None"]
"""Reads the first ``size`` bytes of a block received at ``time_ms`` (see :meth:`Connection.block_reader`)."""

Framer = Callable[[Message], bytes]
"""Turns one message into a masked frame, ready to send."""


def framing(
    reader: FrameReader | None, deflate: DeflateParameters | None, framer: Framer | None = None
) -> tuple[FrameReader, Framer]:
    """A connection's frame reader and framer: ``reader`` (when None, a default
    :class:`~wslocust.wire.frames.FrameReader`, or with ``deflate`` a
    :class:`~wslocust.wire.deflate.DeflateFrameReader`), and plain frames (``framer``'s, by default
    :func:`~wslocust.wire.frames.encode_message`'s), or compressed ones when permessage-deflate was
    agreed."""
    if reader is None:
        reader = FrameReader() if deflate is None else DeflateFrameReader(deflate.inflater())
    if deflate is not None:
        return reader, _CompressedFrames(deflate.deflater())
    return reader, encode_message if framer is None else framer


class _CompressedFrames:
    """Messages as masked frames compressed with permessage-deflate (RSV1 set), in order (with
    context takeover, each message's compression depends on the ones before it)."""

    __slots__ = ("_deflate",)

    def __init__(self, deflater: Deflater) -> None:
        self._deflate = deflater.deflate

    def __call__(self, message: Message) -> bytes:
        if isinstance(message, str):
            return encode_frame(RSV1 | OP_TEXT, self._deflate(message.encode()))
        return encode_frame(RSV1 | OP_BINARY, self._deflate(message))
