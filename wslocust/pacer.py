"""The pacer: the frames of every utterance under way in a process, each sent when it is due.

One pacer a process (a hub: an OS thread), one libev timer. Utterances under way are kept in a
timing wheel of 1 ms slots (a dict of lists by due millisecond, and a heap of the slots' numbers):
scheduling a frame is an append, not a heap push of a tuple, and a tick pops the slots that are
due and sends their frames one after the other, each with one non-blocking ``send`` on the OS
socket, in the hub (no greenlet switch a frame). A frame's lateness is the time just before its
``send`` minus its due time (the utterance's start + its index x the frame interval): a process
too busy to be on time says so, frame by frame.

What is sent: an utterance's messages are the same for every user speaking the same audio with a
protocol whose :meth:`~wslocust.wire.protocols.Protocol.audio_frames_key` names them (OpenAI
Realtime's base64 appends, raw PCM), so they are built and encoded once a process
(:func:`shared_frames`) and shared; each frame gets its own masking key when it is sent (RFC 6455
§5.3: a fresh key a frame), masked by websockets' C ``apply_mask``. A protocol whose messages
change every turn (Twilio's sequence numbers) has them built every turn, and permessage-deflate
(a compressor's state a connection) frames them every turn as well.

On ``wss://`` each frame is encrypted as it is sent (:meth:`~wslocust.tls.TlsSocket.encrypt`: the
connection's TLS records, in order) and the records go out on the TCP connection's OS socket as a
plain connection's frames do: the same pacer, no greenlet a turn.
"""

from __future__ import annotations

import heapq
import random
import time
import weakref
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from gevent.hub import Hub, get_hub

try:
    from websockets.speedups import apply_mask
except ImportError:  # a platform without websockets' C extension: its Python version
    from websockets.utils import apply_mask

from .audio.frames import Frames
from .wire.protocols import Message
from .wire.voice import VoiceTimes

__all__ = ["Pacer", "VoiceFrames", "VoiceStream", "masked_frame", "pacer", "shared_frames"]

_randbits = random.getrandbits
_SLOTS_A_SECOND = 1000.0  # the wheel's slots: 1 ms (libev's timers are no finer on epoll)
_TICK_BUDGET_S = 0.005  # a tick far behind sends for this long, then lets the hub run (reads, users)
_RETRY_S = 0.001  # a send the socket's buffer could not take whole: its rest is tried again this soon


def _header(message: Message) -> tuple[bytes, bytes]:
    """``message``'s frame header up to its masking key (a final text or binary frame, masked), and
    its payload's bytes."""
    payload = message.encode() if isinstance(message, str) else bytes(message)
    first = 0x81 if isinstance(message, str) else 0x82
    size = len(payload)
    if size < 126:
        return bytes((first, 0x80 | size)), payload
    if size < 65536:
        return bytes((first, 0xFE)) + size.to_bytes(2, "big"), payload
    return bytes((first, 0xFF)) + size.to_bytes(8, "big"), payload


_SMALL_TEXT_HEADS = tuple(bytes((0x81, 0x80 | size)) for size in range(126))
"""A masked final text frame's first two bytes, by payload size (under 126 bytes)."""


def masked_frame(message: Message) -> bytes:
    """``message`` as a masked frame (a fresh key), as :func:`~wslocust.wire.frames.encode_message`
    makes it, masked by websockets' C ``apply_mask``: 40 times faster than Python's big integers on
    an audio frame's kilobyte or two, and a third cheaper on a short prompt (a plain connection's
    framer: :meth:`~wslocust.client.ChatClient.connect`)."""
    if isinstance(message, str):
        payload = message.encode()
        if len(payload) < 126:  # most prompts
            key = _randbits(32).to_bytes(4, "little")
            return b"".join((_SMALL_TEXT_HEADS[len(payload)], key, apply_mask(payload, key)))
    header, payload = _header(message)
    key = _randbits(32).to_bytes(4, "little")
    return header + key + apply_mask(payload, key)


