"""WebSocket framing (RFC 6455), socket-free: bytes in, frames out; frames in, bytes out.

The client reads the socket in large blocks and hands them to :class:`FrameReader`, which returns
every complete frame the block holds. websocket-client's own reader asks the socket for a frame's
header and payload separately (two or more ``recv`` calls a frame); reading in blocks takes one call
for a burst of frames, which is most of what a load generator's client spends its CPU on.
"""

from __future__ import annotations

import random
import struct
from typing import Final

from ..errors import ProtocolError

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "OP_BINARY",
    "OP_CLOSE",
    "OP_CONTINUATION",
    "OP_PING",
    "OP_PONG",
    "OP_TEXT",
    "RSV1",
    "FrameReader",
    "encode_close",
    "encode_frame",
    "encode_message",
    "parse_close",
]

OP_CONTINUATION: Final = 0x0
OP_TEXT: Final = 0x1
OP_BINARY: Final = 0x2
OP_CLOSE: Final = 0x8
OP_PING: Final = 0x9
OP_PONG: Final = 0xA
RSV1: Final = 0x40
"""The first reserved bit of a frame's first byte: with permessage-deflate, a compressed message's
first frame (``encode_frame(RSV1 | OP_TEXT, ...)`` sends one)."""

DEFAULT_MAX_MESSAGE_BYTES: Final = 4 * 1024 * 1024
"""The largest message a reader takes by default (``--max-message-bytes``): a server sending garbage
must not exhaust the load generator's memory, and a chatbot's reply is far smaller."""

