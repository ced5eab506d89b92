"""The lean round trip of a ``ws://`` or ``wss://`` connection: gevent's socket layer bypassed, a
streamed reply read in the hub, the user's greenlet woken once a reply.

The prompt goes out in one ``send`` on the non-blocking OS socket beneath gevent's wrapper. The
user's greenlet then waits on the connection's libev I/O watcher and reads the reply's first block
itself (``recvmsg_into`` a shared buffer, with the kernel's receive time of the block on Linux),
handing it to the connection's :class:`~wslocust.wire.connection.Connection`: most round trips'
replies are that one block. When more is to come (a streamed reply), the watcher calls a reader
*in the hub* for each next block instead, and the greenlet, waiting on one
:class:`~gevent._waiter.Waiter`, is switched to only when the reply is over, when the connection
asks for an action (a pong, a close, a dropped push: sends may block, so the greenlet does them),
when reading fails, or when the reply's timer fires. A reply of 200 chunks arriving one by one
costs 200 reads in the hub, not 200 pairs of greenlet switches.

On a ``wss://`` connection the same reads take the TLS records (:mod:`wslocust.tls`): each block
is decrypted by the connection's ``SSLObject`` before the connection reads it, and keeps the
kernel's receive time; a prompt goes out as its TLS records in one ``send``.

The reader runs in the hub, which must neither block nor raise: it only reads (non-blocking) and
calls the sans-I/O connection; anything that goes wrong there (a network error, a protocol's bug)
is handed to the greenlet, which raises it as the old per-chunk loop did.
"""

from __future__ import annotations

import _socket
import socket
import time
from collections.abc import Callable, Sequence
from typing import Any

from gevent._waiter import Waiter
from gevent.hub import Hub

from .errors import ConnectionClosed
from .sockets import SO_TIMESTAMPNS, STAMP_SPACE, TIMESPEC
from .tls import TlsSocket
from .wire.connection import Action, Connection

__all__ = ["ReplyTimer", "read_reply", "send_prompt"]


class ReplyTimer:
    """A connection's reply deadline, one libev timer re-armed in full for every reply, and the
    :class:`~gevent._waiter.Waiter` the user's greenlet waits on during a reply (one a connection,
    cleared for every reply, rather than one made a reply).

    The timer is not stopped when a reply is over: re-arming a running timer costs less than a stop
    and a start, and one that fires between replies only leaves False in the waiter, which the next
    :meth:`arm` clears.

    Args:
        hub: the hub (OS thread) of the connection.
    """

    __slots__ = ("_hub", "_seconds", "_timer", "waiter", "wake")

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._timer: Any = None
        self._seconds = 0.0
        self.waiter = Waiter(hub)
        """What the user's greenlet waits on during a reply: the watcher, the timer and the hub's
        reader give it their news."""
        self.wake = self.waiter.switch
        """The waiter's ``switch``, bound once (the callback of the timer and the watcher)."""

    def arm(self, timeout_s: float) -> Any:
        """Clear the waiter of anything a past reply left in it (a timer that fired while the
        greenlet was not waiting) and start the timer for ``timeout_s`` from now; when it fires,
        the waiter gets False."""
        self.waiter.clear()
        timer = self._timer
        if timer is None or self._seconds != timeout_s:
            if timer is not None:
                timer.close()
            self._seconds = timeout_s
            timer = self._timer = self._hub.loop.timer(timeout_s, timeout_s)
        # again() arms it for its full repeat time from now (start() after a stop would only give
        # it what was left: libev keeps the remaining time of a stopped timer).
        timer.again(self.wake, False)
        return timer

    def stop(self) -> None:
        """Stop this connection's timer while a one-off one times the reply (:func:`send_prompt`'s);
        the next :meth:`arm` starts it again."""
        if self._timer is not None:
            self._timer.stop()

    def release(self, timer: Any) -> None:
        """The reply is over: close ``timer`` when it is a one-off one (:func:`send_prompt`'s); this
        connection's own runs on until the next :meth:`arm` (see the class)."""
        if timer is not self._timer:
            timer.close()

    def close(self) -> None:
        """Free the timer (the connection is gone)."""
        if self._timer is not None:
            self._timer.close()
            self._timer = None


def send_prompt(
    hub: Hub,
    sock: socket.socket,
    raw: _socket.socket,
    payload: bytes,
    reply_timer: ReplyTimer,
    deadline: float,
    timeout_s: float,
    watcher: Any,
) -> Any:
    """Send the prompt's ``payload`` in one ``send``; arm the reply's deadline. Return the timer.

    When the send buffer is full (a prompt larger than it), gevent's ``sendall`` waits for room for
    the rest, bounded by the deadline, and a one-off timer of what is left of it is returned (the
    caller closes it); the connection's I/O ``watcher`` (running, its callback the waiter's) and
    its own timer are stopped while that wait lets the hub run. The timer gives the reply's
    waiter (``reply_timer.waiter``) False when it fires; a timer firing while the greenlet is not
    waiting is kept by the ``Waiter`` and ends the reply at its next wait.
    """
    try:
        sent = raw.send(payload)
    except BlockingIOError:
        sent = 0
    if sent < len(payload):
        watcher.stop()
        reply_timer.stop()
        sock.settimeout(max(deadline - time.perf_counter(), 0.001))
        sock.sendall(memoryview(payload)[sent:])
        sock.settimeout(timeout_s)
        reply_timer.waiter.clear()
        timer = hub.loop.timer(max(deadline - time.perf_counter(), 0.0))
        timer.start(reply_timer.wake, False)
        watcher.start(reply_timer.wake, True)
        return timer
    return reply_timer.arm(timeout_s)  # the usual case: armed a few µs after the start


