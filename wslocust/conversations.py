"""Multi-turn conversations: a dataset record with ``turns`` asked in order on one connection.

Each turn is one ``WS`` request named ``<name> #<n>`` (the record's name, or ``--request-name``, and
the turn's number from 1), scored by the metrics against the turn's own fields. The conversation
itself is one ``CONVERSATION`` request event named ``<name>``: its response time is the
conversation's duration (from its start, a new connection's handshake included, to its last turn's
reply, the pauses between turns included), failed when a turn failed. Locust's statistics, CSVs, web
UI and worker merge carry it; the chat figures (replies, TTFT, goodput) count only ``WS`` replies.

A turn with ``audio`` is an audio turn (:mod:`wslocust.speaking`): its utterance is sent at
real-time pace on the conversation's connection and its answer read, one ``WS`` request ``<name> #<n>``
as a text turn's, with its voice times; text and audio turns mix in a conversation (a protocol that
sends audio turns only refuses text turns at start-up, naming the record's line and the turn).

A failed turn ends its conversation unless ``continue_after_failed_turn``. By default a conversation
starts on a new connection (a new session: the bot's welcome and state are fresh);
``conversations_per_connection`` keeps one connection for that many. Under ``--arrival-rate`` the
schedule paces conversations: each due time starts one, and its first turn is timed from it.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.env import Environment
from locust.stats import StatsEntry

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import gevent

from .client import ChatClient
from .connection_life import ConnectionLife
from .datasets import PromptRecord, Turn
from .errors import ConfigurationError, ConnectError, WsLocustError
from .outputs.csv_files import CONVERSATIONS_SUFFIX, write_conversations_csv
from .outputs.summary import conversations_summary
from .settings import given, option_flag, required, setting
from .values import count, flag, seconds_range
from .wire.reply import REQUEST_TYPE, Reply

if TYPE_CHECKING:
    from .speaking import VoiceAsker

__all__ = [
    "CONVERSATION_REQUEST_TYPE",
    "DEFAULT_CONVERSATION_NAME",
    "ConversationAsker",
    "ConversationFailed",
    "ConversationSettings",
    "Conversing",
    "conversation_entries",
    "conversations_section",
    "turn_name",
]

CONVERSATION_REQUEST_TYPE = "CONVERSATION"
"""The request type of a whole conversation's event (its turns are ``WS`` requests)."""

DEFAULT_CONVERSATION_NAME = "conversation"
"""The name of a conversation whose record has none (and no ``--request-name`` is given)."""


def turn_name(name: str, number: int) -> str:
    """The request name of a conversation's turn: ``billing #2`` is the second turn of ``billing``."""
    return f"{name} #{number}"


class ConversationFailed(WsLocustError):
    """A turn of a conversation failed: the conversation's event carries it."""

    kind = "conversation_failed"


class Conversing:
    """The conversation settings of a user class (a mixin of :class:`~wslocust.users.ChatbotUser`)."""

    turn_think_time: ClassVar[float | str] = 0
    """Seconds between a turn's reply and the next turn: ``N`` or ``MIN-MAX`` (e.g. ``"1-3"``), distinct
    from the think time between conversations (``--turn-think-time``)."""

    continue_after_failed_turn: ClassVar[bool] = False
    """Ask a conversation's remaining turns after one failed (it still counts as failed); by default a
    failed turn ends it (``--continue-after-failed-turn``)."""

    conversations_per_connection: ClassVar[int] = 1
    """Conversations asked on one connection before a new one opens; 1 (the default) starts each
    conversation on a new connection (``--conversations-per-connection``)."""


@dataclass(frozen=True)
class ConversationSettings:
    """How a user asks conversations, resolved from its class attributes and the options."""

    turn_think_time_s: tuple[float, float] = (0.0, 0.0)
    continue_after_failed_turn: bool = False
    conversations_per_connection: int = 1

    @classmethod
    def of(cls, user_class: type[Conversing], environment: Environment) -> ConversationSettings:
        """Resolve the settings (the option when given, else the class attribute).

        Raises:
            ConfigurationError: a value is wrong (names the option or the class attribute).
        """
        options = environment.parsed_options
        go_on = given(options, "continue_after_failed_turn")
        attribute = f"{user_class.__name__}.continue_after_failed_turn"
        return cls(
            turn_think_time_s=required(setting(user_class, options, "turn_think_time", seconds_range)),
            continue_after_failed_turn=flag(user_class.continue_after_failed_turn, attribute)
            or (go_on is not None and flag(go_on, option_flag("continue_after_failed_turn"))),
            conversations_per_connection=required(
                setting(user_class, options, "conversations_per_connection", _at_least_one)
            ),
        )


def _at_least_one(value: Any, name: str) -> int:
    return count(value, name, minimum=1)