_CONTROL = frozenset((OP_CLOSE, OP_PING, OP_PONG))
_DATA = frozenset((OP_TEXT, OP_BINARY))
_SMALL_DATA = frozenset((0x80 | OP_TEXT, 0x80 | OP_BINARY))  # first bytes: final, no reserved bits
# The close codes defined for use in a close frame (RFC 6455 §7.4.1 and IANA's registry); 3000-4999
# are also allowed (libraries' and applications' own).
_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))
_U16: Final = struct.Struct("!H")
_U64: Final = struct.Struct("!Q")
_randbits = random.getrandbits
# A masked frame of a payload of n < 126 bytes is built as one integer, its n + 6 bytes:
# (key * _KEYED[n]) >> _PAD[n] is the 4-byte key followed by the key repeated over n bytes (payload
# byte i meets key byte i % 4): the key repeated over whole words and once more above them, the last
# partial word's extra bytes shifted out. The frame's first two bytes go above it.
_KEYED: Final = tuple(sum(1 << (32 * word) for word in range((size + 3) // 4 + 1)) for size in range(126))
_PAD: Final = tuple(8 * (-size % 4) for size in range(126))


def _mask(key: bytes, payload: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` repeated, as one big-integer operation."""
    size = len(payload)
    if not size:
        return payload
    repeated = (key * ((size + 3) // 4))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(size, "little")


def encode_frame(opcode: int, payload: bytes, *, mask: bool = True) -> bytes:
    """Encode one final (FIN) frame.

    Args:
        opcode: the frame's opcode (``OP_TEXT``, ``OP_PONG``...), with ``RSV1`` for a compressed
            message (permessage-deflate).
        payload: the unmasked payload.
        mask: clients must mask their frames (RFC 6455 §5.3); servers must not.

    Returns:
        The frame's bytes, ready to send.
    """
    size = len(payload)
    first = 0x80 | opcode
    # The masking key protects proxies from cache poisoning by hostile browser scripts; a load
    # generator sending its own prompts is not that threat, so a fast non-cryptographic key will do.
    if mask and size < 126:
        # Most frames: header, key and payload XORed with the key repeated, as one integer.
        masked = _randbits(32) * _KEYED[size] >> _PAD[size] ^ int.from_bytes(payload)
        return ((first << 8 | 0x80 | size) << (8 * size + 32) | masked).to_bytes(size + 6)
    mask_bit = 0x80 if mask else 0
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 65536:
        header = bytes((first, mask_bit | 126)) + _U16.pack(size)
    else:
        header = bytes((first, mask_bit | 127)) + _U64.pack(size)
    if not mask:
        return header + payload
    key = _randbits(32).to_bytes(4, "little")
    return header + key + _mask(key, payload)


def encode_message(message: str | bytes) -> bytes:
    """One message as a masked final frame: text for ``str``, binary for ``bytes`` (a client's)."""
    if isinstance(message, str):
        return encode_frame(OP_TEXT, message.encode())
    return encode_frame(OP_BINARY, message)


def encode_close(code: int = 1000, reason: str = "", *, mask: bool = True) -> bytes:
    """Encode a close frame carrying ``code`` and ``reason``."""
    # 123 bytes at most, cut on a character boundary: the reason must stay valid UTF-8.
    reason_bytes = reason.encode()[:123].decode("utf-8", "ignore").encode()
    return encode_frame(OP_CLOSE, _U16.pack(code) + reason_bytes, mask=mask)


def parse_close(payload: bytes) -> tuple[int | None, str]:
    """Return the (code, reason) of a close frame's payload; code is None when absent.

    Raises:
        ProtocolError: a payload of one byte, a code that may not be sent (RFC 6455 §7.4: below
            1000, 1004-1006, 1015, 1016-2999, 5000 and up), or a reason that is not UTF-8.
    """
    if len(payload) < 2:
        if payload:
            raise ProtocolError("close frame with a 1-byte payload (a code takes 2)")
        return None, ""
    code: int = _U16.unpack_from(payload)[0]
    if code not in _CLOSE_CODES and not 3000 <= code <= 4999:
        raise ProtocolError(f"close frame with code {code}, which may not be sent (RFC 6455 §7.4)")
    try:
        return code, payload[2:].decode()
    except UnicodeDecodeError:
        raise ProtocolError(f"close frame (code {code}) whose reason is not valid UTF-8") from None


class FrameReader:
    """Turns a stream of received bytes into complete messages and control frames.

    Fragmented messages are joined; control frames interleaved with fragments are returned at once.

    Args:
        max_message_bytes: a message larger than this is a :class:`ProtocolError` with close code
            1009 (a server sending garbage must not exhaust the load generator's memory); refused
            as soon as a frame's header says it will be.
        accept_masked: read a client's frames, which are masked (a server's reader, as in tests);
            by default a masked frame is a :class:`ProtocolError`, since a server must not mask
            (RFC 6455 §5.1).
    """

    __slots__ = (
        "_buffer",
        "_fragments",
        "_fragments_compressed",
        "_fragments_opcode",
        "_fragments_size",
        "accept_masked",
        "between_messages",
        "max_message_bytes",
        "read_before_error",
    )

    def __init__(
        self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES, *, accept_masked: bool = False
    ) -> None:
        self.max_message_bytes = max_message_bytes
        self.accept_masked = accept_masked
        self._buffer = b""
        self._fragments: list[bytes] = []
        self._fragments_opcode = 0
        self._fragments_size = 0
        self._fragments_compressed = False
        self.between_messages = True
        """True when no partial frame and no part of a fragmented message is held: the next bytes
        start a frame of a new message (an attribute, not a property: read once a reply)."""
        self.read_before_error: list[tuple[int, bytes]] = []
        """After :meth:`feed` raised: the complete frames its bytes held before the broken one
        (a reply may have ended there; a ping may wait for its pong)."""

    @property
    def pending(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add received bytes; return the complete frames they finish, in order.

        Returns:
            ``(opcode, payload)`` pairs: whole text/binary messages (``OP_TEXT``/``OP_BINARY``, the
            fragments joined) and control frames (``OP_PING``, ``OP_PONG``, ``OP_CLOSE``).

        Raises:
            ProtocolError: a frame that breaks RFC 6455 (a masked one included, unless
                ``accept_masked``) or a message over ``max_message_bytes``; the frames before it
                are in :attr:`read_before_error`.
        """
        if not self._buffer and not self._fragments and len(data) >= 2:
            # The common block: exactly one final, unmasked text or binary frame under 64 KiB (a
            # masked frame's second byte is 128 or more: the loop below refuses it).
            first, size = data[0], data[1]
            if first in _SMALL_DATA:
                if size < 126:
                    if len(data) == size + 2 and size <= self.max_message_bytes:
                        return [(first & 0x0F, data[2:])]
                elif size == 126 and len(data) >= 4:
                    size = data[2] << 8 | data[3]
                    if len(data) == size + 4 and size <= self.max_message_bytes:
                        return [(first & 0x0F, data[4:])]
        buffer = self._buffer + data if self._buffer else data
        self.between_messages = False  # until the loop below is over (it may raise)
        frames: list[tuple[int, bytes]] = []
        self.read_before_error = frames
        end = len(buffer)
        position = 0
        limit = self.max_message_bytes
        while end - position >= 2:
            first = buffer[position]
            second = buffer[position + 1]
            if first in _SMALL_DATA and not self._fragments and end - position >= 4:
                # A final, unmasked text or binary frame under 64 KiB (most of a burst): taken whole.
                if second < 126:
                    size, header = second, 2
                elif second == 126:
                    size, header = buffer[position + 2] << 8 | buffer[position + 3], 4
                else:
                    size, header = limit + 1, 0  # the general path below
                if size <= limit:
                    frame_end = position + header + size
                    if frame_end > end:
                        break
                    frames.append((first & 0x0F, buffer[position + header : frame_end]))
                    position = frame_end
                    continue
            size = second & 0x7F
            header = 2
            if size == 126:
                if end - position < 4:
                    break
                size = _U16.unpack_from(buffer, position + 2)[0]
                header = 4
            elif size == 127:
                if end - position < 10:
                    break
                size = _U64.unpack_from(buffer, position + 2)[0]
                header = 10
            masked = second & 0x80
            if masked:
                if not self.accept_masked:
                    raise ProtocolError("masked frame from the server (RFC 6455 §5.1: servers do not mask)")
                header += 4
            # Refused on its header, before a payload of that size is buffered.
            if first & 0x08:  # a control opcode
                if size > 125:
                    raise ProtocolError(f"control frame of {size} bytes (125 at most, RFC 6455 §5.5)")
            elif size > self.max_message_bytes - self._fragments_size:
                raise _too_big(self._fragments_size, size, self.max_message_bytes)
            frame_end = position + header + size
            if frame_end > end:
                break
            payload = buffer[position + header : frame_end]
            if masked:
                payload = _mask(buffer[position + header - 4 : position + header], payload)
            position = frame_end
            if first & 0x70:  # raises, unless an extension's reader takes the frame (and may decode it)
                payload = self._reserved_bits(first, payload)
            opcode = first & 0x0F
            final = first & 0x80
            if opcode in _CONTROL:
                if not final:
                    raise ProtocolError("fragmented control frame")
                frames.append((opcode, payload))
            elif opcode in _DATA:
                if self._fragments:
                    raise ProtocolError("new message started inside a fragmented message")
                if final:
                    frames.append((opcode, payload))
                else:
                    self._fragments = [payload]
                    self._fragments_opcode = opcode
                    self._fragments_size = size
            elif opcode == OP_CONTINUATION:
                if not self._fragments:
                    raise ProtocolError("continuation frame with no message to continue")
                self._fragments.append(payload)
                self._fragments_size += size
                if final:
                    message = b"".join(self._fragments)
                    if self._fragments_compressed:  # set by an extension's reader: once a message
                        self._fragments_compressed = False
                        message = self._inflate(message)
                    frames.append((self._fragments_opcode, message))
                    self._fragments = []
                    self._fragments_size = 0
            else:
                raise ProtocolError(f"unknown opcode 0x{opcode:x}")
        self._buffer = buffer[position:] if position < end else b""
        self.between_messages = not self._buffer and not self._fragments
        return frames

    def _reserved_bits(self, first: int, payload: bytes) -> bytes:
        """A frame whose first byte ``first`` has reserved bits set: none may be, as no extension was
        negotiated. A compressed connection's reader accepts RSV1 where permessage-deflate puts it and
        returns the payload to read: inflated for a whole message, else as it is, with
        ``_fragments_compressed`` set for the join to :meth:`_inflate` (frames without reserved bits
        never come here, so an uncompressed frame costs nothing more).

        Raises:
            ProtocolError: always, here.
        """
        raise ProtocolError("frame with reserved bits set (no extension was negotiated)")

    def _inflate(self, payload: bytes) -> bytes:
        """A compressed message's payload, inflated (only a compressed connection's reader lets one in).

        Raises:
            ProtocolError: always, here (``_reserved_bits`` refused the frame first).
        """
        raise ProtocolError("compressed message on a connection without permessage-deflate")


def _too_big(received: int, size: int, limit: int) -> ProtocolError:
    """The error of a frame of ``size`` bytes that takes a message (``received`` bytes so far) over
    the reader's ``limit``: close code 1009, "message too big"."""
    what = f"fragmented message of {received + size} bytes" if received else f"frame of {size} bytes"
    return ProtocolError(
        f"{what} exceeds the {limit}-byte message limit (--max-message-bytes)", close_code=1009
    )