def read_reply(
    connection: Connection,
    raw: _socket.socket,
    stamped: bool,
    buffer: memoryview,
    watcher: Any,
    reply_timer: ReplyTimer,
    started_at: float,
    start: float,
    perform: Callable[[Sequence[Action]], None],
    tls: TlsSocket | None = None,
) -> None:
    """Read the awaited reply's blocks until the connection's reply is over: the first in the
    user's greenlet (most round trips' replies are one block: a wake-up of the greenlet on the
    watcher is the cheapest way to read one), the rest in the hub.

    The watcher comes running, its callback ``reply_timer.wake`` with True (the caller took it
    over from the idle watch). It is left running after a reply read in one block (the idle watch
    takes it over in turn: a running watcher's callback is changed for less than a stop and a
    start); it is stopped whenever the greenlet may block (an action performed) or the hub reads.

    Args:
        connection: the connection awaiting the reply (its ``reply`` becomes None when it is over).
        raw: the non-blocking OS socket.
        stamped: the kernel timestamps what ``raw`` receives (``SO_TIMESTAMPNS``).
        buffer: the hub's block buffer.
        watcher: the connection's libev I/O watcher (the caller stops it when this raised).
        reply_timer: the reply's timer (armed), and the waiter it gives False to.
        started_at: ``time.time()`` at ``start`` (the kernel's timestamps are of that clock).
        start: the ``time.perf_counter()`` the reply's times are measured from.
        perform: does what the connection asks (pongs, a close, a dropped push); may block.
        tls: a ``wss://`` connection's TLS: each block is decrypted before the connection reads it.

    Raises:
        TimeoutError: the reply's timer fired first.
        ConnectionClosed: the server dropped the connection.
        OSError: the socket failed.
    """
    buffers = [buffer]
    waiter, wake = reply_timer.waiter, reply_timer.wake
    while True:
        readable = waiter.get()
        if not readable:
            raise TimeoutError  # reported by the caller, as every missed deadline
        try:
            if stamped:
                size, stamps, _flags, _address = raw.recvmsg_into(buffers, STAMP_SPACE)
            else:
                size, stamps = raw.recv_into(buffer), None
        except BlockingIOError:
            continue  # woken with nothing to read after all
        if not size:
            raise ConnectionClosed(None, "(the server dropped the connection)")
        now_ms = (time.perf_counter() - start) * 1000.0
        if stamps and stamps[0][1] == SO_TIMESTAMPNS:
            # When the bytes arrived, not when this greenlet got to read them: a busy load
            # generator's scheduling delay is not the bot's latency. Both times are of the
            # real-time clock; a clock step mid-reply keeps our own reading.
            seconds, nanoseconds = TIMESPEC.unpack(stamps[0][2])
            arrived_ms = (seconds - started_at + nanoseconds * 1e-9) * 1000.0
            if 0.0 <= arrived_ms < now_ms:
                now_ms = arrived_ms
        if tls is None:
            data = buffer[:size].tobytes()
        else:
            data = tls.decrypt(buffer, size, raw)  # TLS's own answers (a key update's) sent on raw
            if not data:
                continue  # no TLS record complete yet
        actions = connection.receive(data, now_ms)
        if actions:
            watcher.stop()  # (the hub must not wake this greenlet while a send blocks it)
            perform(actions)  # a pong; a close (the reply failed) or a dropped push
        if connection.reply is None:
            return
        break
    _read_in_hub(connection, raw, stamped, buffers, watcher, waiter, wake, started_at, start, perform, tls)


def _read_in_hub(
    connection: Connection,
    raw: _socket.socket,
    stamped: bool,
    buffers: list[memoryview],
    watcher: Any,
    waiter: Waiter,
    switch: Callable[[Any], None],
    started_at: float,
    start: float,
    perform: Callable[[Sequence[Action]], None],
    tls: TlsSocket | None,
) -> None:
    """The rest of a streamed reply, read by the watcher's callback in the hub, which wakes the
    greenlet only at the reply's end, for an action, or with an error (see :func:`read_reply`)."""
    read_block = connection.block_reader()  # a chunk's block read where it lies, not copied
    stop = watcher.stop
    perf_counter = time.perf_counter
    unpack = TIMESPEC.unpack
    recvmsg_into = raw.recvmsg_into
    recv_into = raw.recv_into
    buffer = buffers[0]

    def readable() -> None:
        # In the hub: read what came, fold it in; wake the greenlet only when it has work to do.
        try:
            if stamped:
                size, stamps, _flags, _address = recvmsg_into(buffers, STAMP_SPACE)
            else:
                size = recv_into(buffer)
                stamps = None
            if not size:
                stop()
                switch(ConnectionClosed(None, "(the server dropped the connection)"))
                return
            now_ms = (perf_counter() - start) * 1000.0
            if stamps and stamps[0][1] == SO_TIMESTAMPNS:  # the block's arrival (see read_reply)
                seconds, nanoseconds = unpack(stamps[0][2])
                arrived_ms = (seconds - started_at + nanoseconds * 1e-9) * 1000.0
                if 0.0 <= arrived_ms < now_ms:
                    now_ms = arrived_ms
            if tls is None:
                actions = read_block(buffer, size, now_ms)
            else:
                data = tls.decrypt(buffer, size, raw)  # (see read_reply)
                if not data:
                    return  # no TLS record complete yet
                actions = read_block(data, len(data), now_ms)
        except BlockingIOError:
            return  # woken with nothing to read after all
        except BaseException as error:  # the hub must not raise: the greenlet does
            stop()
            switch(error)
            return
        if actions or connection.reply is None:
            stop()
            switch(actions or ())

    while connection.reply is not None:
        watcher.start(readable)
        outcome = waiter.get()
        stop()
        if outcome is False:
            raise TimeoutError
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome:
            perform(outcome)
