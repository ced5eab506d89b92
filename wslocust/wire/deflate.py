"""Compressed connections, socket-free: the ``permessage-deflate`` extension (RFC 7692).

- :class:`Compression`: a client's policy: the header its handshakes offer (``--compression
  deflate``), the answer checked, and the frame reader of the connection agreed.
- :data:`OFFER`: what the client offers in ``Sec-WebSocket-Extensions``.
- :func:`negotiate`: the server's answer checked, as the client must (RFC 7692 §7.1): an extension
  that was not offered, or a parameter that is unknown, repeated or out of range, fails the
  connection; the agreed :class:`DeflateParameters` otherwise.
- :class:`Inflater` and :class:`Deflater`: one direction's compression state, honouring the agreed
  window size and context takeover. Inflating stops at a size limit, so a small message that would
  inflate to gigabytes (a decompression bomb) is a :class:`~wslocust.errors.ProtocolError`, not an
  out-of-memory.
- :class:`DeflateFrameReader`: the frame reader of a connection that negotiated the extension: RSV1
  on the first frame of a text or binary message marks it compressed, and the message is inflated
  once its fragments are joined. Connections without it keep the plain
  :class:`~wslocust.wire.frames.FrameReader`, whose per-frame work does not change.

A compressed message is a raw DEFLATE stream (no zlib header) flushed with a sync flush, whose
closing ``00 00 ff ff`` is left off the wire: the reader appends it back before inflating, the
writer strips it after deflating (RFC 7692 §7.2).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from ..errors import ConfigurationError, ConnectError, ProtocolError
from .frames import DEFAULT_MAX_MESSAGE_BYTES, OP_BINARY, OP_TEXT, RSV1, FrameReader

__all__ = [
    "COMPRESSIONS",
    "EXTENSION",
    "OFFER",
    "Compression",
    "DeflateFrameReader",
    "DeflateParameters",
    "Deflater",
    "Inflater",
    "negotiate",
]

COMPRESSIONS: Final = ("none", "deflate")
"""The values of ``--compression``: none (the default: nothing offered) or deflate."""

EXTENSION: Final = "permessage-deflate"
"""The extension's name in ``Sec-WebSocket-Extensions``."""

OFFER: Final = "permessage-deflate; client_max_window_bits"
"""The client's offer: the extension with default parameters, and leave for the server to limit the
client's window (``client_max_window_bits`` without a value, RFC 7692 §7.1.2.2)."""

_TAIL: Final = b"\x00\x00\xff\xff"  # the end of a sync flush, left off the wire
_WINDOW_BITS: Final = {str(bits): bits for bits in range(8, 16)}
_FLAGS: Final = ("server_no_context_takeover", "client_no_context_takeover")
_SIZES: Final = ("server_max_window_bits", "client_max_window_bits")
_COMPRESSED_FIRST: Final = frozenset((RSV1 | OP_TEXT, RSV1 | OP_BINARY))  # a first byte's low 7 bits
_log = logging.getLogger("wslocust")


@dataclass(frozen=True, slots=True)
class DeflateParameters:
    """The parameters agreed for a connection (RFC 7692 §7.1); each side's window in bits, 8 to 15.

    Attributes:
        server_no_context_takeover: the server compresses each message afresh.
        client_no_context_takeover: the client must compress each message afresh.
        server_max_window_bits: the server's LZ77 window (what the client's inflater needs).
        client_max_window_bits: the largest window the client may compress with.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15

    def __str__(self) -> str:
        """The parameters as the answer's header writes them (the defaults left out)."""
        parts = [EXTENSION, *(name for name in _FLAGS if getattr(self, name))]
        parts += [f"{name}={getattr(self, name)}" for name in _SIZES if getattr(self, name) != 15]
        return "; ".join(parts)

    def inflater(self) -> Inflater:
        """What the client reads the server's compressed messages with."""
        return Inflater(self.server_max_window_bits, no_context_takeover=self.server_no_context_takeover)

    def deflater(self) -> Deflater:
        """What the client compresses its messages with."""
        return Deflater(self.client_max_window_bits, no_context_takeover=self.client_no_context_takeover)


