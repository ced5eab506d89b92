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

The sending is one pacer a process (:class:`Pacer`), not a greenlet a user: one libev timer, armed
for the earliest due frame of every utterance under way, sends each due frame with a non-blocking
``send`` on the OS socket and wakes a user's greenlet only when its utterance is sent. Per-user
sleeps would cost two greenlet switches and a timer a frame (50 a second a user at 20 ms frames).
``wss://`` connections, whose bytes must go through the TLS object, have a sender greenlet a turn.

Times in ``reply.voice`` (:class:`~wslocust.wire.voice.VoiceTimes`) and the reply's chunk times are
in ms since the utterance's start (its first frame's due time); the response time is the utterance's
start to the end of the answer.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)

import heapq
import itertools
import random
import socket
import ssl
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gevent
from gevent._waiter import Waiter
from gevent.hub import Hub, get_hub
from gevent.lock import Semaphore

try:
    from websockets.speedups import apply_mask
except ImportError:  # a platform without websockets' C extension: its Python version
    from websockets.utils import apply_mask

from .audio.frames import Frames
from .client import ChatClient
from .errors import (
    ConnectError,
    ConnectionClosed,
    ReplyError,
    ReplyTimeout,
    WsLocustError,
)
from .report import report_reply
from .sockets import STAMP_SPACE, arrival_ms, receive_buffer, stamp_receptions
from .sockets import raw_socket as _raw_socket
from .wire.connection import Close, Connection, Pong, Send
from .wire.managed import ManagedConnection
from .wire.protocols import Message
from .wire.reply import Reply
from .wire.voice import VoiceTimes

__all__ = ["Pacer", "VoiceStream", "ask_audio", "pacer"]

_NETWORK_ERRORS = (OSError, ssl.SSLError)
_randbits = random.getrandbits
_TICK_BUDGET_S = 0.005  # a tick far behind sends for this long, then lets the hub run (reads, users)
_RETRY_S = 0.001  # a send the socket's buffer could not take whole: its rest is tried again this soon


class VoiceStream:
    """One utterance under way: its framed messages and their schedule, sent by the :class:`Pacer`.

    Args:
        raw: the non-blocking OS socket to send on.
        payloads: each frame's bytes, framed (the first carries the start messages, the last the
            end messages).
        start: the utterance's start, a ``time.perf_counter()`` (frame 0's due time).
        interval_s: the time between frames' due times.
        voice: where the lateness and the end of speech are written.
        speech_frames: how many frames carry speech (the rest: trailing silence).
    """

    __slots__ = (
        "error", "finished_at", "index", "interval_s", "on_sent", "payloads", "pending", "raw",
        "speech_frames", "start", "stopped", "voice", "wake",
    )  # fmt: skip

    def __init__(
        self,
        raw: Any,
        payloads: Sequence[bytes],
        start: float,
        interval_s: float,
        voice: VoiceTimes,
        speech_frames: int,
    ) -> None:
        self.raw = raw
        self.payloads = payloads
        self.start = start
        self.interval_s = interval_s
        self.voice = voice
        self.speech_frames = speech_frames
        self.index = 0
        self.pending: bytes = b""  # the rest of a send the socket could not take whole
        self.finished_at: float | None = None
        """When the last frame (and the end messages) went out, a ``time.perf_counter()``."""
        self.error: OSError | None = None
        self.stopped = False
        self.wake: Callable[[], None] | None = None
        self.on_sent: Callable[[], None] | None = None
        """Called once the last payload went out (the protocol's :meth:`audio_sent`)."""

    @property
    def done(self) -> bool:
        """Sent whole, or failed."""
        return self.finished_at is not None or self.error is not None

    def run(self, now: float) -> float | None:
        """Send what is due at ``now``; return when to run again (None: sent, failed or stopped)."""
        if self.stopped:
            return None
        if self.pending and not self._send(self.pending):
            return None if self.error else now + _RETRY_S
        payloads, start, interval_s = self.payloads, self.start, self.interval_s
        lateness = self.voice.lateness_ms
        while True:
            index = self.index
            if index == len(payloads):
                self.finished_at = now
                self.voice.frames_sent = index
                if self.on_sent is not None:
                    self.on_sent()
                self._woken()
                return None
            due = start + index * interval_s
            if due > now:
                return due
            lateness.append((now - due) * 1000.0)
            self.index = index + 1
            if index == self.speech_frames - 1:
                self.voice.speech_end_ms = (now - start) * 1000.0
            if not self._send(payloads[index]):
                return None if self.error else now + _RETRY_S

    def send_now(self, data: bytes) -> None:
        """Send ``data`` (a pong, a protocol's answer) between frames, never inside one."""
        if self.pending:
            self.pending += data
        else:
            self._send(data)

    def _send(self, data: bytes) -> bool:
        """Send ``data``; False when part of it waits in :attr:`pending` or the send failed."""
        try:
            sent = self.raw.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self.error = error
            self.pending = b""
            self._woken()
            return False
        self.pending = data[sent:] if sent < len(data) else b""
        return not self.pending

    def _woken(self) -> None:
        wake, self.wake = self.wake, None
        if wake is not None and not self.stopped:
            wake()


