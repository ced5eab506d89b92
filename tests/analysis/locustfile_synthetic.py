"""A tiny synthetic locustfile for the analysis tests: a real Locust run writing real CSVs, no network.

Its users fire Locust's request event themselves, with the request types and error texts of
wslocust (``CONNECT`` handshakes, ``WS`` round trips named after intents), under a step load
shape. What the analysis should find is built in:

- latency grows with the number of users (``base ms * (1 + users / 2)``);
- client errors: handshakes rejected with HTTP 401, at every level;
- server errors: reply timeouts, more frequent with more users;
- unexpected errors: protocol errors, only at the top level;
- a few exceptions raised in the task (``_exceptions.csv``);
- names that test the CSV reading: ``NA`` (not a missing value) and one with a comma and quotes.

Environment variables: ``SYNTH_LEVELS`` (users per step, default ``2,4,6``), ``SYNTH_LEVEL_SECONDS``
(default 2.5), ``SYNTH_FAILED_REPLIES=1`` to also write ``PREFIX_failed_replies.jsonl`` as wslocust
does (each failed ``WS`` reply with its time, name, error message and kind word), ``SYNTH_SILENT=1``
for users that send nothing (a zero-request run).
"""

from __future__ import annotations

from locust import LoadTestShape, User, constant, events, task
from locust.env import Environment

import json
import os
import random
import time
from typing import Any

import gevent

LEVELS = tuple(int(n) for n in os.environ.get("SYNTH_LEVELS", "2,4,6").split(","))
LEVEL_SECONDS = float(os.environ.get("SYNTH_LEVEL_SECONDS", "2.5"))
WRITE_FAILED = os.environ.get("SYNTH_FAILED_REPLIES") == "1"
SILENT = os.environ.get("SYNTH_SILENT") == "1"

NAMES = {"billing": 8.0, "shipping": 15.0, "NA": 5.0, 'order "status", eu': 11.0}
"""Request names and their base latency in ms."""

_failed: list[dict[str, Any]] = []


class HandshakeRejected(Exception):
    kind = "handshake_rejected"


class ReplyTimeout(Exception):
    kind = "timeout"


class ProtocolError(Exception):
    kind = "protocol_error"


class SyntheticChatUser(User):
    wait_time = constant(0.02)
    tasks_done = 0  # of all users: every 97th raises (the exceptions of _exceptions.csv)

    def _users(self) -> int:
        runner = self.environment.runner
        return runner.user_count if runner is not None else 1

    def _fire(
        self, request_type: str, name: str, ms: float, error: Exception | None, chunks: int = 0
    ) -> None:
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=ms,
            response_length=40 * chunks,
            exception=error,
            context={"chunks": chunks},
        )
        if WRITE_FAILED and error is not None and request_type == "WS":
            started = time.time() - ms / 1000
            record = {"time": round(started, 3), "name": name, "prompt": "?", "reply": ""}
            record |= {
                "error": str(error),
                "kind": getattr(error, "kind", "error"),
                "latency_ms": round(ms, 3),
            }
            _failed.append(record)

    def on_start(self) -> None:
        if not SILENT:
            self._fire("CONNECT", "connect", 3.0, None)

    @task
    def ask(self) -> None:
        if SILENT:
            gevent.sleep(0.2)
            return
        users = self._users()
        if random.random() < 0.04:  # a reconnect; half of them rejected
            rejected = random.random() < 0.5
            error = HandshakeRejected("handshake rejected: HTTP 401 Unauthorized") if rejected else None
            self._fire("CONNECT", "connect", 3.0, error)
        name = random.choice(list(NAMES))
        ms = NAMES[name] * (1 + users / 2) * random.uniform(0.8, 1.2)
        gevent.sleep(ms / 1000)
        roll = random.random()
        error: Exception | None = None
        if roll < 0.015 * users:
            error = ReplyTimeout("no complete reply within 5.0 s")
        elif users >= max(LEVELS) and roll > 0.94:
            error = ProtocolError("unreadable message: b'\\x00garbage'")
        SyntheticChatUser.tasks_done += 1
        if SyntheticChatUser.tasks_done % 97 == 0:  # not at random: every run must have some
            raise RuntimeError("synthetic task crash")
        self._fire("WS", name, ms, error, chunks=random.randint(3, 8))


class Steps(LoadTestShape):
    """``LEVELS`` users, ``LEVEL_SECONDS`` each, then stop."""

    def tick(self) -> tuple[int, float] | None:
        step = int(self.get_run_time() // LEVEL_SECONDS)
        return (LEVELS[step], 100.0) if step < len(LEVELS) else None


@events.test_stop.add_listener
def write_failed_replies(environment: Environment, **_kwargs: Any) -> None:
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if WRITE_FAILED and prefix:
        with open(f"{prefix}_failed_replies.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(record) + "\n" for record in _failed)
