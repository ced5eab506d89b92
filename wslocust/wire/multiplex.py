"""Several replies in flight on one connection, socket-free: received bytes in, completed replies out.

With ``--in-flight N`` a user keeps up to N prompts outstanding on its one connection. The protocol
tells the replies apart (:attr:`~wslocust.wire.protocols.Protocol.correlates`): each prompt is sent
tagged with a request id (:meth:`~wslocust.wire.protocols.Protocol.request_with_id`) and each reply
message names the id it answers (:meth:`~wslocust.wire.protocols.Protocol.feed_with_id`). A
:class:`Multiplexer` routes every message's events to its reply and times each reply from its own
send, exactly as :class:`~wslocust.wire.connection.Connection` times a single round trip: its time
to first chunk, gaps and end are those of its own messages, whatever else streams between them.

Policy, tested with bytes alone:

- a message naming an id that is not outstanding (a reply that timed out and came late, an end
  after the end, an id never sent) or naming none while carrying reply events is *unmatched*:
  counted in :attr:`Multiplexer.unmatched` and in the traffic's ``unmatched`` (a figure of the
  run's outputs: ``WS Unmatched Replies``) and otherwise ignored (it fails no prompt);
- a message carrying no reply event (a heartbeat, a ``response.created``, a push) is read and
  ignored;
- each reply has its own deadline: :meth:`Multiplexer.expire` fails those past it (a timeout);
  the connection stays open, since a late reply is told apart by its id;
- a close, a protocol error or a dropped connection fails every outstanding reply
  (:meth:`Multiplexer.fail_all`), each counted on its own.
"""

from __future__ import annotations

from ..errors import BotError, ConnectionClosed, ProtocolError, ReplyTimeout, WsLocustError
from .connection import Action, Close, Pong, complete_reply, framing
from .deflate import DeflateParameters
from .frames import OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, FrameReader, parse_close
from .protocols.base import Chunk, End, Failure, Protocol
from .reply import Reply
from .traffic import PROCESS_TRAFFIC, Traffic, count_control, count_sent_close

__all__ = ["MOST_IN_FLIGHT", "Multiplexer", "Outstanding"]

MOST_IN_FLIGHT = 10_000
"""The most prompts a connection keeps in flight (``--in-flight``): far beyond any bot's queue, and a
bound on the slots a user holds (a larger count is refused at start-up)."""


class Outstanding:
    """A reply in flight: when its prompt was sent (or was due), its deadline, its pieces so far."""

    __slots__ = ("deadline_s", "pieces", "reply", "start_s", "timeout_s")

    def __init__(self, reply: Reply, start_s: float, timeout_s: float, sent_s: float) -> None:
        self.reply = reply
        self.start_s = start_s
        self.timeout_s = timeout_s
        self.deadline_s = sent_s + timeout_s
        self.pieces: list[str] = []