class Compression:
    """A client's permessage-deflate policy: what its handshakes offer, and what the last one agreed.

    Args:
        compression: ``"deflate"`` offers the extension at each handshake; ``"none"`` offers nothing.

    Raises:
        ConfigurationError: another value.
    """

    __slots__ = ("agreed", "headers", "offered")

    def __init__(self, compression: str = "none") -> None:
        if compression not in COMPRESSIONS:
            raise ConfigurationError(f"compression must be one of none, deflate, got {compression!r}")
        self.offered = compression == "deflate"
        self.headers = (f"Sec-WebSocket-Extensions: {OFFER}",) if self.offered else ()
        """The handshake headers that make the offer (none without it)."""
        self.agreed: DeflateParameters | None = None
        """The parameters the last handshake agreed; None: its connection is uncompressed."""

    def agree(self, headers: Mapping[str, str] | None, where: str = "the server") -> None:
        """Check a handshake's answer (its headers, by lower-case name) and keep what it agreed;
        logged at debug level when the extension was offered.

        Raises:
            ConnectError: the answer fails the connection (see :func:`negotiate`).
        """
        self.agreed = None
        self.agreed = negotiate((headers or {}).get("sec-websocket-extensions"), offered=self.offered)
        if self.offered:
            _log.debug("connected to %s: %s", where, self.agreed or f"{EXTENSION} declined")

    def reader(self, max_message_bytes: int) -> FrameReader:
        """The frame reader of the connection just agreed: it inflates compressed messages when the
        extension was agreed, and is the plain reader otherwise."""
        if self.agreed is None:
            return FrameReader(max_message_bytes)
        return DeflateFrameReader(self.agreed.inflater(), max_message_bytes)


def negotiate(answer: str | None, *, offered: bool) -> DeflateParameters | None:
    """Check the server's ``Sec-WebSocket-Extensions`` answer; return the agreed parameters.

    Args:
        answer: the header's value; None or empty when the server sent none.
        offered: the client offered :data:`OFFER`.

    Returns:
        The parameters, or None when the server accepted no extension (messages go uncompressed).

    Raises:
        ConnectError: the server answered an extension the client did not offer (RFC 6455 §9.1), more
            than one, or a parameter that is unknown, repeated, valueless where a value is needed, or
            out of range (RFC 7692 §7.1): the connection fails; the message quotes the culprit.
    """
    if answer is None or not answer.strip():
        return None
    elements = [element.strip() for element in answer.split(",")]
    names = [element.partition(";")[0].strip() for element in elements]
    for name in names:
        if name.lower() != EXTENSION:
            why = f"the server accepted the extension {name[:40]!r}, which was not offered"
            raise ConnectError(_refused(why))
    if not offered:
        why = f"the server accepted {EXTENSION}, which was not offered (--compression deflate offers it)"
        raise ConnectError(_refused(why))
    if len(elements) > 1:
        raise ConnectError(_refused(f"the server accepted {EXTENSION} {len(elements)} times"))
    agreed: dict[str, bool | int] = {}
    for parameter in elements[0].split(";")[1:]:
        key, equals, raw = (part.strip() for part in parameter.partition("="))
        name = key.lower()
        value = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw  # a quoted-string
        if name not in _FLAGS and name not in _SIZES:
            raise ConnectError(_refused(f"unknown parameter {key[:40]!r}"))
        if name in agreed:
            raise ConnectError(_refused(f"{name} given twice"))
        if name in _FLAGS:
            if equals:
                raise ConnectError(_refused(f"{name} takes no value, got {raw[:20]!r}"))
            agreed[name] = True
        elif value not in _WINDOW_BITS:
            got = f"got {raw[:20]!r}" if equals else "got none"
            raise ConnectError(_refused(f"{name} must be a window size of 8 to 15 bits, {got}"))
        else:
            agreed[name] = _WINDOW_BITS[value]
    return DeflateParameters(**agreed)  # type: ignore[arg-type]


def _refused(reason: str) -> str:
    return f"{EXTENSION} negotiation failed: {reason} (RFC 7692 §7.1)"


