"""A connection's opening: dial, TLS and the WebSocket upgrade within one deadline.

websocket-client performs the opening handshake (headers, origin, subprotocols) on a socket dialled
here, so that ``connect_to`` can dial another address while the URL's host stays in the Host header
and the TLS server name; :mod:`wslocust.wire.handshake` decides what is sent and which redirects are
followed. Every failure becomes one :class:`~wslocust.errors.ConnectError` or
:class:`~wslocust.errors.HandshakeRejected` naming its cause.
"""

from __future__ import annotations

import errno
import resource
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import gevent
import websocket

from .errors import ConfigurationError, ConnectError, HandshakeRejected, OpenFileLimitReached
from .source_addresses import SourceAddressFailure, dial
from .tls import TlsSocket
from .tls_context import tls_failure
from .wire.deflate import Compression
from .wire.handshake import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    check_wire_text,
    expand_env,
    handshake_url,
    redirect_target,
)

__all__ = ["FILES_KEPT_FREE", "Dial", "Upgrade", "open_socket"]


@dataclass(frozen=True, slots=True)
class Upgrade:
    """What the upgrade request carries (the headers and query may hold ``${VAR}`` secrets)."""

    query: str | None
    headers: Sequence[str]
    origin: str | None
    subprotocols: Sequence[str]
    follow_redirects: bool


@dataclass(frozen=True, slots=True)
class Dial:
    """Where and how to dial: the address, the local address of this connection, the deadline in
    seconds, and TLS (None on ``ws://``) with its server name."""

    address: tuple[str, int]
    source: Callable[[], tuple[str, int] | None]
    timeout_s: float
    tls: ssl.SSLContext | None
    server_name: str | None


FILES_KEPT_FREE = 32
"""Files a process keeps free of connections, for Locust's own (its CPU reading of ``/proc``, logs,
CSVs, the web UI): at the open-file limit, Locust's reading failed, and its crash ended the run."""


def _keep_files_free(sock: socket.socket, where: str) -> None:
    """Close ``sock`` and fail its connect when it leaves fewer than :data:`FILES_KEPT_FREE` files
    free: a new file takes the lowest free number, so a number that high means all below are open.

    Raises:
        OpenFileLimitReached: too few files left free.
    """
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit != resource.RLIM_INFINITY and sock.fileno() >= limit - FILES_KEPT_FREE:
        sock.close()
        raise OpenFileLimitReached(_no_room(where, f"{FILES_KEPT_FREE} kept free of the limit of {limit}"))


def _no_room(where: str, why: str) -> str:
    return (
        f"no connection to {where}: the open-file limit is reached ({why}): raise it (ulimit -n), or "
        "spread the users over more processes (--processes) or hosts"
    )


def open_socket(
    url: str, upgrade: Upgrade, how: Dial, compression: Compression
) -> tuple[socket.socket, str | None]:
    """Dial, wrap TLS and perform the upgrade within one deadline.

    A redirect is followed only with ``follow_redirects``, only within the URL's origin and at
    most ``MAX_REDIRECTS`` times: the headers and query (secrets) go to no other host.

    Returns:
        The open socket (a :class:`~wslocust.tls.TlsSocket` on ``wss://``) and the subprotocol the
        server chose.

    Raises:
        ConnectError: the dial, TLS or the handshake failed (the message says which and why).
        HandshakeRejected: the server answered the upgrade with another status.
    """
    host, port = how.address
    target = handshake_url(url, upgrade.query)
    headers = [
        *(expand_env(header, "a handshake header") for header in upgrade.headers),
        *compression.headers,
    ]
    origin = None if upgrade.origin is None else check_wire_text(upgrade.origin, "the origin")
    sock: socket.socket | None = None
    status = 0
    # One deadline for the whole connect: socket timeouts restart with every byte, so a server
    # trickling its answer would otherwise hold the user for ever.
    deadline = gevent.Timeout(how.timeout_s)
    deadline.start()
    try:
        for _hop in range(MAX_REDIRECTS + 1):
            sock = dial((host, port), how.timeout_s, how.source())
            _keep_files_free(sock, f"{host}:{port}")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if how.tls is not None:  # TLS over the socket's bytes: see tls.py
                tls = TlsSocket(sock, how.tls, how.server_name)
                tls.do_handshake()
                sock = cast(socket.socket, tls)  # socket-like: what follows reads and writes it
            handshake = websocket.WebSocket(skip_utf8_validation=True, enable_multithread=False)
            try:
                handshake.connect(
                    target,
                    socket=sock,
                    header=headers,
                    origin=origin,
                    subprotocols=list(upgrade.subprotocols) or None,
                    timeout=how.timeout_s,
                    redirect_limit=0,  # websocket-client would take the headers to any host
                )
            except websocket.WebSocketException:
                response = handshake.handshake_response
                if response is None or response.status not in REDIRECT_STATUSES:
                    raise
                status = response.status
                location = response.headers.get("location")
                target = redirect_target(url, status, location, follow_redirects=upgrade.follow_redirects)
                sock.close()
                continue
            compression.agree(handshake.getheaders(), f"{host}:{port}")
            return sock, handshake.getsubprotocol()
        raise HandshakeRejected(
            status, message=f"handshake redirected more than {MAX_REDIRECTS} times (HTTP {status})"
        )
    except BaseException as error:
        if sock is not None:
            sock.close()
        if isinstance(error, websocket.WebSocketBadStatusException):
            raise HandshakeRejected(error.status_code, error.status_message or "") from None
        if isinstance(error, ConfigurationError | ConnectError):
            raise
        where = f"{host}:{port}"
        if isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE):
            raise OpenFileLimitReached(_no_room(where, error.strerror or str(error))) from None
        if isinstance(error, SourceAddressFailure):  # before gaierror: not a name that does not resolve
            raise ConnectError(f"cannot dial {where} from {error}") from None
        if isinstance(error, ConnectionRefusedError):
            raise ConnectError(f"connection refused: {where}") from None
        if isinstance(error, socket.gaierror):
            raise ConnectError(f"cannot resolve host {host!r}") from None
        if error is deadline or isinstance(error, TimeoutError | websocket.WebSocketTimeoutException):
            raise ConnectError(f"no handshake within {how.timeout_s:g} s: {where}") from None
        if isinstance(error, ssl.SSLError):  # a refused certificate says why (self-signed...)
            raise ConnectError(tls_failure(error, where)) from None
        if isinstance(error, OSError | websocket.WebSocketException):
            raise ConnectError(f"cannot connect to {where}: {error}") from None
        raise
    finally:
        deadline.close()