class Multiplexer:
    """The replies in flight on one connection, by request id, and the connection's policy.

    Use one a connection (a fresh one after each connect). :meth:`start` each prompt and send what it
    returns; hand :meth:`receive` every block read with the clock's time (any clock in seconds, the
    one the starts were given in): it returns the replies that completed and what the I/O must do
    (pongs, a close). Call :meth:`expire` when the earliest deadline (:attr:`next_deadline_s`) passes.

    Args:
        protocol: a protocol that :attr:`~wslocust.wire.protocols.Protocol.correlates`.
        reader: the frame reader (a default :class:`~wslocust.wire.frames.FrameReader` when None, or
            with ``deflate`` a :class:`~wslocust.wire.deflate.DeflateFrameReader`).
        deflate: the permessage-deflate parameters agreed at the handshake, if any.
        traffic: where its messages and bytes are counted (the process's :data:`PROCESS_TRAFFIC`
            when None), as a :class:`~wslocust.wire.connection.Connection`'s.
    """

    __slots__ = ("_frame", "outstanding", "protocol", "reader", "traffic", "unmatched")

    def __init__(
        self,
        protocol: Protocol,
        reader: FrameReader | None = None,
        *,
        deflate: DeflateParameters | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self.protocol = protocol
        self.reader, self._frame = framing(reader, deflate)
        self.traffic = PROCESS_TRAFFIC if traffic is None else traffic
        self.outstanding: dict[str, Outstanding] = {}
        """The replies in flight, by request id, in the order their prompts went out."""
        self.unmatched = 0
        """Reply messages that answered no outstanding prompt (late, duplicate or unknown id): ignored."""

    def start(
        self, reply: Reply, request_id: str, start_s: float, timeout_s: float, sent_s: float | None = None
    ) -> bytes:
        """Start awaiting ``reply`` under ``request_id``: return its prompt's frames, ready to send.

        Args:
            reply: the reply to build.
            request_id: the id the protocol tags the prompt with (unique on the connection).
            start_s: when the prompt goes out (or was due, in open-model load), on the receive clock.
            timeout_s: the time allowed for its complete reply, from its send.
            sent_s: when it goes out, when later than ``start_s`` (a late send of open-model load:
                its times count from when it was due, its deadline from when it went out).
        """
        messages = self.protocol.request_with_id(reply.prompt, reply.record, request_id)
        self.outstanding[request_id] = Outstanding(
            reply, start_s, timeout_s, start_s if sent_s is None else sent_s
        )
        payload = b"".join(map(self._frame, messages))
        traffic = self.traffic  # traffic: counted a prompt
        traffic.prompts += 1
        traffic.messages_sent += len(messages)
        traffic.bytes_sent += len(payload)
        return payload

    @property
    def next_deadline_s(self) -> float | None:
        """The earliest deadline of the replies in flight, or None when none is."""
        return min((pending.deadline_s for pending in self.outstanding.values()), default=None)

    def receive(self, data: bytes, now_s: float) -> tuple[list[Reply], list[Action]]:
        """Read a received block: route each message's events to its reply.

        Args:
            data: the bytes read.
            now_s: when they arrived (each reply's times are measured from its own start).

        Returns:
            The replies this block completed (ended, failed by the bot, or by a close or a
            protocol error), and what the I/O must do, in order.
        """
        done: list[Reply] = []
        actions: list[Action] = []
        broken: ProtocolError | None = None
        try:
            frames = self.reader.feed(data)
        except ProtocolError as error:
            frames = self.reader.read_before_error
            broken = error
        traffic = self.traffic  # traffic: counted a block
        traffic.bytes_received += len(data)
        traffic.frames_received += len(frames)
        for opcode, payload in frames:
            if opcode <= OP_BINARY:
                try:
                    request_id, events = self.protocol.feed_with_id(
                        payload.decode() if opcode == OP_TEXT else payload
                    )
                except UnicodeDecodeError:
                    broken = ProtocolError("text message is not valid UTF-8", close_code=1007)
                    break
                except ProtocolError as error:
                    broken = error
                    break
                if not events:
                    continue
                if request_id is None or (pending := self.outstanding.get(request_id)) is None:
                    self.unmatched += 1
                    traffic.pushes += 1  # traffic: a message no reply awaited
                    traffic.unmatched += 1
                    continue
                reply = pending.reply
                reply.bytes += len(payload)
                time_ms = (now_s - pending.start_s) * 1000.0
                for event in events:
                    if type(event) is Chunk:
                        pending.pieces.append(event.text)
                        reply.chunk_times_ms.append(time_ms)
                    elif type(event) is End:
                        reply.meta = event.meta
                        done.append(self._complete(request_id, time_ms))
                        break
                    elif type(event) is Failure:
                        reply.error = BotError(f"bot reported an error: {event.message}")
                        done.append(self._complete(request_id, time_ms))
                        break
            elif opcode == OP_PING:
                actions.append(Pong(payload))
                count_control(traffic, len(payload))
            elif opcode == OP_CLOSE:
                traffic.control_received += 1
                try:
                    code, reason = parse_close(payload)
                except ProtocolError as error:
                    broken = error
                    break
                count_sent_close(traffic)
                done += self.fail_all(ConnectionClosed(code, f"({reason})" if reason else ""), now_s)
                actions.append(Close(1000))  # nothing is read after a close
                return done, actions
            else:  # an unsolicited pong
                traffic.control_received += 1
        if broken is not None:
            done += self.fail_all(broken, now_s)
            actions.append(Close(broken.close_code))
            count_sent_close(traffic)
        return done, actions

    def expire(self, now_s: float) -> list[Reply]:
        """Fail, each with a timeout, the replies whose deadline is past at ``now_s``."""
        late = [request_id for request_id, pending in self.outstanding.items() if pending.deadline_s <= now_s]
        expired = []
        for request_id in late:
            pending = self.outstanding[request_id]
            pending.reply.error = ReplyTimeout(f"no complete reply within {pending.timeout_s:g} s")
            expired.append(self._complete(request_id, (now_s - pending.start_s) * 1000.0))
        return expired

    def fail_all(self, error: WsLocustError, now_s: float) -> list[Reply]:
        """Fail every reply in flight with ``error`` at ``now_s`` (the connection is gone), keeping
        the chunks that came; return them, in the order their prompts went out."""
        failed = []
        for request_id, pending in list(self.outstanding.items()):
            pending.reply.error = error
            failed.append(self._complete(request_id, (now_s - pending.start_s) * 1000.0))
        return failed

    def _complete(self, request_id: str, time_ms: float) -> Reply:
        pending = self.outstanding.pop(request_id)
        complete_reply(pending.reply, pending.pieces, time_ms)
        return pending.reply
