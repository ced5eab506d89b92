"""The OS socket beneath gevent's wrapper, for the client's lean ``ws://`` path: the non-blocking
socket of a plain connection, and the kernel's receive timestamps (see :mod:`wslocust.client`)."""

from __future__ import annotations

import _socket
import socket
import ssl
import struct
import sys
import weakref

from gevent.hub import Hub

__all__ = [
    "RECEIVE_BYTES",
    "SO_TIMESTAMPNS",
    "STAMP_SPACE",
    "TIMESPEC",
    "arrival_ms",
    "raw_socket",
    "receive_buffer",
    "stamp_receptions",
]

RECEIVE_BYTES = 256 * 1024
"""The size of the buffer sockets are read into: a read takes what the kernel holds, up to this."""

SO_TIMESTAMPNS = 35
"""Linux's receive timestamps (and SCM_TIMESTAMPNS, its control message): with each read, the time
the kernel received the read's last packet, as a struct timespec of the real-time clock."""

TIMESPEC = struct.Struct("@qq")
"""A struct timespec: the kernel's receive time of a read (SO_TIMESTAMPNS's control message)."""

STAMP_SPACE = socket.CMSG_SPACE(TIMESPEC.size)
"""The ancillary buffer size ``recvmsg_into`` needs for that control message."""


def arrival_ms(stamps: list[tuple[int, int, bytes]], started_at: float, now_ms: float) -> float:
    """When a read's bytes arrived, in ms since ``started_at`` (a ``time.time()``): the kernel's
    receive time from ``recvmsg_into``'s control messages when it has one and it is earlier than
    ``now_ms`` (the read's own time), else ``now_ms``. Not when a busy greenlet got to read them: a
    loaded generator's scheduling delay is not the bot's latency; a clock step keeps our reading."""
    if stamps and stamps[0][1] == SO_TIMESTAMPNS:
        seconds, nanoseconds = TIMESPEC.unpack(stamps[0][2])
        arrived_ms: float = (seconds - started_at + nanoseconds * 1e-9) * 1000.0
        if 0.0 <= arrived_ms < now_ms:
            return arrived_ms
    return now_ms


def raw_socket(sock: socket.socket) -> _socket.socket | None:
    """The non-blocking OS socket under gevent's wrapper of a plain TCP connection, else None.

    None for a TLS socket (its bytes must go through the SSL object) and for a socket that is not
    gevent's (an unpatched, blocking one): those keep the socket's own ``sendall`` and ``recv_into``.
    """
    if isinstance(sock, ssl.SSLSocket):
        return None
    raw = getattr(sock, "_sock", None)
    if isinstance(raw, _socket.socket) and raw.gettimeout() == 0.0:
        return raw
    return None


def stamp_receptions(raw: _socket.socket) -> bool:
    """Ask the kernel to timestamp what the socket receives; False where it cannot (not Linux)."""
    if sys.platform != "linux":
        return False
    try:
        raw.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


_buffers: weakref.WeakKeyDictionary[Hub, memoryview] = weakref.WeakKeyDictionary()


def receive_buffer(hub: Hub) -> memoryview:
    """The block buffer that sockets are read into, one a hub (that is, an OS thread).

    Every greenlet of a hub runs in one OS thread and a block is copied out of the buffer before the
    greenlet can switch, so its connections share one buffer. A fresh 256 KiB ``bytes`` a ``recv``
    would cost a large allocation every call (glibc serves it with ``mmap`` and page faults, about
    15 µs, more than the rest of a round trip's reading together).
    """
    buffer = _buffers.get(hub)
    if buffer is None:
        buffer = _buffers[hub] = memoryview(bytearray(RECEIVE_BYTES))
    return buffer
