"""Several prompts in flight on one connection (``--in-flight N``): the I/O beside the client's.

A user keeps up to N prompts outstanding on its one connection, where the protocol tells the replies
apart (:attr:`~wslocust.wire.protocols.Protocol.correlates`). The user's greenlet sends (waiting for
a free slot first); one reader greenlet a connection reads every block with its receive time (the
kernel's, as on the lean path, when the socket gives it) and hands it to the connection's
:class:`~wslocust.wire.multiplex.Multiplexer`, which routes each message to its reply. Each reply is
one ``WS`` request event, timed from its own send, with its own deadline: a reply past it fails
alone (a timeout) and the connection stays open; a close or a dropped connection fails every
outstanding reply, each counted. Pings are answered with pongs.

The single-prompt path (:meth:`ChatClient.ask <wslocust.client.ChatClient.ask>`) is not used, nor
slowed: with ``--in-flight`` unset or 1, users ask through it as before.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import itertools
import logging
import os
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

import gevent
from gevent.hub import get_hub
from gevent.lock import Semaphore

from .client import ChatClient
from .errors import ConfigurationError, ConnectError, ConnectionClosed, WsLocustError
from .report import report_reply
from .settings import given, option_flag, parse_in_flight, required, setting
from .sockets import SO_TIMESTAMPNS, STAMP_SPACE, TIMESPEC, receive_buffer
from .wire.connection import Close, Pong
from .wire.multiplex import Multiplexer
from .wire.protocols import JsonProtocol, Protocol
from .wire.reply import REQUEST_TYPE, Reply

__all__ = ["InFlight", "in_flight_limit"]

_log = logging.getLogger(__name__)
_NETWORK_ERRORS = (OSError, ssl.SSLError)


def in_flight_limit(cls: type, options: Any, protocol: Protocol) -> int:
    """The prompts a user of ``cls`` keeps in flight (``--in-flight``, else ``cls.in_flight``).

    Raises:
        ConfigurationError: not a whole number of 1 or more, or more than 1 with a protocol that
            cannot tell replies apart (the message names the option and the protocol).
    """
    limit = required(setting(cls, options, "in_flight", parse_in_flight))
    if limit > 1 and not protocol.correlates:
        where = (
            option_flag("in_flight")
            if given(options, "in_flight") is not None
            else f"{cls.__name__}.in_flight"
        )
        name = protocol.name or type(protocol).__name__
        hint = (
            " without --json-id-path: give it, with {request_id} in --json-template"
            if isinstance(protocol, JsonProtocol)
            else ": use --protocol json with --json-id-path, or openai-realtime"
        )
        raise ConfigurationError(
            f"{where} {limit}: protocol {name} cannot tell replies apart (they name no prompt){hint}"
        )
    return limit


class InFlight:
    """Asks prompts on a :class:`~wslocust.client.ChatClient`'s connection, up to ``limit`` at once.

    :meth:`ask` returns once the prompt is sent; its reply completes later, in the connection's
    reader, which fires its request event (after the client's checks, as
    :meth:`ChatClient.ask <wslocust.client.ChatClient.ask>` does).

    Args:
        client: the connection (its settings, events, checks and ``CONNECT`` events).
        limit: the most prompts outstanding at once.
    """

    def __init__(self, client: ChatClient, limit: int) -> None:
        self.client = client
        self.limit = limit
        self._slots = Semaphore(limit)  # one a prompt in flight, released when its reply completes
        self._send_lock = Semaphore()  # the sender and the reader's pongs: one frame at a time
        self._mux: Multiplexer | None = None
        self._sock: socket.socket | None = None  # the connection's socket, while _mux is set
        self._reader: gevent.Greenlet | None = None
        self._ids = itertools.count(1)
        self._prefix = os.urandom(4).hex() + "-"  # request ids: unique across connections too
        self._failed_connects = 0
        self.unmatched = 0
        """Reply messages that answered no outstanding prompt (late, duplicate or unknown id), ignored."""

    @property
    def outstanding(self) -> int:
        """The prompts in flight now."""
        return len(self._mux.outstanding) if self._mux is not None else 0

    def ask(
        self,
        prompt: str,
        *,
        record: Mapping[str, Any] | None = None,
        name: str | None = None,
        scheduled_at: float | None = None,
    ) -> Reply:
        """Send one prompt once fewer than ``limit`` are in flight; its reply completes later.

        Connects first when the connection is closed (after a failed connect, waits the client's
        backoff: 0.1 s doubling to 5 s).

        Args:
            prompt: the prompt's text.
            record: the dataset record (templates and metrics read its fields).
            name: the request name to report; the client's ``default_name`` when None.
            scheduled_at: the ``time.perf_counter()`` at which the prompt was due (open-model load):
                its times count from then (a wait for a free slot too), its deadline from its send.

        Returns:
            The reply, complete once its request event fired. When the connection cannot be opened,
            it is not sent and fires no ``WS`` event (the ``CONNECT`` event carries the failure).
        """
        client = self.client
        reply = Reply(prompt, name or client.default_name, record or {})
        self._slots.acquire()
        try:
            mux = self._mux if self._mux is not None else self._connect()
        except BaseException:
            self._slots.release()
            raise
        sock = self._sock
        if mux is None or sock is None:
            self._slots.release()
            reply.error = ConnectError("not connected")
            return reply
        reply.started_at = time.time()
        sent = start = time.perf_counter()
        if scheduled_at is not None and scheduled_at < start:
            reply.send_delay_ms = (start - scheduled_at) * 1000.0
            reply.started_at -= start - scheduled_at
            start = scheduled_at
        request_id = f"{self._prefix}{next(self._ids)}"
        payload = mux.start(reply, request_id, start, client.reply_timeout_s, sent_s=sent)
        try:
            with self._send_lock:
                sock.sendall(payload)
        except _NETWORK_ERRORS as failure:
            self._lost(mux, ConnectionClosed(None, f"({failure.__class__.__name__}: {failure})"))
        return reply

    def finish(self) -> None:
        """Wait until every prompt in flight has its reply (each slot free), then close the connection."""
        for _ in range(self.limit):
            self._slots.acquire()
        try:
            self._stop_reader()
            self._mux, self._sock = None, None
            self.client.close()
        finally:
            for _ in range(self.limit):
                self._slots.release()

    def close(self, *, wait_s: float = 0.0) -> None:
        """Stop (the user is stopping): the replies in flight fire no event, each handed to the
        client's ``on_stopped_mid_reply`` (counted as in flight at the stop); close the connection.

        Args:
            wait_s: a graceful stop (Locust's ``--stop-timeout``): first let the replies in flight
                end, each reported, for up to this many seconds, as a reply under way on the
                one-prompt path does (those still in flight then count as in flight at the stop).
        """
        try:
            if wait_s > 0:
                with gevent.Timeout(wait_s, False):
                    self.finish()
        finally:
            self._stop()

    def _stop(self) -> None:
        self._stop_reader()
        mux, self._mux, self._sock = self._mux, None, None
        if mux is not None:
            stopped = list(mux.outstanding.values())
            mux.outstanding.clear()
            if self.client.on_stopped_mid_reply is not None:
                for pending in stopped:
                    self.client.on_stopped_mid_reply(pending.reply)
        self._slots = Semaphore(self.limit)
        self.client.close()

    def _stop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None and reader is not gevent.getcurrent():
            reader.kill(block=True)

    def _connect(self) -> Multiplexer | None:
        """Open the connection (or take the one the user opened at its start) and start its reader;
        None when it cannot be opened."""
        client = self.client
        if not client.connected:
            if self._failed_connects:
                gevent.sleep(min(0.1 * 2 ** (self._failed_connects - 1), 5.0))
            if not client.connect():
                self._failed_connects += 1
                return None
        self._failed_connects = 0
        sock = client.hand_over()
        if sock is None:
            return None
        compression = client.compression
        mux = Multiplexer(
            client.protocol, compression.reader(client.max_message_bytes), deflate=compression.agreed
        )
        self._mux, self._sock = mux, sock
        self._reader = gevent.spawn(self._read_guarded, sock, mux)
        return mux

    def _read_guarded(self, sock: socket.socket, mux: Multiplexer) -> None:
        """Run the reader; should it fail (a check or a listener raising), every reply in flight fails
        with the error, each reported, so that no sender waits for ever on a slot."""
        try:
            self._read(sock, mux)
        except Exception as error:
            _log.exception("the reader of a connection with prompts in flight failed")
            self._forget(mux)
            self.client.close()
            failed = mux.fail_all(
                ConnectionClosed(None, f"(the reader failed: {error!r})"), time.perf_counter()
            )
            for reply in failed:
                self._slots.release()
                self.client.environment.events.request.fire(
                    request_type=REQUEST_TYPE, name=reply.name, response_time=reply.total_time_ms,
                    response_length=reply.bytes, exception=reply.error, context={}, response=reply,
                    start_time=reply.started_at, url=None,
                )  # fmt: skip

    def _read(self, sock: socket.socket, mux: Multiplexer) -> None:
        """The connection's reader: every block to the multiplexer, each completed reply reported,
        each deadline kept; ends when the connection does."""
        buffer = receive_buffer(get_hub())
        buffers = [buffer]
        stamped = isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket)  # not TLS
        perf_counter = time.perf_counter
        idle_wait_s = self.client.reply_timeout_s
        while True:
            deadline = mux.next_deadline_s
            # Nothing in flight: wake after a reply timeout anyway, so that a prompt sent meanwhile
            # (its deadline a full timeout after its send) is never waited for past its deadline.
            wait_s = idle_wait_s if deadline is None else max(deadline - perf_counter(), 0.0)
            timer = gevent.Timeout(wait_s)
            timer.start()
            try:
                if stamped:
                    size, stamps, _flags, _address = sock.recvmsg_into(buffers, STAMP_SPACE)
                else:
                    size = sock.recv_into(buffer)
                    stamps = []
            except gevent.Timeout as fired:
                if fired is not timer:
                    raise
                self._report(mux.expire(perf_counter()))
                continue
            except _NETWORK_ERRORS as failure:
                self._lost(mux, ConnectionClosed(None, f"({failure.__class__.__name__}: {failure})"))
                return
            finally:
                timer.close()
            now = perf_counter()
            if not size:
                self._lost(mux, ConnectionClosed(None, "(the server dropped the connection)"))
                return
            if stamps and stamps[0][1] == SO_TIMESTAMPNS:
                # When the bytes arrived, not when this greenlet got to read them (see client.py).
                seconds, nanoseconds = TIMESPEC.unpack(stamps[0][2])
                waited_s = time.time() - (seconds + nanoseconds * 1e-9)
                if 0.0 <= waited_s < 1.0:
                    now -= waited_s
            unmatched = mux.unmatched
            done, actions = mux.receive(buffer[:size].tobytes(), now)
            self.unmatched += mux.unmatched - unmatched
            self._report(done)
            for action in actions:
                if type(action) is Pong:
                    try:
                        with self._send_lock:
                            sock.sendall(action.frame)
                        self.client.pings_answered += 1
                    except _NETWORK_ERRORS:
                        pass  # the next read says the connection is gone
                elif type(action) is Close:  # the multiplexer failed every reply in flight already
                    self._forget(mux)
                    self.client.close(action.code)
                    return
            self._report(mux.expire(perf_counter()))

    def _lost(self, mux: Multiplexer, error: WsLocustError) -> None:
        """The connection is gone: every reply in flight fails with ``error``, each reported."""
        self._forget(mux)
        self._report(mux.fail_all(error, time.perf_counter()))
        self.client.close()

    def _forget(self, mux: Multiplexer) -> None:
        if self._mux is mux:
            self._mux, self._sock = None, None
            if self._reader is gevent.getcurrent():
                self._reader = None

    def _report(self, replies: list[Reply]) -> None:
        """Run the client's checks on each completed reply, fire its request event, free its slot."""
        client = self.client
        for reply in replies:
            self._slots.release()  # first: a check that raises must not hold the slot for ever
            report_reply(client.environment, client.checks, reply)
