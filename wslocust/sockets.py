"""The OS socket beneath gevent's wrapper, for the client's lean ``ws://`` path: the non-blocking
socket of a plain connection, and the kernel's receive timestamps (see :mod:`wslocust.client`)."""

from __future__ import annotations

import _socket
import socket
import ssl
import sys

__all__ = ["SO_TIMESTAMPNS", "raw_socket", "stamp_receptions"]

SO_TIMESTAMPNS = 35
"""Linux's receive timestamps (and SCM_TIMESTAMPNS, its control message): with each read, the time
the kernel received the read's last packet, as a struct timespec of the real-time clock."""


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
