"""A completed reply's report, the same from every read loop: checks, then one request event."""

from __future__ import annotations

from wslocust.errors import BotError, WsLocustError
from wslocust.report import report_reply
from wslocust.wire.reply import Reply

from .conftest import make_reply


def test_checks_run_until_one_fails_the_reply_then_its_one_event_fires(recorded_env) -> None:
    environment, recorded = recorded_env
    ran: list[str] = []

    def passes(reply: Reply) -> WsLocustError | None:
        ran.append("passes")
        return None

    def fails(reply: Reply) -> WsLocustError | None:
        ran.append("fails")
        return BotError("wrong answer")

    def never(reply: Reply) -> WsLocustError | None:
        ran.append("never")
        return None

    reply = make_reply("billing", text="one two", chunk_times_ms=(12.0, 30.0), total_time_ms=80.0)
    report_reply(environment, [passes, fails, never], reply)
    assert ran == ["passes", "fails"]
    (event,) = recorded.of("WS")
    assert event["name"] == "billing"
    assert event["response_time"] == 80.0
    assert event["exception"] is reply.error
    assert isinstance(reply.error, BotError)
    assert event["context"] == {"time_to_first_chunk_ms": 12.0, "chunks": 2, "reply": "one two"}
    assert event["response"] is reply
    assert event["start_time"] == reply.started_at


def test_no_check_runs_on_a_reply_that_failed_already(recorded_env) -> None:
    environment, recorded = recorded_env
    error = BotError("bot said no")
    reply = make_reply(error=error)
    report_reply(environment, [lambda reply: BotError("not this one")], reply)
    assert recorded.of("WS")[0]["exception"] is error
