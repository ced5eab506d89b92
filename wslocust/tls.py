"""TLS the sans-I/O way: an :class:`ssl.SSLObject` over a pair of :class:`ssl.MemoryBIO`, on the
connection's own TCP socket.

:class:`TlsSocket` stands where gevent's ``SSLSocket`` stood: the TLS handshake, the WebSocket
upgrade (websocket-client reads and writes it as a socket), pongs, openings and closes go through
its blocking socket methods, which wait on gevent's socket beneath. A ``wss://`` round trip takes
the lean path as a plain one does (:mod:`wslocust.lean`): its bytes are read with ``recvmsg_into``
on the non-blocking OS socket, so each block keeps the kernel's receive time, and
:meth:`TlsSocket.decrypt` turns the block into the plaintext the connection reads; a prompt is
:meth:`TlsSocket.encrypt` ed and sent in one ``send``.
"""

from __future__ import annotations

import _socket
import socket
import ssl
from collections.abc import Callable
from typing import Any, cast

from .sockets import RECEIVE_BYTES

__all__ = ["TlsSocket"]

_MAX_PLAINTEXT = 16384
"""The most plaintext a TLS record holds (RFC 8446 §5.1, RFC 5246 §6.2.1)."""


class TlsSocket:
    """A client's TLS connection over ``sock`` (gevent's socket, connected), socket-like.

    Args:
        sock: the connected TCP socket.
        context: the TLS settings (verification, client certificate).
        server_hostname: the name sent as SNI and checked against the certificate (the URL's host,
            whatever address was dialled).
    """

    __slots__ = (
        "_incoming",
        "_outgoing",
        "_plaintext_pending",
        "_read",
        "_take_in",
        "_write",
        "ssl_object",
        "tcp",
    )

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str | None) -> None:
        self.tcp = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self.ssl_object = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        # The C object beneath ssl.SSLObject, whose read/write/pending are one-line wrappers of its
        # methods of the same names: called directly, a round trip saves a Python frame a call.
        native = getattr(self.ssl_object, "_sslobj", self.ssl_object)
        # read(n, buffer) returns the count (typeshed says bytes): typed here, as no cast() (a call).
        self._read: Callable[..., Any] = native.read
        self._write = native.write
        self._plaintext_pending = native.pending
        self._take_in = self._incoming.write

    # -- blocking, through gevent's socket: the handshakes, pongs, openings, closes --------------

    def do_handshake(self) -> None:
        """Perform the TLS handshake (within the socket's timeout for each wait).

        Raises:
            ssl.SSLError: the handshake failed (a certificate refused: ``SSLCertVerificationError``).
            OSError: the connection failed or closed.
        """
        while True:
            try:
                self.ssl_object.do_handshake()
            except ssl.SSLWantReadError:
                self._flush()
                self._fill()
                continue
            self._flush()
            return

    def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self.tcp.sendall(data)

    def _fill(self) -> None:
        data = self.tcp.recv(RECEIVE_BYTES)
        if not data:
            self._incoming.write_eof()
            raise ConnectionResetError("the server closed the TLS connection")
        self._incoming.write(data)

    def sendall(self, data: bytes | memoryview) -> None:
        """Encrypt and send all of ``data``."""
        view = memoryview(data)
        while view:
            written = self._write(view)
            view = view[written:]
        self._flush()

    def send(self, data: bytes | memoryview) -> int:
        self.sendall(data)
        return len(data)

    def recv(self, size: int) -> bytes:
        """Up to ``size`` bytes of plaintext; b"" once the server closed the connection."""
        while True:
            try:
                return cast(bytes, self._read(size))
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill_or_eof():
                    return b""
            except ssl.SSLZeroReturnError:
                return b""

    def recv_into(self, buffer: memoryview | bytearray, size: int = 0) -> int:
        """Read plaintext into ``buffer``; 0 once the server closed the connection."""
        while True:
            try:
                return cast(int, self._read(size or len(buffer), buffer))  # typeshed: bytes
            except ssl.SSLWantReadError:
                self._flush()
                if not self._fill_or_eof():
                    return 0
            except ssl.SSLZeroReturnError:
                return 0

    def _fill_or_eof(self) -> bool:
        data = self.tcp.recv(RECEIVE_BYTES)
        if not data:
            return False
        self._incoming.write(data)
        return True

    def pending(self) -> int:
        """Bytes received but not read yet: plaintext decrypted, and records not decrypted yet (a
        blocking read takes one record a call, and the rest waits in memory, not in the socket)."""
        return self._plaintext_pending() + self._incoming.pending

    def settimeout(self, seconds: float | None) -> None:
        self.tcp.settimeout(seconds)

    def gettimeout(self) -> float | None:
        return self.tcp.gettimeout()

    def setsockopt(self, *args: Any) -> None:
        self.tcp.setsockopt(*args)

    def fileno(self) -> int:
        return self.tcp.fileno()

    def shutdown(self, how: int) -> None:
        self.tcp.shutdown(how)

    def close(self) -> None:
        self.tcp.close()

    # -- the lean path: bytes in, bytes out, no waiting -------------------------------------------

    def decrypt(self, buffer: memoryview, size: int, answer_to: _socket.socket | None = None) -> bytes:
        """The plaintext that the ``size`` bytes received at the start of ``buffer`` (the hub's block
        buffer) complete; b"" when they end no TLS record. With ``size`` 0, what TLS holds already
        (what a blocking read took ahead).

        What TLS itself has to send after reading (a key update's answer, a TLS 1.2 renegotiation's
        hello: rare and tiny) is sent on ``answer_to`` (the connection's non-blocking OS socket) at
        once; without it, it waits for the next write.

        The server's close_notify ends the plaintext (what came before it is returned); the TCP
        connection's end follows it, and the read that finds it says the connection is over.

        Raises:
            ssl.SSLError: the records are broken.
        """
        if size:
            self._take_in(buffer[:size])
            try:
                # A read takes one record. A record whole in the block holds less plaintext than the
                # block (its header and tag take room): read(size) takes all of it, as bytes at once.
                data: bytes = self._read(size if size < _MAX_PLAINTEXT else _MAX_PLAINTEXT)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                self._answer(answer_to)
                return b""
            if len(data) < size or size >= _MAX_PLAINTEXT:  # TLS holds none of the record
                if self._incoming.pending or self._outgoing.pending:
                    return self._rest([data], buffer, answer_to)
                return data  # the usual block: one record, read whole, nothing to answer
            pieces = [data]  # a record begun in an earlier block may hold more: read on
        else:
            pieces = []
        try:
            count: int = self._read(len(buffer), buffer)  # more than a record holds: the record's rest
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            self._answer(answer_to)
            return b"".join(pieces)
        pieces.append(buffer[:count].tobytes())
        return self._rest(pieces, buffer, answer_to)

    def _rest(self, pieces: list[bytes], buffer: memoryview, answer_to: _socket.socket | None) -> bytes:
        """``pieces`` and the plaintext of the other whole records TLS holds (TLS holds no plaintext
        of the records read so far)."""
        read, room = self._read, len(buffer)  # more than a record holds: a read takes a whole record
        while self._incoming.pending:
            try:
                count = read(room, buffer)
            except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                break  # the rest of a record to come, or the server's close_notify
            pieces.append(buffer[:count].tobytes())
        self._answer(answer_to)
        return b"".join(pieces)

    def _answer(self, answer_to: _socket.socket | None) -> None:
        """Send what TLS itself has to send after a read, if anything (see :meth:`decrypt`)."""
        if answer_to is not None and self._outgoing.pending:
            answer_to.send(self._outgoing.read())

    def encrypt(self, data: bytes) -> bytes:
        """``data`` as TLS records, ready to send (with anything TLS itself has to send)."""
        written = self._write(data)  # all of it, but for a write the records' size limits
        if written < len(data):
            view = memoryview(data)[written:]
            while view:
                view = view[self._write(view) :]
        return self._outgoing.read()