class Pacer:
    """Sends the due frames of every utterance under way in a process, on one libev timer.

    The timer is armed for the earliest due time; when it fires, every stream with a frame due is
    run (catching up, frame after frame, when the process was too busy to be on time: the lateness
    says so), then the timer is armed again. A tick sends for 5 ms at most, so that a process far
    behind still reads its answers and starts its users' turns between ticks.
    """

    def __init__(self, hub: Hub) -> None:
        self._loop = hub.loop
        self._heap: list[tuple[float, int, VoiceStream]] = []
        self._order = itertools.count()
        self._timer: Any = None
        self._armed_for = float("inf")
        self.ticks = 0
        """How many times the timer fired (the benchmark's figure of its overhead)."""

    def add(self, stream: VoiceStream) -> None:
        """Start sending ``stream`` (its first frame at once when it is due)."""
        when = stream.run(time.perf_counter())
        if when is not None:
            heapq.heappush(self._heap, (when, next(self._order), stream))
            self._arm()

    def _arm(self) -> None:
        heap = self._heap
        if not heap:
            return
        due = heap[0][0]
        if due >= self._armed_for:
            return
        if self._timer is not None:
            self._timer.close()
        self._armed_for = due
        self._timer = self._loop.timer(max(due - time.perf_counter(), 0.0))
        self._timer.start(self._tick)

    def _tick(self) -> None:
        self.ticks += 1
        self._armed_for = float("inf")
        heap = self._heap
        perf_counter = time.perf_counter
        heappop, heappush, order = heapq.heappop, heapq.heappush, self._order
        now = perf_counter()
        until = now + _TICK_BUDGET_S
        while heap and heap[0][0] <= now < until:
            stream = heappop(heap)[2]
            when = stream.run(now)
            if when is not None:
                heappush(heap, (when, next(order), stream))
            now = perf_counter()
        self._arm()  # at once when frames are still due: the reads and the users run in between


_pacers: weakref.WeakKeyDictionary[Hub, Pacer] = weakref.WeakKeyDictionary()


def pacer(hub: Hub | None = None) -> Pacer:
    """The pacer of a hub (one an OS thread: the process's, in Locust)."""
    hub = hub or get_hub()
    found = _pacers.get(hub)
    if found is None:
        found = _pacers[hub] = Pacer(hub)
    return found


class _SenderGreenlet:
    """The sending of a ``wss://`` utterance: its bytes go through the TLS object, so a greenlet of its
    own sleeps until each frame is due and sends it (no pacer)."""

    def __init__(self, sock: socket.socket, stream: VoiceStream) -> None:
        self.lock = Semaphore()
        self.stream = stream
        self.sock = sock
        stream.raw = self  # send_now() and _send() call self.send
        self.greenlet = gevent.spawn(self._run)

    def send(self, data: bytes) -> int:
        with self.lock:
            self.sock.sendall(data)
        return len(data)

    def _run(self) -> None:
        stream = self.stream
        while True:
            when = stream.run(time.perf_counter())
            if when is None:
                return
            gevent.sleep(max(when - time.perf_counter(), 0.0))


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
        client._drop()  # interrupted mid-turn (the user is stopping): the stream is out of step
        if reply.started_at and client.on_stopped_mid_reply is not None:
            client.on_stopped_mid_reply(reply)
        raise
    report_reply(client.environment, client.checks, reply)
    return reply


def _masked_frame(message: Message) -> bytes:
    """``message`` as a masked frame, as :func:`~wslocust.wire.frames.encode_frame` makes it, masked by
    websockets' C ``apply_mask``: 40 times faster than Python's big integers on an audio frame's
    kilobyte or two, which would otherwise cost more than its send."""
    payload = message.encode() if isinstance(message, str) else message
    first = 0x81 if isinstance(message, str) else 0x82
    size = len(payload)
    if size < 126:
        header = bytes((first, 0x80 | size))
    elif size < 65536:
        header = bytes((first, 0xFE)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, 0xFF)) + size.to_bytes(8, "big")
    key = _randbits(32).to_bytes(4, "little")
    return header + key + apply_mask(payload, key)