class Inflater:
    """Inflates one direction's compressed messages, each within a size limit.

    Args:
        window_bits: the sender's window (8 to 15 bits).
        no_context_takeover: each message was compressed afresh (no shared window between messages,
            so none is kept between them either).
    """

    __slots__ = ("_decoder", "_window_bits")

    def __init__(self, window_bits: int = 15, *, no_context_takeover: bool = False) -> None:
        self._window_bits = window_bits
        self._decoder = None if no_context_takeover else zlib.decompressobj(wbits=-window_bits)

    @property
    def no_context_takeover(self) -> bool:
        """Each message is inflated afresh."""
        return self._decoder is None

    def inflate(self, payload: bytes, limit: int) -> bytes:
        """Inflate one whole message (its fragments joined).

        Args:
            payload: the message as received (compressed, without the sync flush's tail).
            limit: the most bytes it may inflate to; zlib stops one byte past it, so no more memory
                than that is ever taken.

        Raises:
            ProtocolError: it inflates past ``limit`` (a decompression bomb, or just too large:
                close code 1009), or it is not valid DEFLATE data for this window and context.
        """
        decoder = self._decoder or zlib.decompressobj(wbits=-self._window_bits)
        try:
            message = decoder.decompress(payload + _TAIL, limit + 1)
        except zlib.error as error:
            raise ProtocolError(f"compressed message cannot be inflated: {error}") from None
        if len(message) > limit:
            raise ProtocolError(
                f"compressed message inflates past the {limit}-byte message limit (--max-message-bytes)",
                close_code=1009,
            )
        if decoder.eof and self._decoder is not None:  # a final block ended the stream: start another
            self._decoder = zlib.decompressobj(wbits=-self._window_bits)
        return message


class Deflater:
    """Compresses one direction's messages.

    zlib's ``memLevel`` is 5 (as websockets' server has it), not its default 8: a connection's
    compressor then keeps about 17 KiB resident instead of about 90, which counts across the
    thousands of connections a load generator holds, and prompts are short.

    Args:
        window_bits: the largest window the receiver allows (8 to 15 bits).
        no_context_takeover: compress each message afresh (the receiver keeps no window, so neither
            is one kept here between messages).
    """

    __slots__ = ("_encoder", "_strategy", "_window_bits")

    def __init__(self, window_bits: int = 15, *, no_context_takeover: bool = False) -> None:
        # zlib cannot deflate with an 8-bit window (it refuses the setting); with 9 bits and literals
        # only (no back-reference at all), the stream reads the same through any window.
        self._strategy = zlib.Z_HUFFMAN_ONLY if window_bits < 9 else zlib.Z_DEFAULT_STRATEGY
        self._window_bits = max(window_bits, 9)
        self._encoder = None if no_context_takeover else self._new_encoder()

    @property
    def no_context_takeover(self) -> bool:
        """Each message is compressed afresh."""
        return self._encoder is None

    def _new_encoder(self) -> zlib._Compress:
        return zlib.compressobj(
            zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self._window_bits, 5, self._strategy
        )

    def deflate(self, message: bytes) -> bytes:
        """Compress one whole message; returns its payload, without the sync flush's tail."""
        encoder = self._encoder or self._new_encoder()
        return (encoder.compress(message) + encoder.flush(zlib.Z_SYNC_FLUSH))[:-4]


class DeflateFrameReader(FrameReader):
    """A :class:`~wslocust.wire.frames.FrameReader` for a connection that negotiated permessage-deflate.

    RSV1 is accepted on the first frame of a text or binary message, and marks it compressed; it is
    inflated (within ``max_message_bytes``) once its fragments are joined. RSV1 on a continuation or
    control frame, and RSV2 or RSV3 anywhere, remain a :class:`~wslocust.errors.ProtocolError`.

    Args:
        inflater: the sender's inflater (the server's: :meth:`DeflateParameters.inflater`).
        max_message_bytes: the largest message, compressed or inflated.
        accept_masked: read a client's (masked) frames, as a test's server does.
    """

    __slots__ = ("inflater",)

    def __init__(
        self,
        inflater: Inflater,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        *,
        accept_masked: bool = False,
    ) -> None:
        super().__init__(max_message_bytes, accept_masked=accept_masked)
        self.inflater = inflater

    def _reserved_bits(self, first: int, payload: bytes) -> bytes:
        if first & 0x7F not in _COMPRESSED_FIRST:
            raise ProtocolError(
                "frame with reserved bits set: permessage-deflate allows RSV1 alone, on the first frame "
                "of a text or binary message (RFC 7692 §6)"
            )
        if first & 0x80:  # a whole message
            return self.inflater.inflate(payload, self.max_message_bytes)
        self._fragments_compressed = True  # inflated once its fragments are joined
        return payload

    def _inflate(self, payload: bytes) -> bytes:
        return self.inflater.inflate(payload, self.max_message_bytes)
