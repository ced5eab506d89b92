"""A plain connection between replies: what the server sends read in the hub, pings answered there.

An idle connection's usual visitor is the server's ping (every 20-30 s on most servers). Handing
each one to a fresh greenlet (spawn, switch in, read, send, switch out, free) cost some 35 µs of
CPU a ping, which is what thousands of idle connections then cost their process. On a plain
(``ws://``) connection the socket beneath gevent's is non-blocking, so the I/O watcher's callback
reads the block itself and sends the pong with one non-blocking ``send``: the hub never waits.
Anything else (a close, a protocol's answer, a pong the socket's buffer cannot take whole, a lost
connection) is left to a greenlet, which may block.
"""

from __future__ import annotations

import _socket
from collections.abc import Callable

from .wire.connection import Action, Pong, Send

__all__ = ["read_in_hub"]


def read_in_hub(
    raw: _socket.socket, buffer: memoryview, receive: Callable[[bytes, float], list[Action] | None]
) -> tuple[int, list[Action]] | None:
    """Read one block from a non-blocking socket into ``receive`` and send the pongs it asks for.

    Args:
        raw: the connection's non-blocking OS socket (a plain connection's).
        buffer: the block buffer to read into.
        receive: the connection's ``receive(data, time_ms)``.

    Returns:
        ``(pongs sent, actions left)``: the actions a greenlet must still perform, in order (the
        rest of a pong the socket took in part, as a :class:`Send`); or None when the connection
        was closed or failed (a greenlet reads it again and drops it).
    """
    try:
        size = raw.recv_into(buffer)
    except BlockingIOError:  # woken for nothing (another reader took it)
        return 0, []
    except OSError:
        return None
    if not size:
        return None
    actions = receive(buffer[:size].tobytes(), 0.0)
    if not actions:
        return 0, []
    pongs = 0
    left: list[Action] = []
    for action in actions:
        if left or type(action) is not Pong:
            left.append(action)
            continue
        frame = action.frame
        try:
            sent = raw.send(frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            return None
        pongs += 1
        if sent < len(frame):
            left.append(Send(frame[sent:]))
    return pongs, left
