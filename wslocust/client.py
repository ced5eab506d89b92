"""The WebSocket client: the only module that touches a socket. It moves bytes and time; the
decisions are the socket-free wire layer's.

The opening (dial, TLS, the upgrade within one deadline) is :mod:`wslocust.dialing`'s. Then a
prompt's frames go out in one send, and each block read goes, with its receive time, to the
connection's :class:`~wslocust.wire.connection.Connection`, which builds the reply and says what to do
(answer a ping, close, count a pushed message).

On a plain (``ws://``) connection a round trip takes the lean path of :mod:`wslocust.lean`:
gevent's socket layer bypassed, one ``send`` on the non-blocking socket beneath it, reads with
``recvmsg_into`` (the kernel's receive time of each block: chunk times are when the bytes arrived,
not when a busy process got round to reading them), the wait on the connection's libev watcher and
one timer a reply, and a streamed reply's chunks read in the hub, the user's greenlet woken once a
reply. ``wss://`` takes the same path: TLS through an ``SSLObject`` over memory BIOs on the same
raw socket (:mod:`wslocust.tls`), so its blocks keep their kernel receive times too.

Between prompts, a libev I/O watcher (no greenlet) wakes when the server sends something, and a
short-lived greenlet reads it into the same ``Connection``. So think times longer than a server's
ping timeout do not get the connection dropped, and nothing pushed between replies is counted in
the next one.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.env import Environment

import _socket
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import gevent
from gevent import GreenletExit
from gevent.hub import Hub, get_hub

from .dialing import Dial, Upgrade, open_socket
from .errors import (
    ConfigurationError,
    ConnectError,
    ConnectionClosed,
    ReplyError,
    ReplyTimeout,
    WsLocustError,
)
from .idle import read_in_hub
from .keepalive import KeepAlive
from .lean import ReplyTimer, read_reply, send_prompt
from .pacer import masked_frame
from .report import report_reply
from .session import receive_quietly, run_opening
from .sockets import raw_socket as _raw_socket
from .sockets import receive_buffer
from .sockets import stamp_receptions as _stamp_receptions
from .source_addresses import NO_SOURCE_ADDRESS, SourceAddresses
from .tls import TlsSocket
from .tls_context import TlsFiles, shared_tls_context
from .wire.connection import Action, Close, Connection, Pong, Send
from .wire.deflate import Compression
from .wire.frames import DEFAULT_MAX_MESSAGE_BYTES, encode_close
from .wire.handshake import (
    check_headers,
    check_url,
    check_wire_text,
    dial_address,
    expand_env,
    parse_connect_to,
)
from .wire.managed import ManagedConnection, connection_for
from .wire.protocols import Message, Protocol
from .wire.reply import CONNECT_REQUEST_TYPE, REQUEST_TYPE, Check, Reply

__all__ = [
    "CONNECT_REQUEST_TYPE",
    "REQUEST_TYPE",
    "ChatClient",
    "Check",
    "Reply",
    "check_url",
    "check_wire_text",
    "expand_env",
    "parse_connect_to",
]

# The network faults a round trip can meet, reported as failures rather than raised.
_NETWORK_ERRORS = (OSError, ssl.SSLError)

_DIALS: dict[tuple[str, int], tuple[str, int]] = {}
"""One (host, port) tuple for every client dialling it (a process holds thousands)."""


class ChatClient:
    """A WebSocket connection to a chatbot that reports to Locust.

    Each connect fires a ``CONNECT`` request event (handshake time); each :meth:`ask` fires one
    ``WS`` request event for the whole round trip. Failures are reported in the event, never raised.
    A round trip cut short by its user's stop (the prompt sent, the reply not ended) fires no event:
    it is handed to ``on_stopped_mid_reply(reply)`` when one is given, so the results can count it
    as in flight at the stop; a connect cut short so (the handshake not done) fires no ``CONNECT``
    event and calls ``on_stopped_mid_connect()``.

    Args:
        environment: the Locust environment whose events are fired.
        url: ``ws://`` or ``wss://`` URL of the bot.
        protocol: how prompts and replies are framed (one instance per client).
        origin: the ``Origin`` header, if any.
        headers: extra handshake headers, ``"Name: value"``; ``${VAR}`` is read from the environment.
        subprotocols: WebSocket subprotocols to offer.
        connect_timeout_s: time allowed for TCP, TLS and the upgrade.
        reply_timeout_s: time allowed for a complete reply.
        verify_tls: check the server's certificate and name (on by default).
        follow_redirects: follow a redirect of the upgrade (at most ``MAX_REDIRECTS``) when it
            stays within the URL's origin (scheme, host and port); off by default, and a redirect
            to another origin is never followed, so headers and query go to no other host.
        connect_to: dial this ``host[:port]`` instead of the URL's, keeping the URL's Host header
            and TLS server name (a DNS override).
        max_message_bytes: the largest message the server may send; a larger one fails the reply
            and the connection (close code 1009).
        query: extra query string appended to the URL at connect time (``${VAR}`` expanded); it is
            never reported.
        default_name: the request name of prompts that have none.
        checks: run on each reply before its event fires (metrics); an error returned fails it.
        on_stopped_mid_reply: given each round trip cut short by its user's stop after its prompt
            went out (it fires no event).
        on_stopped_mid_connect: called for each connect cut short by its user's stop (it fires no
            event).
        compression: ``"deflate"`` offers permessage-deflate (RFC 7692): a server that accepts sends
            compressed messages and gets compressed prompts; ``"none"`` (the default) offers nothing.
        tls_files: on ``wss://``, a CA to trust beside the system's and a client certificate to present.
    """

    # A client is held by every user, idle ones too: slots keep its attributes in one small block
    # instead of a dictionary of its own (past 30 attributes, Python gives each instance a 1.6 KB one).
    __slots__ = (
        "_buffer", "_connection", "_dial", "_failed_connects", "_hub", "_idle_greenlet", "_idle_watcher",
        "_quiet", "_raw", "_reply_timer", "_server_name", "_sock", "_stamped", "_tls", "_tls_problem",
        "_tls_socket", "checks", "compression", "connect_timeout_s", "connected", "default_name", "dial_from",
        "environment", "follow_redirects", "headers", "keepalive", "max_message_bytes", "name_suffix",
        "on_server_close", "on_stopped_mid_connect", "on_stopped_mid_reply", "origin", "pings_answered",
        "protocol", "pushed_messages", "query", "reply_timeout_s", "subprotocol", "subprotocols", "url",
    )  # fmt: skip

    def __init__(
        self,
        environment: Environment,
        url: str,
        protocol: Protocol,
        *,
        origin: str | None = None,
        headers: Sequence[str] = (),
        subprotocols: Sequence[str] = (),
        connect_timeout_s: float = 10.0,
        reply_timeout_s: float = 60.0,
        verify_tls: bool = True,
        follow_redirects: bool = False,
        connect_to: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        query: str | None = None,
        default_name: str = "ask",
        checks: Sequence[Check] = (),
        on_stopped_mid_reply: Callable[[Reply], None] | None = None,
        on_stopped_mid_connect: Callable[[], None] | None = None,
        compression: str = "none",
        tls_files: TlsFiles | None = None,
    ) -> None:
        check_url(url)
        url = protocol.resource(url)  # Socket.IO's /socket.io/?EIO=4&transport=websocket
        parts = urlsplit(url)
        self.environment = environment
        self.url = sys.intern(url)  # one string for every user of the URL, like the next two
        self.protocol = protocol
        self.origin = origin
        self.headers = tuple(check_headers(headers))
        self.subprotocols = tuple(subprotocols) or ((protocol.subprotocol,) if protocol.subprotocol else ())
        self.connect_timeout_s = connect_timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.default_name = default_name
        self.checks = tuple(checks)  # empty: the one shared empty tuple
        self.on_stopped_mid_reply = on_stopped_mid_reply
        self.on_stopped_mid_connect = on_stopped_mid_connect
        self.query = query
        self.follow_redirects = follow_redirects
        self.max_message_bytes = max_message_bytes
        self.compression = Compression(compression)
        """permessage-deflate: what is offered, and what the last handshake agreed (``.agreed``)."""
        self._server_name = sys.intern(parts.hostname) if parts.hostname else parts.hostname
        dial = dial_address(url, connect_to)
        self._dial = _DIALS.setdefault(dial, dial)
        self.dial_from: SourceAddresses = NO_SOURCE_ADDRESS  # local addresses, one a connection in turn
        self._tls: ssl.SSLContext | None = None
        self._tls_problem: ConfigurationError | None = None  # a worker without a file: said at connect
        if parts.scheme == "wss":
            try:
                self._tls = shared_tls_context(verify_tls, tls_files)
            except ConfigurationError as problem:
                self._tls_problem = problem
        self._sock: socket.socket | None = None
        self.connected = False
        """True while the WebSocket connection is open (it has a socket: read once a prompt, so a
        plain attribute set with the socket rather than a property)."""
        # The non-blocking OS socket under gevent's wrapper (None when replies take gevent's socket).
        self._raw: _socket.socket | None = None
        self._tls_socket: TlsSocket | None = None  # a wss:// connection's TLS (see tls.py)
        self._stamped = False  # the kernel timestamps what _raw receives
        self._hub: Hub = get_hub()
        self._buffer = receive_buffer(self._hub)
        self._reply_timer = ReplyTimer(self._hub)
        self._connection = self._new_connection()
        # A connection whose replies a quiet period may end (they take the gevent socket's path).
        self._quiet: ManagedConnection | None = None
        self._idle_watcher: Any = None
        self._idle_greenlet: gevent.Greenlet | None = None
        self._failed_connects = 0
        self.pushed_messages = 0
        """Messages the server sent outside any reply (dropped, counted)."""
        self.pings_answered = 0
        """Server pings answered with a pong."""
        self.subprotocol: str | None = None
        """The subprotocol the server chose at the last handshake."""
        self.on_server_close: Callable[[int], None] | None = None
        """Given the code of each connection the server closed (1006: lost without a close frame)."""
        self.name_suffix = ""
        """Appended to the name of every request event (the endpoint, when there are several)."""
        self.keepalive = KeepAlive.of(protocol, self._send_message)
        """Sends the protocol's keep-alive message while the connection is idle (None: it sends none)."""

    def _open(self) -> socket.socket:
        """Dial, wrap TLS and perform the upgrade (:func:`wslocust.dialing.open_socket`)."""
        if self._tls_problem is not None:
            raise ConfigurationError(str(self._tls_problem))
        sock, self.subprotocol = open_socket(
            self.url,
            Upgrade(self.query, self.headers, self.origin, self.subprotocols, self.follow_redirects),
            Dial(self._dial, self.dial_from.next, self.connect_timeout_s, self._tls, self._server_name),
            self.compression,
        )
        return sock

    def connect(self) -> bool:
        """Open the connection (closing any open one) and fire its ``CONNECT`` event.

        Returns:
            True when the connection is open.
        """
        self.close()
        started_at = time.time()
        start = time.perf_counter()
        error: WsLocustError | None = None
        opening: ManagedConnection | None = None
        try:
            self._sock = self._open()
            self.connected = True
            connection = self._new_connection()  # after the handshake: built for what it agreed
            if isinstance(connection, ManagedConnection):  # the protocol's opening: part of the connect
                deadline, opening = start + self.connect_timeout_s, connection
                buffer = receive_buffer(get_hub())
                run_opening(self._sock, connection, buffer, deadline, self.connect_timeout_s, self._dial)
        except (ConnectError, ReplyError) as failure:  # a ReplyError: the protocol's opening broke
            error = failure
            self._drop()
            code = opening.received_close if opening is not None else None
            if code is not None or (opening is not None and type(failure) is ConnectError):
                self._lost(1006 if code is None else code)  # the server closed or dropped it while opening
        except GreenletExit:  # its user is stopping: not an attempt that ended, but not lost either
            self._drop()
            if self.on_stopped_mid_connect is not None:
                self.on_stopped_mid_connect()
            raise
        elapsed_ms = (time.perf_counter() - start) * 1000.0
        self._failed_connects = self._failed_connects + 1 if error else 0
        self.environment.events.request.fire(
            request_type=CONNECT_REQUEST_TYPE,
            name="connect" + self.name_suffix,
            response_time=elapsed_ms,
            response_length=0,
            exception=error,
            context={},
            start_time=started_at,
            url=None,
        )
        if self._sock is None:
            return False
        self._quiet = (
            connection if isinstance(connection, ManagedConnection) and self.protocol.quiet_ms else None
        )
        opened: object = self._sock
        tls = opened if isinstance(opened, TlsSocket) else None
        self._tls_socket = tls
        self._raw = _raw_socket(tls.tcp if tls else self._sock) if self._quiet is None else None
        self._stamped = self._raw is not None and _stamp_receptions(self._raw)
        self._sock.settimeout(self.reply_timeout_s)  # bounds the rare sends that must wait (pongs)
        if self._hub is not get_hub():  # connected from another OS thread than the last time
            self._hub = get_hub()
            self._buffer = receive_buffer(self._hub)
            self._reply_timer = ReplyTimer(self._hub)
        self._connection = connection
        self._watch_idle()
        return True

    def _new_connection(self) -> Connection:
        compression = self.compression
        return connection_for(
            self.protocol,
            compression.reader(self.max_message_bytes),
            deflate=compression.agreed,
            framer=masked_frame,  # websockets' C masking (the wire layer masks with Python's integers)
        )

    def close(self, code: int = 1000) -> None:
        """Close the connection politely (a close frame, then the socket); safe when closed."""
        sock = self._forget()
        if sock is None:
            return
        try:
            sock.settimeout(1.0)
            sock.sendall(encode_close(code))
        except _NETWORK_ERRORS:
            pass
        finally:
            sock.close()

    def _forget(self) -> socket.socket | None:
        """Stop watching and drop the socket without a close handshake; return it."""
        sock, self._sock = self._sock, None
        self.connected = False
        self._raw = None
        self._tls_socket = None
        self._stamped = False
        self._reply_timer.close()
        if self.keepalive is not None:
            self.keepalive.disarm(closing=True)
        if self._idle_watcher is not None:
            self._idle_watcher.stop()
            self._idle_watcher.close()
            self._idle_watcher = None
        reader, self._idle_greenlet = self._idle_greenlet, None
        if reader is not None and not reader.dead and reader is not gevent.getcurrent():
            reader.kill(block=False)
        return sock

    def _drop(self) -> None:
        sock = self._forget()
        if sock is not None:
            sock.close()

    def _watch_idle(self, read_ahead: bool = True) -> None:
        """Watch the connection between replies, first reading what TLS holds in memory unless told
        it holds no whole record (``read_ahead`` False: a lean round trip decrypts every record of a
        block; bytes a blocking read took ahead would otherwise wait for the next prompt)."""
        if self._sock is None:
            return
        if self._idle_watcher is None:
            # One watcher a connection: between replies it wakes _on_idle_readable; during a round
            # trip (plain connections) the user's greenlet waits on it for the reply's blocks.
            fileno = self._sock.fileno()
            if fileno < 0:  # closed under us: the next prompt reconnects
                self._drop()
                return
            self._idle_watcher = self._hub.loop.io(fileno, 1)
        tls = self._tls_socket
        if read_ahead and tls is not None and tls.pending():  # the socket will not wake us for these
            self._read_ahead(tls)
            if not self.connected:  # the server closed it, or it was lost
                return
        self._idle_watcher.start(self._on_idle_readable)
        if self.keepalive is not None:
            self.keepalive.arm()

    def _on_idle_readable(self) -> None:
        # Runs in the hub, which must not block: a plain connection's pings are answered here
        # (wslocust.idle); the rest is read, or performed, by a greenlet.
        left: list[Action] | None = None
        if self._raw is not None and self._tls_socket is None:
            read = read_in_hub(self._raw, self._buffer, self._connection.receive)
            if read is not None:
                self.pings_answered += read[0]
                left = read[1]
                if not left:
                    return
        self._idle_watcher.stop()
        self._idle_greenlet = gevent.spawn(self._read_idle, left)

    def _read_idle(self, actions: list[Action] | None = None) -> None:
        """Perform ``actions`` (left by the hub's read), then read whatever else the server sent
        between replies, without blocking."""
        sock = self._sock
        if sock is None:
            return
        buffer = self._buffer
        receive = self._connection.receive
        try:
            if actions:
                self._perform(actions)
                if self._sock is None:
                    return
            raw = self._raw
            if raw is None:
                sock.settimeout(0.0)
            while True:
                size = raw.recv_into(buffer) if raw is not None else sock.recv_into(buffer)
                if not size:
                    self._drop()
                    self._lost()
                    return
                if raw is not None and self._tls_socket is not None:
                    data = self._tls_socket.decrypt(buffer, size, raw)
                else:
                    data = buffer[:size].tobytes()
                actions = receive(data, 0.0)
                if actions:
                    self._perform(actions)
                if self._sock is None:
                    return
        except (BlockingIOError, ssl.SSLWantReadError, TimeoutError):
            pass
        except _NETWORK_ERRORS:
            self._drop()
            self._lost()
            return
        finally:
            if self._idle_greenlet is gevent.getcurrent():
                self._idle_greenlet = None
        self._watch_idle()

    def _perform(self, actions: Sequence[Action]) -> None:
        """Do what the connection's policy asks: answer pings, close, count dropped pushes."""
        for action in actions:
            if type(action) is Pong:
                if self._sock is not None:
                    self._sock.sendall(action.frame)
                    self.pings_answered += 1
            elif type(action) is Close:
                self.close(action.code)
                if self._connection.received_close is not None:  # the server's close, answered
                    self._lost(self._connection.received_close)
            elif type(action) is Send:
                if self._sock is not None:
                    self._sock.sendall(action.frame)
            else:
                self.pushed_messages += 1

    def _send_message(self, message: Message) -> None:
        """Send one message of the client's own between replies (a keep-alive), counted."""
        if self._sock is not None:
            frame = self._connection.frame(message)
            self._sock.sendall(frame)
            self._connection.traffic.messages_sent += 1
            self._connection.traffic.bytes_sent += len(frame)

    def _lost(self, code: int = 1006) -> None:
        """The server closed the connection with ``code``, or it was lost (1006, RFC 6455 §7.1.5)."""
        if self.on_server_close is not None:
            self.on_server_close(code)

    def _settle(self, lean: bool = False) -> None:
        """Before a prompt: let the idle reader finish and end the idle watch. TLS holds no whole
        record then: the idle watch started after reading what TLS held (:meth:`_watch_idle`), and
        the idle reader reads every record of what it takes in.

        ``lean``: a lean round trip follows, whose wait takes the watcher over here (its callback
        changed, for less than a stop and a start): from now on it wakes the reply's waiter, which
        the reply's timer clears before the wait (see :func:`~wslocust.lean.read_reply`)."""
        if self.keepalive is not None:
            self.keepalive.disarm()
        reader = self._idle_greenlet
        while reader is not None and not reader.dead:
            # Its end watches again, and a ping may come before this greenlet runs: another reader.
            reader.join()
            reader = self._idle_greenlet
        watcher = self._idle_watcher
        if watcher is not None:
            if lean:
                watcher.start(self._reply_timer.wake, True)
            else:
                watcher.stop()

    def _read_ahead(self, tls: TlsSocket) -> None:
        """Read what TLS holds in memory: records a blocking read took with the one it wanted (the
        upgrade's answer and a ping sent right after it), which the socket will not wake us for."""
        if self._raw is None:
            self._read_idle()
        else:
            data = tls.decrypt(self._buffer, 0, self._raw)
            actions = self._connection.receive(data, 0.0) if data else None
            if actions:
                self._perform(actions)

    def hand_over(self) -> socket.socket | None:
        """Stop the idle watch and return the open socket, to a loop that reads it itself (several
        prompts in flight, :mod:`wslocust.inflight`; an audio turn, :mod:`wslocust.voice`, which
        feeds :attr:`connection` and calls :meth:`hand_back`); None when not connected."""
        self._settle()
        return self._sock

    @property
    def connection(self) -> Connection:
        """The connection's sans-I/O state (its frame reader carries on from one reply to the next)."""
        return self._connection

    def hand_back(self, reply: Reply | None, lost: int | None = None) -> None:
        """The loop given the socket by :meth:`hand_over` is done with ``reply`` (None: it sent
        nothing): watch the socket between replies again, or drop it when the reply failed other than
        by the bot's own error (a late answer would be read as the next one's). ``lost``: the server
        closed the connection with this code (1006: dropped), told to ``on_server_close``."""
        if reply is not None and reply.error is not None and reply.error.kind != "bot_error":
            self._drop()
        elif self._sock is not None:
            self._watch_idle()
        if lost is not None:
            self._lost(lost)

    def drop(self) -> None:
        """Drop the connection without a close handshake (a turn cut short: the stream is out of step)."""
        self._drop()

    def ask(
        self,
        prompt: str,
        *,
        record: Mapping[str, Any] | None = None,
        name: str | None = None,
        scheduled_at: float | None = None,
    ) -> Reply:
        """Send one prompt, collect its reply, and fire one ``WS`` request event.

        Connects first when the connection is closed (after a failed connect, waits a backoff of
        0.1 s doubling to 5 s so a refusing server is not hammered).

        Args:
            prompt: the prompt's text.
            record: the dataset record (templates and metrics read its fields).
            name: the request name to report; the client's ``default_name`` when None.
            scheduled_at: the ``time.perf_counter()`` at which the prompt was due (open-model load):
                times are then measured from it, not from the send, so a send delayed by a stalled
                server counts its wait (no coordinated omission); ``reply.send_delay_ms`` says how
                late it went.

        Returns:
            The reply; ``reply.error`` says why it failed. When the connection cannot be opened, no
            ``WS`` event is fired (the ``CONNECT`` event carries the failure).
        """
        # Positional arguments: cheaper to bind than keywords (once a prompt).
        reply = Reply(prompt, (name or self.default_name) + self.name_suffix, record or {})
        if self._sock is not None:
            self._settle(self._raw is not None)  # may find that the server closed the connection
        if self._sock is None:
            if self._failed_connects:
                gevent.sleep(min(0.1 * 2 ** (self._failed_connects - 1), 5.0))
            if not self.connect():
                reply.error = ConnectError("not connected")
                return reply
            self._settle(self._raw is not None)  # connect() started the idle watch: ours now
        try:
            self._round_trip(reply, scheduled_at)
        except BaseException:
            self._drop()  # interrupted mid-reply (the user is stopping): the stream is out of step
            if reply.started_at and self.on_stopped_mid_reply is not None:  # the prompt went out
                self.on_stopped_mid_reply(reply)
            raise
        report_reply(self.environment, self.checks, reply)
        return reply

    def _round_trip(self, reply: Reply, scheduled_at: float | None) -> None:
        sock = self._sock
        assert sock is not None
        connection = self._connection
        try:
            payload = connection.start(reply)
        except WsLocustError as unsent:  # a captured value or the token missing: nothing was sent
            reply.error, reply.started_at = unsent, time.time()
            self._watch_idle()
            return
        perf_counter = time.perf_counter
        raw = self._raw
        watcher = self._idle_watcher
        timer: Any = None
        over = False  # the lean path's reply read to its end: its wait keeps the watcher (see lean.py)
        error: WsLocustError | None = None
        reply.started_at = time.time()
        start = perf_counter()
        deadline = start + self.reply_timeout_s
        if scheduled_at is not None and scheduled_at < start:
            reply.send_delay_ms = (start - scheduled_at) * 1000.0
            reply.started_at -= start - scheduled_at
            start = scheduled_at
        try:
            if raw is not None and watcher is not None:  # the lean path: see lean.py
                tls = self._tls_socket
                if tls is not None:  # the prompt's TLS records, sent on the TCP socket beneath
                    payload, sock = tls.encrypt(payload), tls.tcp
                reply_timer = self._reply_timer
                timer = send_prompt(
                    self._hub, sock, raw, payload, reply_timer, deadline, self.reply_timeout_s, watcher
                )
                read_reply(
                    connection, raw, self._stamped, self._buffer, watcher, reply_timer,
                    reply.started_at, start, self._perform, tls,
                )  # fmt: skip
                over = True
            else:
                self._read_reply(sock, connection, payload, start, deadline)
        except TimeoutError:
            error = ReplyTimeout(f"no complete reply within {self.reply_timeout_s:g} s")
        except ReplyError as failure:  # the connection dropped (or a protocol's own error)
            error = failure
        except _NETWORK_ERRORS as failure:
            error = ConnectionClosed(None, f"({failure.__class__.__name__}: {failure})")
        finally:
            if timer is not None:
                self._reply_timer.release(timer)
                if not over:
                    watcher.stop()  # the lean path's: set whenever a timer is
        if error is not None:  # the I/O gave up first
            connection.fail(reply, error, (perf_counter() - start) * 1000.0)
            if type(error) is ConnectionClosed:
                self._lost()
        if reply.error is not None and reply.error.kind != "bot_error":
            # A late reply would be read as the next one's: start the next prompt on a fresh
            # connection (a close or a protocol error has closed this one already).
            self._drop()
        elif self._sock is not None:
            self._watch_idle(read_ahead=raw is None)

    def _read_reply(
        self, sock: socket.socket, connection: Connection, payload: bytes, start: float, deadline: float
    ) -> None:
        """A round trip through gevent's socket (TLS; a protocol whose replies a quiet period ends)."""
        buffer = self._buffer
        sock.settimeout(self.reply_timeout_s)
        sock.sendall(payload)
        if self._quiet is not None:
            receive_quietly(sock, self._quiet, buffer, start, deadline, self._perform)
        while connection.reply is not None:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
            size = sock.recv_into(buffer)
            now_ms = (time.perf_counter() - start) * 1000.0
            if not size:
                raise ConnectionClosed(None, "(the server dropped the connection)")
            actions = connection.receive(buffer[:size].tobytes(), now_ms)
            if actions:
                self._perform(actions)
