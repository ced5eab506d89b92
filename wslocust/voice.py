"""Voice turns: an utterance sent as audio frames at real-time pace while the answer is read.

An audio turn (a record with ``audio``, or every turn with ``--audio-packets``) is one ``WS`` request:

- the protocol's ``audio_start`` messages, then one message a frame (``audio_frames``), then its
  ``audio_end`` messages, all framed once when the turn starts;
- frame *i* is due at the utterance's start + *i* * ``--audio-frame-ms`` / ``--audio-speed``: a
  schedule from the start, never "sleep a frame after each send", which drifts by every send's
  delay. How late each frame went out (its send time minus its due time) is kept in ``reply.voice``:
  a load generator that cannot keep real time says so;
- the answer is read while the utterance is still going out (a bot may answer before it ends),
  each block with its receive time (the kernel's, on plain connections), pings answered. The reply
  timeout (``--reply-timeout``) runs from the end of the utterance (its last frame and end messages
  sent); sending the utterance itself may take at most its own length plus the reply timeout;
- a close or a dropped connection mid-utterance fails the turn (with the close code).

The sending is one pacer a process (:mod:`wslocust.pacer`), not a greenlet a user: one libev timer
sends each due frame with a non-blocking ``send`` on the OS socket and wakes a user's greenlet only
when its utterance is sent. Per-user sleeps would cost two greenlet switches and a timer a frame (50
a second a user at 20 ms frames). The answer's blocks are read in the hub too, by the connection's
I/O watcher, which wakes the user's greenlet (through the pacer, after the frames due) only when
the reply is over or asks for something (a pong, a close). ``wss://`` turns go the same way: each
frame encrypted as the pacer sends it, each block of the answer decrypted as the hub reads it.

Times in ``reply.voice`` (:class:`~wslocust.wire.voice.VoiceTimes`) and the reply's chunk times are
in ms since the utterance's start (its first frame's due time); the response time is the utterance's
start to the end of the answer.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import socket
import ssl
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from gevent._waiter import Waiter
from gevent.hub import get_hub

from .audio.frames import Frames
from .client import ChatClient
from .errors import (
    ConnectError,
    ConnectionClosed,
    ReplyError,
    ReplyTimeout,
    WsLocustError,
)
from .pacer import Pacer, VoiceFrames, VoiceStream, masked_frame, pacer, shared_frames
from .report import report_reply
from .sockets import STAMP_SPACE, arrival_ms, receive_buffer, stamp_receptions
from .sockets import raw_socket as _raw_socket
from .tls import TlsSocket
from .wire.connection import Action, Close, Pong, Send
from .wire.managed import ManagedConnection
from .wire.reply import Reply
from .wire.voice import VoiceTimes

__all__ = ["Pacer", "VoiceStream", "ask_audio", "pacer"]

_NETWORK_ERRORS = (OSError, ssl.SSLError)


def ask_audio(
    client: ChatClient,
    frames: Frames,
    *,
    prompt: str,
    record: Mapping[str, Any] | None = None,
    name: str | None = None,
    speed: float = 1.0,
    scheduled_at: float | None = None,
) -> Reply:
    """Send one utterance at real-time pace on ``client``'s connection while reading the answer, and
    fire one ``WS`` request event (after the client's checks).

    Connects first when the connection is closed. Returns the reply; ``reply.voice`` holds the
    turn's times. When the connection cannot be opened, no ``WS`` event is fired (the ``CONNECT``
    event carries the failure). With ``scheduled_at`` (open-model load: a ``time.perf_counter()``
    when the turn was due), the utterance's schedule starts then: a late start makes its first
    frames late, and says so.
    """
    reply = Reply(prompt=prompt, name=(name or client.default_name) + client.name_suffix, record=record or {})
    reply.voice = VoiceTimes(speech_ms=frames.speech_ms)
    if not client.connected and not client.connect():
        reply.error = ConnectError("not connected")
        return reply
    sock = client.hand_over()
    if sock is None:
        reply.error = ConnectError("not connected")
        return reply
    try:
        _turn(client, sock, reply, frames, speed, scheduled_at)
    except BaseException:
        client.drop()  # interrupted mid-turn (the user is stopping): the stream is out of step
        if reply.started_at and client.on_stopped_mid_reply is not None:
            client.on_stopped_mid_reply(reply)
        raise
    report_reply(client.environment, client.checks, reply)
    return reply


def _voice_frames(client: ChatClient, frames: Frames) -> VoiceFrames:
    """The utterance's frames for ``client``'s protocol: shared by every turn when its messages are
    the same every turn, else built for this turn (and framed whole with permessage-deflate)."""
    protocol = client.protocol
    if client.compression.agreed is not None:  # a compressor's state a connection: framed now
        frame = client.connection.frame
        return VoiceFrames(None, [frame(message) for message in protocol.audio_frames(frames.frames)])
    key = protocol.audio_frames_key()
    if key is None:
        return VoiceFrames.of(protocol.audio_frames(frames.frames))
    return shared_frames(frames, key, lambda: protocol.audio_frames(frames.frames))


def _turn(
    client: ChatClient,
    sock: socket.socket,
    reply: Reply,
    frames: Frames,
    speed: float,
    scheduled_at: float | None,
) -> None:
    """The turn's I/O on a handed-over socket; leaves the reply complete and the connection handed
    back (watched again, or dropped after a failure other than the bot's own)."""
    connection = client.connection  # the client's: its frame reader carries on after
    protocol = client.protocol
    voice = reply.voice
    assert voice is not None
    try:
        before = protocol.audio_start(reply.record)
        sending = _voice_frames(client, frames)
        after = protocol.audio_end()
    except WsLocustError as unsent:  # a template's field missing: nothing was sent
        reply.error, reply.started_at = unsent, time.time()
        client.hand_back(None)
        return
    opened: object = sock  # typed a socket: a wss:// connection's is a TlsSocket in its place
    tls = opened if isinstance(opened, TlsSocket) else None
    raw = _raw_socket(tls.tcp if tls is not None else sock)
    if raw is None:  # not gevent's non-blocking socket: the pacer cannot send on it
        reply.error, reply.started_at = ConnectError("the connection's socket is not gevent's"), time.time()
        client.hand_back(None)
        return
    frame = connection.frame if client.compression.agreed is not None else masked_frame
    connection.expect(reply)
    connection.traffic.prompts += 1  # traffic: a turn is a prompt (for the replies in flight)
    hub = get_hub()
    loop = hub.loop
    perf_counter = time.perf_counter
    interval_s = frames.frame_ms / 1000.0 / speed
    reply.started_at = time.time()
    start = perf_counter()
    if scheduled_at is not None and scheduled_at < start:
        reply.send_delay_ms = (start - scheduled_at) * 1000.0
        reply.started_at -= start - scheduled_at
        start = scheduled_at
    stream = VoiceStream(
        raw,
        sending,
        b"".join(map(frame, before)),
        b"".join(map(frame, after)),
        start,
        interval_s,
        voice,
        frames.speech_frames,
        tls.encrypt if tls is not None else None,
    )
    stream.on_sent = protocol.audio_sent
    waiter = Waiter(hub)
    the_pacer = pacer(hub)
    stream.wake = partial(the_pacer.wake, waiter.switch)
    the_pacer.add(stream)
    error: WsLocustError | None = None
    lost: int | None = None
    try:
        closed = _read_in_hub(client, sock, raw, tls, reply, stream, waiter, start)
        if closed is not None:  # the server closed (the reply failed) or broke the protocol
            client.close(closed)
            lost = connection.received_close
        else:
            sending_deadline = start + stream.count * interval_s + client.reply_timeout_s
            while not stream.done:  # answered before the utterance ended: finish it
                if perf_counter() >= sending_deadline:
                    raise TimeoutError
                timer = loop.timer(sending_deadline - perf_counter())
                timer.start(waiter.switch, None)
                try:
                    waiter.get()
                finally:
                    timer.close()
            if stream.error is not None:
                raise stream.error
    except TimeoutError:
        what = "no complete reply" if stream.finished_at is not None else "the utterance not sent"
        error = ReplyTimeout(f"{what} within {client.reply_timeout_s:g} s of its end")
    except ReplyError as failure:
        error = failure
    except _NETWORK_ERRORS as failure:
        error = ConnectionClosed(None, f"({failure.__class__.__name__}: {failure})")
    finally:
        stream.stop()
        voice.frames_sent = max(voice.frames_sent, stream.index)
        # traffic: counted a turn, never a frame: the frames handed to the socket (the first
        # carries the protocol's opening messages, the last its closing ones)
        sent = min(stream.index, len(sending))
        traffic = connection.traffic
        traffic.messages_sent += sent + (len(before) if stream.index else 0)
        traffic.messages_sent += len(after) if stream.index == stream.count else 0
        traffic.bytes_sent += _sent_bytes(stream, sent) + (len(stream.first) if stream.index else 0)
        traffic.bytes_sent += len(stream.last) if stream.index == stream.count else 0
    if error is not None:
        connection.fail(reply, error, (perf_counter() - start) * 1000.0)
        if type(error) is ConnectionClosed:
            lost = 1006
    client.hand_back(reply, lost)


def _sent_bytes(stream: VoiceStream, sent: int) -> int:
    """The bytes of the first ``sent`` frames of ``stream`` (their messages' own, masked or not)."""
    bodies = stream.bodies[:sent]
    heads = stream.heads
    if heads is None:
        return sum(map(len, bodies))
    return sum(map(len, bodies)) + sum(map(len, heads[:sent])) + 4 * sent  # each with its masking key


def _deadline(client: ChatClient, stream: VoiceStream, start: float, interval_s: float) -> float:
    """When the turn times out: the reply timeout after the utterance's end; while it is still going
    out, after the time it should take."""
    if stream.finished_at is not None:
        return stream.finished_at + client.reply_timeout_s
    return start + stream.count * interval_s + client.reply_timeout_s


def _wake_at(
    client: ChatClient, stream: VoiceStream, start: float, interval_s: float, quiet: ManagedConnection | None
) -> float | None:
    """When the reading of the answer must wake next (the turn's deadline, or the end of a quiet
    period), or None when the quiet period is over and the reply ended with it.

    Raises:
        TimeoutError: the turn's deadline has passed.
    """
    now = time.perf_counter()
    deadline = _deadline(client, stream, start, interval_s)
    if now >= deadline:
        raise TimeoutError
    if quiet is None or quiet.quiet_until_ms is None:
        return deadline
    quiet_end = start + quiet.quiet_until_ms / 1000.0
    if quiet_end <= now:
        quiet.end_quietly()
        return None
    return min(deadline, quiet_end)


def _perform(client: ChatClient, stream: VoiceStream, sock: Any, actions: list[Action]) -> int | None:
    """Do what the connection asks mid-turn; return the close code when it asks to close."""
    for action in actions:
        if type(action) is Pong or type(action) is Send:
            if stream.done:
                sock.sendall(action.frame)
            else:  # between two frames, never inside one
                stream.send_now(action.frame)
            client.pings_answered += type(action) is Pong
        elif type(action) is Close:
            stream.stop()
            return action.code
        else:
            client.pushed_messages += 1
    return None


class _HubReader:
    """The reading of a plain connection's answer in the hub: each block read by the I/O watcher's
    callback (:meth:`readable`), which wakes the turn's greenlet only when it has work to do.

    One object a turn, its state in slots: a closure would hold each of these in a cell of its
    own, and a turn's objects live as long as its utterance (seconds), so each one outlives the
    young collections and is walked by every collection of the middle generation until the turn
    ends (at a thousand speaking users, a dozen cells a turn are 12,000 objects more a walk).
    """

    __slots__ = (
        "asked", "buffer", "buffers", "connection", "failed", "pacer", "quiet", "raw", "reply", "stamped",
        "start", "stream", "tls", "waiter", "watcher",
    )  # fmt: skip

    def __init__(
        self,
        connection: Any,
        raw: Any,
        tls: TlsSocket | None,
        reply: Reply,
        stream: VoiceStream,
        start: float,
        watcher: Any,
        waiter: Waiter,
    ) -> None:
        self.connection = connection
        self.tls = tls
        self.stream = stream
        self.quiet = connection if isinstance(connection, ManagedConnection) else None
        self.raw = raw
        self.stamped = stamp_receptions(raw)
        self.buffer = buffer = receive_buffer(get_hub())
        self.buffers = [buffer] if self.stamped else None
        self.reply = reply
        self.start = start
        self.watcher = watcher
        self.waiter = waiter
        self.pacer = pacer()
        self.asked: list[Action] | None = None
        """What the connection asked for (a pong, a close, a dropped push), for the greenlet to do."""
        self.failed: BaseException | None = None
        """Why the reading failed, for the greenlet to raise."""

    def readable(self) -> None:
        """In the hub: read what came, fold it in; wake the greenlet only when it has work to do."""
        raw, buffer = self.raw, self.buffer
        try:
            if self.stamped:
                size, stamps, _flags, _address = raw.recvmsg_into(self.buffers, STAMP_SPACE)
            else:
                size, stamps = raw.recv_into(buffer), []
            if not size:
                raise ConnectionClosed(None, "(the server dropped the connection)")
            now_ms = arrival_ms(stamps, self.reply.started_at, (time.perf_counter() - self.start) * 1000.0)
            tls = self.tls
            if tls is None:
                data = buffer[:size].tobytes()
            else:  # what TLS itself answers goes with the next frame's records (at once when none is to come)
                data = tls.decrypt(buffer, size, raw if self.stream.done else None)
                if not data:
                    return  # the rest of a record to come
            actions = self.connection.receive(data, now_ms)
        except BlockingIOError:
            return  # woken with nothing to read after all
        except BaseException as error:  # the hub must not raise: the greenlet does
            self.failed = error
            self.watcher.stop()
            self.pacer.wake(self.waiter.switch)
            return
        if actions:
            if self.asked is None:
                self.asked = []
            self.asked.extend(actions)
        if actions or self.connection.reply is None or self.quiet is not None:
            self.watcher.stop()
            self.pacer.wake(self.waiter.switch)  # after the frames due


def _read_in_hub(
    client: ChatClient,
    sock: socket.socket,
    raw: Any,
    tls: TlsSocket | None,
    reply: Reply,
    stream: VoiceStream,
    waiter: Waiter,
    start: float,
) -> int | None:
    """Read the answer until the reply is over: each block read (and on ``wss://`` decrypted) by the
    I/O watcher's callback in the hub, the greenlet woken when the reply is over, when the
    connection asks for something, when the utterance is sent or failed, or at the deadline (or at
    the end of a quiet period). Returns the close code when the connection asked to close.
    """
    connection = client.connection
    loop = get_hub().loop
    perf_counter = time.perf_counter
    quiet = connection if isinstance(connection, ManagedConnection) else None
    watcher = loop.io(raw.fileno(), 1)
    reader = _HubReader(connection, raw, tls, reply, stream, start, watcher, waiter)
    interval_s = stream.interval_s
    try:
        while True:
            if reader.failed is not None:
                raise reader.failed
            if reader.asked:  # a pong, a close, a dropped push (sends may wait: the greenlet does them)
                actions, reader.asked = reader.asked, None
                closed = _perform(client, stream, sock, actions)
                if closed is not None:
                    return closed
            if connection.reply is None:
                break
            if stream.error is not None:
                raise stream.error
            wake_at = _wake_at(client, stream, start, interval_s, quiet)
            if wake_at is None:
                break
            timer = loop.timer(wake_at - perf_counter())
            timer.start(waiter.switch, None)
            watcher.start(reader.readable)
            try:
                waiter.get()
            finally:
                watcher.stop()
                timer.close()
    finally:
        watcher.close()
    return None
