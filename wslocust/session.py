"""A connection's life beyond prompts and replies, for protocols that hold a dialogue of their own
(:class:`~wslocust.wire.managed.ManagedConnection`): the opening after the handshake (a Socket.IO
namespace connect, ``--on-connect`` messages and an ``--await-on-connect`` welcome: see
:mod:`wslocust.wire.sessions`), and replies that a quiet period ends. The I/O of
:mod:`wslocust.client`; the decisions are the wire layer's.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import socket
import ssl
import time
from collections.abc import Callable, Sequence

from .errors import ConnectError, ConnectionClosed, OpeningTimeout
from .wire.connection import Action, Close, Pong, Send
from .wire.frames import encode_close
from .wire.managed import ManagedConnection

__all__ = ["receive_quietly", "run_opening"]

_NETWORK_ERRORS = (OSError, ssl.SSLError)


def run_opening(
    sock: socket.socket,
    connection: ManagedConnection,
    buffer: memoryview,
    deadline: float,
    timeout_s: float,
    address: tuple[str, int],
) -> None:
    """Run the protocol's opening on a connection just upgraded: send what it sends first, then
    answer the server until the protocol is ready for prompts, by ``deadline``.

    Args:
        sock: the upgraded socket.
        connection: the connection's policy (its protocol runs the opening).
        buffer: where to read into.
        deadline: the connect's deadline, a ``time.perf_counter()``.
        timeout_s: the connect timeout (for the message).
        address: the address dialled (for the messages).

    Raises:
        ConnectError: no opening by the deadline (:class:`~wslocust.errors.OpeningTimeout`), the
            connection lost or ended by the server, or the session refused
            (:class:`~wslocust.errors.SessionRefused`).
        ProtocolError: the server broke the protocol.
    """
    what = f"{getattr(connection.protocol, 'opening_name', connection.protocol.name)} opening"
    where = "{}:{}".format(*address)
    try:
        data = connection.open()
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            if data:
                sock.sendall(data)
            if connection.ready:
                return
            size = sock.recv_into(buffer)
            if not size:
                raise ConnectError(f"the server dropped the connection during the {what}: {where}")
            actions: Sequence[Action] = connection.receive(buffer[:size].tobytes(), 0.0) or ()
            data = b"".join(action.frame for action in actions if isinstance(action, Pong | Send))
            closes = [action for action in actions if isinstance(action, Close)]
            if closes:
                sock.sendall(encode_close(closes[0].code))
                failure = connection.error
                if isinstance(failure, ConnectionClosed):
                    code = f" with code {failure.code}" if failure.code is not None else ""
                    raise ConnectError(f"the server ended the {what}{code} {failure.reason}".rstrip())
                raise failure or ConnectError(f"the server ended the {what}")
    except TimeoutError:
        hint = connection.protocol.opening_hint()
        raise OpeningTimeout(
            f"no {what} within {timeout_s:g} s: {where}" + (f": {hint}" if hint else "")
        ) from None
    except _NETWORK_ERRORS as failure:
        raise ConnectError(f"connection lost during the {what}: {where}: {failure}") from None


def receive_quietly(
    sock: socket.socket,
    connection: ManagedConnection,
    buffer: memoryview,
    start: float,
    deadline: float,
    perform: Callable[[Sequence[Action]], None],
) -> None:
    """Read the awaited reply when a quiet period may end it: each wait ends at the reply's deadline
    or at the quiet period's end, whichever is first (the reply's time is then its last chunk's).

    Args:
        sock: the connection's socket.
        connection: its policy, awaiting a reply.
        buffer: where to read into.
        start: when the reply's time started, a ``time.perf_counter()``.
        deadline: the reply's deadline, a ``time.perf_counter()``.
        perform: does what the connection asks (pongs, answers, a close).

    Raises:
        TimeoutError: the reply's deadline passed.
        ConnectionClosed: the server dropped the connection.
    """
    perf_counter = time.perf_counter
    while connection.reply is not None:
        now = perf_counter()
        wait = deadline - now
        if wait <= 0:
            raise TimeoutError
        quiet_until_ms = connection.quiet_until_ms
        if quiet_until_ms is not None:
            quiet_left = start + quiet_until_ms / 1000.0 - now
            if quiet_left <= 0:
                connection.end_quietly()
                return
            wait = min(wait, quiet_left)
        sock.settimeout(wait)
        try:
            size = sock.recv_into(buffer)
        except TimeoutError:
            continue  # the quiet period or the reply's time ran out: the loop says which
        if not size:
            raise ConnectionClosed(None, "(the server dropped the connection)")
        actions = connection.receive(buffer[:size].tobytes(), (perf_counter() - start) * 1000.0)
        if actions:
            perform(actions)