def _turn(
    client: ChatClient,
    sock: socket.socket,
    reply: Reply,
    frames: Frames,
    speed: float,
    scheduled_at: float | None,
) -> None:
    """The turn's I/O on a handed-over socket; leaves the reply complete and the connection watched
    again (or dropped after a failure other than the bot's own)."""
    connection: Connection = client._connection  # the client's: its frame reader carries on after
    protocol = client.protocol
    voice = reply.voice
    assert voice is not None
    try:
        before = protocol.audio_start(reply.record)
        messages = protocol.audio_frames(frames.frames)
        after = protocol.audio_end()
    except WsLocustError as unsent:  # a template's field missing: nothing was sent
        reply.error, reply.started_at = unsent, time.time()
        client._watch_idle()
        return
    frame = connection.frame if client.compression.agreed is not None else _masked_frame
    payloads = [frame(message) for message in messages] or [b""]
    if before:
        payloads[0] = b"".join(map(frame, before)) + payloads[0]
    if after:
        payloads[-1] += b"".join(map(frame, after))
    connection.expect(reply)
    connection.traffic.prompts += 1  # traffic: a turn is a prompt (for the replies in flight)
    hub = get_hub()
    loop = hub.loop
    raw = _raw_socket(sock)
    stamped = raw is not None and stamp_receptions(raw)
    buffer = receive_buffer(hub)
    buffers = [buffer]
    perf_counter = time.perf_counter
    interval_s = frames.frame_ms / 1000.0 / speed
    reply.started_at = time.time()
    start = perf_counter()
    if scheduled_at is not None and scheduled_at < start:
        reply.send_delay_ms = (start - scheduled_at) * 1000.0
        reply.started_at -= start - scheduled_at
        start = scheduled_at
    stream = VoiceStream(raw, payloads, start, interval_s, voice, min(frames.speech_frames, len(payloads)))
    stream.on_sent = protocol.audio_sent
    waiter = Waiter(hub)
    stream.wake = lambda: loop.run_callback(waiter.switch, None)
    sender: _SenderGreenlet | None = None
    if raw is None:
        sender = _SenderGreenlet(sock, stream)
    else:
        pacer(hub).add(stream)
    sending_deadline = start + len(payloads) * interval_s + client.reply_timeout_s
    watcher = loop.io(sock.fileno(), 1)
    quiet = connection if isinstance(connection, ManagedConnection) else None
    error: WsLocustError | None = None
    try:
        while connection.reply is not None:
            now = perf_counter()
            if stream.error is not None:
                raise stream.error
            if stream.finished_at is not None:
                deadline = stream.finished_at + client.reply_timeout_s
            else:
                deadline = sending_deadline
            if now >= deadline:
                raise TimeoutError
            wake_at = deadline
            if quiet is not None and quiet.quiet_until_ms is not None:
                quiet_end = start + quiet.quiet_until_ms / 1000.0
                if quiet_end <= now:
                    quiet.end_quietly()
                    break
                wake_at = min(wake_at, quiet_end)
            if raw is not None or not sock.pending():  # type: ignore[attr-defined]
                timer = loop.timer(wake_at - now)
                timer.start(waiter.switch, None)
                watcher.start(waiter.switch, None)
                try:
                    waiter.get()
                finally:
                    watcher.stop()
                    timer.close()
            while connection.reply is not None:  # read what there is, without blocking
                try:
                    if stamped:
                        size, stamps, _flags, _address = raw.recvmsg_into(buffers, STAMP_SPACE)  # type: ignore[union-attr]
                    elif raw is not None:
                        size, stamps = raw.recv_into(buffer), []
                    else:  # TLS: a whole record is read (the socket's timeout bounds the wait)
                        size, stamps = sock.recv_into(buffer), []
                except BlockingIOError:
                    break
                now_ms = (perf_counter() - start) * 1000.0
                now_ms = arrival_ms(stamps, reply.started_at, now_ms)
                if not size:
                    raise ConnectionClosed(None, "(the server dropped the connection)")
                actions = connection.receive(buffer[:size].tobytes(), now_ms)
                for action in actions or ():
                    if type(action) is Pong or type(action) is Send:
                        if stream.done and raw is not None:
                            sock.sendall(action.frame)
                        else:  # between two frames, never inside one
                            stream.send_now(action.frame)
                        client.pings_answered += type(action) is Pong
                    elif type(action) is Close:  # the server closed (the reply failed) or broke the protocol
                        stream.stopped = True
                        client.close(action.code)
                        if connection.received_close is not None:
                            client._lost(connection.received_close)
                        return
                    else:
                        client.pushed_messages += 1
                if raw is None and not sock.pending():  # type: ignore[attr-defined]
                    break
        while not stream.done and error is None:  # answered before the utterance ended: finish it
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
        stream.stopped = True
        watcher.close()
        if sender is not None:
            sender.greenlet.kill(block=False)
        voice.frames_sent = max(voice.frames_sent, stream.index)
        # traffic: counted a turn, never a frame: the payloads handed to the socket (the first
        # carries the protocol's opening messages, the last its closing ones)
        sent = min(stream.index, len(payloads))
        traffic = connection.traffic
        traffic.messages_sent += len(messages[:sent]) + (len(before) if sent else 0)
        traffic.messages_sent += len(after) if sent == len(payloads) else 0
        traffic.bytes_sent += sum(map(len, payloads[:sent]))
    if error is not None:
        connection.fail(reply, error, (perf_counter() - start) * 1000.0)
    if reply.error is not None and reply.error.kind != "bot_error":
        client._drop()  # a late answer would be read as the next turn's
        if type(error) is ConnectionClosed:
            client._lost()
    elif client.connected:
        client._watch_idle()