class VoiceFrames:
    """An utterance's frames as they go out: one message a frame, its header and its payload, masked
    when sent; or, with ``heads`` None, whole frames sent as they are (permessage-deflate's).

    Args:
        heads: each frame's header up to its masking key; None: ``bodies`` are whole frames.
        bodies: each frame's payload (unmasked), or whole frame.
    """

    __slots__ = ("bodies", "heads")

    def __init__(self, heads: Sequence[bytes] | None, bodies: Sequence[bytes]) -> None:
        self.heads = heads
        self.bodies = bodies

    @classmethod
    def of(cls, messages: Sequence[Message]) -> VoiceFrames:
        """The frames of ``messages``, masked as each is sent."""
        pairs = [_header(message) for message in messages]
        return cls(tuple(head for head, _ in pairs), tuple(body for _, body in pairs))

    def __len__(self) -> int:
        return len(self.bodies)


_SHARED: weakref.WeakKeyDictionary[Frames, dict[Hashable, VoiceFrames]] = weakref.WeakKeyDictionary()


def shared_frames(frames: Frames, key: Hashable, build: Callable[[], Sequence[Message]]) -> VoiceFrames:
    """The frames of ``frames``' messages as a protocol whose ``audio_frames_key()`` is ``key`` makes
    them (``build``), built once a process while ``frames`` lives and shared by every turn since."""
    by_key = _SHARED.get(frames)
    if by_key is None:
        by_key = _SHARED[frames] = {}
    found = by_key.get(key)
    if found is None:
        found = by_key[key] = VoiceFrames.of(build())
    return found


class VoiceStream:
    """One utterance under way: its frames and their schedule, sent by the :class:`Pacer`.

    Args:
        raw: the non-blocking OS socket to send on (or anything with its ``send``).
        frames: the frames, one a message of the protocol's ``audio_frames``.
        first: sent before frame 0, in its ``send`` (the protocol's ``audio_start`` messages, framed).
        last: sent after the last frame, in its ``send`` (the ``audio_end`` messages, framed).
        start: the utterance's start, a ``time.perf_counter()`` (frame 0's due time).
        interval_s: the time between frames' due times.
        voice: where the lateness and the end of speech are written.
        speech_frames: how many frames carry speech (the rest: trailing silence).
        encrypt: on ``wss://``, what makes a frame's bytes the TLS records sent (None: sent as they
            are); what waits in :attr:`pending` is then records.
    """

    __slots__ = (
        "bodies", "count", "encrypt", "error", "fast_until", "finished_at", "first", "heads", "index",
        "interval_s", "last", "late", "on_sent", "pending", "send", "speech_last", "start", "stopped",
        "voice", "wake",
    )  # fmt: skip

    def __init__(
        self,
        raw: Any,
        frames: VoiceFrames,
        first: bytes,
        last: bytes,
        start: float,
        interval_s: float,
        voice: VoiceTimes,
        speech_frames: int,
        encrypt: Callable[[bytes], bytes] | None = None,
    ) -> None:
        if not len(frames):  # no frame: the start and end messages go out together
            frames = VoiceFrames(None, (b"",))
        self.send: Callable[[bytes], int] = raw.send
        self.encrypt = encrypt
        self.heads = frames.heads
        self.bodies = frames.bodies
        self.count = len(frames)
        self.first = first
        self.last = last
        self.start = start
        self.interval_s = interval_s
        self.voice = voice
        self.late = voice.lateness_ms.append
        self.speech_last = min(speech_frames, self.count) - 1  # the last speech frame's index
        self.index = 0
        self.fast_until = 0  # frames below this index (from 1) take the pacer's fast path
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

    def stop(self) -> None:
        """Send nothing more (the turn is over)."""
        self.stopped = True
        self.fast_until = 0

    def frame(self, index: int) -> bytes:
        """Frame ``index``'s bytes, masked with a fresh key (with the start or end messages)."""
        data = self.bodies[index]
        heads = self.heads
        if heads is not None:
            key = _randbits(32).to_bytes(4, "little")
            data = heads[index] + key + apply_mask(data, key)
        if index == 0 and self.first:
            data = self.first + data
        if index == self.count - 1 and self.last:
            data += self.last
        return data

    def run(self, now: float) -> float | None:
        """Send what is due at ``now``; return when to run again (None: sent, failed or stopped)."""
        if self.stopped:
            return None
        if self.pending and not self._send(self.pending):
            return None if self.error else now + _RETRY_S
        start, interval_s, count = self.start, self.interval_s, self.count
        while True:
            index = self.index
            if index == count:
                self.finished_at = now
                self.voice.frames_sent = index
                if self.on_sent is not None:
                    self.on_sent()
                self._woken()
                return None
            due = start + index * interval_s
            if due > now:
                fast = self.heads is not None and not self.pending and self.encrypt is None
                self.fast_until = count - 1 if fast else 0
                return due
            data = self.frame(index)
            if self.encrypt is not None:
                data = self.encrypt(data)
            now = time.perf_counter()
            self.late((now - due) * 1000.0)
            self.index = index + 1
            if index == self.speech_last:
                self.voice.speech_end_ms = (now - start) * 1000.0
            if not self._send(data):
                return None if self.error else now + _RETRY_S

    def resume(self, data: bytes, sent: int, due: float, now: float) -> float:
        """Frame :attr:`index`, ``data``, was sent at ``now`` up to ``sent`` bytes: note it, keep the
        rest for :meth:`run`; return when to try again."""
        index = self.index
        self.late((now - due) * 1000.0)
        self.index = index + 1
        if index == self.speech_last:
            self.voice.speech_end_ms = (now - self.start) * 1000.0
        self.pending = data[sent:]
        self.fast_until = 0
        return now + _RETRY_S

    def send_now(self, data: bytes) -> None:
        """Send ``data`` (a pong, a protocol's answer) between frames, never inside one."""
        if self.encrypt is not None:
            data = self.encrypt(data)
        if self.pending:
            self.pending += data
        else:
            self._send(data)

    def _send(self, data: bytes) -> bool:
        """Send ``data``; False when part of it waits in :attr:`pending` or the send failed."""
        try:
            sent = self.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as error:
            self.error = error
            self.pending = b""
            self.fast_until = 0
            self._woken()
            return False
        if sent < len(data):
            self.pending = data[sent:]
            self.fast_until = 0
            return False
        self.pending = b""
        return True

    def _woken(self) -> None:
        wake, self.wake = self.wake, None
        if wake is not None and not self.stopped:
            wake()