class ConversationAsker:
    """Asks one user's conversations on its client.

    Args:
        client: the user's client (its connection is closed between conversations as the settings say).
        settings: the conversation settings.
        life: the user's connections over its endpoints: each turn connects through it (failover,
            backoff, outages), on its current endpoint's client; None asks on ``client`` alone.
    """

    def __init__(
        self, client: ChatClient, settings: ConversationSettings, life: ConnectionLife | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.life = life
        self._on_connection = 0  # conversations begun on the current connection
        self._record_fields = tuple(client.protocol.record_fields())  # the template's, besides the prompt

    def ask(
        self,
        record: PromptRecord,
        *,
        name: str | None = None,
        scheduled_at: float | None = None,
        voice: VoiceAsker | None = None,
    ) -> bool:
        """Ask a conversation's turns in order and fire its ``CONVERSATION`` event.

        Args:
            record: a conversation (``record.turns`` not empty).
            name: the name to report it under; the record's name (else ``conversation``) when None.
            scheduled_at: the ``time.perf_counter()`` it was due (open-model load): its first turn and
                its duration are timed from it.
            voice: the user's voice asker, which asks the audio turns (None: every turn is text).

        Returns:
            Whether every turn asked succeeded.
        """
        life = self.life
        client = self.client if life is None else life.client
        if not client.connected:
            self._on_connection = 0  # the next turn opens a new connection
        elif self._on_connection >= self.settings.conversations_per_connection:
            client.close()
            self._on_connection = 0
        self._on_connection += 1
        base = name or record.name or DEFAULT_CONVERSATION_NAME
        low, high = self.settings.turn_think_time_s
        start = time.perf_counter()
        started_at = time.time()
        if scheduled_at is not None and scheduled_at < start:  # due earlier: timed from when it was due
            started_at -= start - scheduled_at
            start = scheduled_at
        failure: WsLocustError | None = None
        size = 0
        for number, turn in enumerate(record.turns, start=1):
            if number > 1 and high > 0:
                gevent.sleep(random.uniform(low, high))
            lacking = [field for field in self._record_fields if field not in turn.fields]
            if lacking:  # a failed turn, not sent (start-up saw turns that have the field)
                reply = self._fail_unsent(
                    turn, turn_name(base, number), f"turn {number} of {record.source}", lacking[0]
                )
            elif life is not None and not life.ready():  # no connection: its CONNECT event counts why
                reply = Reply(
                    prompt=turn.prompt,
                    name=turn_name(base, number),
                    record=turn.fields,
                    error=ConnectError("not connected"),
                    started_at=time.time(),
                )
            else:
                client = client if life is None else life.client  # after a failover, the next endpoint's
                asked, due = turn_name(base, number), scheduled_at if number == 1 else None
                spoken = voice and voice.ask(
                    client, turn, asked, due, source=f"{record.source}: turn {number}"
                )
                reply = spoken or client.ask(turn.prompt, record=turn.fields, name=asked, scheduled_at=due)
                if life is not None:
                    life.observe(reply)
            size += reply.bytes
            if reply.error is not None:
                if failure is None:
                    failure = ConversationFailed(f"turn {number} failed: {reply.error}")
                if not self.settings.continue_after_failed_turn:
                    break
        client.environment.events.request.fire(
            request_type=CONVERSATION_REQUEST_TYPE,
            name=base,
            response_time=(time.perf_counter() - start) * 1000.0,
            response_length=size,
            exception=failure,
            context={"turns": len(record.turns)},
            start_time=started_at,
            url=None,
        )
        return failure is None

    def _fail_unsent(self, turn: Turn, name: str, where: str, field: str) -> Reply:
        """Count a turn its fields cannot make (its template's field missing) as a failed reply."""
        option = self.client.protocol.template_option or "the template"
        error = ConfigurationError(f"{option} uses {{{field}}}, which {where} lacks")
        reply = Reply(prompt=turn.prompt, name=name, record=turn.fields, error=error, started_at=time.time())
        self.client.environment.events.request.fire(
            request_type=REQUEST_TYPE, name=name, response_time=0.0, response_length=0,
            exception=error, context={}, response=reply, start_time=reply.started_at, url=None,
        )  # fmt: skip
        return reply


def conversation_entries(environment: Environment) -> tuple[StatsEntry, dict[str, StatsEntry]] | None:
    """Locust's statistics of the ``CONVERSATION`` events so far: all of them, and by name; None
    when the run asked none."""
    stats = environment.stats
    entries = {
        name: entry
        for (name, method), entry in stats.entries.items()
        if method == CONVERSATION_REQUEST_TYPE and entry.num_requests
    }
    if not entries:
        return None
    total = StatsEntry(stats, "Total", CONVERSATION_REQUEST_TYPE)
    for entry in entries.values():
        total.extend(entry)
    return total, entries


def conversations_section(environment: Environment, csv_prefix: str | None = None) -> dict[str, Any]:
    """The JSON summary's ``conversations`` section, from Locust's statistics of the ``CONVERSATION``
    events (on a master: merged from every worker's final report); empty when the run asked none.

    With a CSV prefix (``--csv``), also writes ``PREFIX_conversations.csv`` (Locust's own
    ``PREFIX_stats.csv`` has the ``CONVERSATION`` rows too, but a distributed run's is written before
    the workers' final reports).
    """
    found = conversation_entries(environment)
    if found is None:
        return {}
    total, entries = found
    if csv_prefix:
        write_conversations_csv(Path(csv_prefix + CONVERSATIONS_SUFFIX), total, entries)
    return {"conversations": conversations_summary(total, entries)}