class Pacer:
    """Sends the due frames of every utterance under way in a process, on one libev timer.

    The timer is armed for the earliest due frame; when it fires, every frame due is sent (catching
    up, frame after frame, when the process was too busy to be on time: the lateness says so), then
    the timer is armed again. A tick sends for 5 ms at most, so that a process far behind still
    reads its answers and starts its users' turns between ticks.

    The turns' greenlets are woken through the pacer too (:meth:`wake`), one after the other with
    the due frames sent in between: answers that arrive together (a hundred turns ending at once
    after a stall) would otherwise run their users one after the other, each ending its turn and
    starting the next (tens of µs each), for milliseconds ahead of every frame falling due meanwhile.
    """

    def __init__(self, hub: Hub) -> None:
        self._loop = hub.loop
        self._slots: dict[int, list[VoiceStream]] = {}
        self._heap: list[int] = []  # the numbers of the slots holding streams
        self._timer: Any = None
        self._armed_for = float("inf")
        self._wakes: deque[Callable[[None], Any]] = deque()
        self._waking = False
        self.ticks = 0
        """How many times the timer fired (the benchmark's figure of its overhead)."""

    def wake(self, switch: Callable[[None], Any]) -> None:
        """Wake a turn's greenlet (its waiter's ``switch``, called with None) from the hub, soon,
        and not ahead of the frames due by then: the wakes run one after the other in a callback of
        the hub, each after the frames due when it comes up are sent."""
        self._wakes.append(switch)
        if not self._waking:
            self._waking = True
            self._loop.run_callback(self._run_wakes)

    def _run_wakes(self) -> None:
        wakes, perf_counter = self._wakes, time.perf_counter
        try:
            while wakes:
                if perf_counter() >= self._armed_for:  # frames are due: they first
                    self._tick()
                wakes.popleft()(None)  # the greenlet runs until it waits again
        finally:
            self._waking = False
            if wakes:  # a wake raised: the others still run
                self._waking = True
                self._loop.run_callback(self._run_wakes)

    def add(self, stream: VoiceStream) -> None:
        """Start sending ``stream`` (its first frame at once when it is due)."""
        when = stream.run(time.perf_counter())
        if when is not None:
            self._put(stream, when)
            self._arm(when)

    def _put(self, stream: VoiceStream, when: float) -> None:
        slot = int(when * _SLOTS_A_SECOND)
        streams = self._slots.get(slot)
        if streams is None:
            self._slots[slot] = [stream]
            heapq.heappush(self._heap, slot)
        else:
            streams.append(stream)

    def _arm(self, when: float) -> None:
        if when >= self._armed_for:
            return
        if self._timer is not None:
            self._timer.close()
        self._armed_for = when
        self._timer = self._loop.timer(max(when - time.perf_counter(), 0.0))
        self._timer.start(self._tick, update=True)  # from the time now, not the loop's last wake-up

    def _tick(self) -> None:
        self.ticks += 1
        self._armed_for = float("inf")
        slots, heap = self._slots, self._heap
        perf_counter = time.perf_counter
        heappop, heappush, randbits, mask = heapq.heappop, heapq.heappush, _randbits, apply_mask
        now = perf_counter()
        until = now + _TICK_BUDGET_S
        current = int(now * _SLOTS_A_SECOND)
        earliest = float("inf")  # when the streams left in the slot last run are due
        left: list[VoiceStream] = []
        slot = 0
        while heap and heap[0] <= current:
            slot = heappop(heap)
            streams = slots.pop(slot)
            for position, stream in enumerate(streams):
                if now >= until:  # behind: let the hub run, then carry on at once
                    left.extend(streams[position:])
                    earliest = 0.0
                    break
                index = stream.index
                when: float | None
                if 0 < index < stream.fast_until:  # the usual frame: neither the first nor the last
                    due = stream.start + index * stream.interval_s
                    if due > now:
                        when = due
                    else:
                        key = randbits(32).to_bytes(4, "little")
                        data = stream.heads[index] + key + mask(stream.bodies[index], key)  # type: ignore[index]
                        now = perf_counter()
                        try:
                            sent = stream.send(data)
                        except OSError:  # BlockingIOError included
                            sent = -1
                        if sent == len(data):
                            stream.late((now - due) * 1000.0)
                            stream.index = index + 1
                            if index == stream.speech_last:
                                stream.voice.speech_end_ms = (now - stream.start) * 1000.0
                            when = stream.start + (index + 1) * stream.interval_s
                            if when <= now:  # behind: catch up
                                when = stream.run(now)
                                now = perf_counter()
                        else:  # the slow path sends it again (a fresh key), or its rest, or fails
                            when = stream.run(now) if sent < 0 else stream.resume(data, sent, due, now)
                            now = perf_counter()
                else:
                    when = stream.run(now)
                    now = perf_counter()
                if when is None:
                    continue
                next_slot = int(when * _SLOTS_A_SECOND)
                if next_slot == slot:  # the current slot: not due yet
                    left.append(stream)
                    earliest = min(earliest, when)
                    continue
                found = slots.get(next_slot)
                if found is None:
                    slots[next_slot] = [stream]
                    heappush(heap, next_slot)
                else:
                    found.append(stream)
            if left:  # streams staying in this slot (the current one: not due yet; or past the budget)
                break
        if heap:
            earliest = min(earliest, heap[0] / _SLOTS_A_SECOND)
        if left:
            slots[slot] = left
            heappush(heap, slot)
        if earliest < float("inf"):
            self._arm(earliest)  # at once when frames are still due: the reads and the users run in between


_pacers: weakref.WeakKeyDictionary[Hub, Pacer] = weakref.WeakKeyDictionary()


def pacer(hub: Hub | None = None) -> Pacer:
    """The pacer of a hub (one an OS thread: the process's, in Locust)."""
    hub = hub or get_hub()
    found = _pacers.get(hub)
    if found is None:
        found = _pacers[hub] = Pacer(hub)
    return found
