"""Several prompts in flight on one connection (``--in-flight``): each reply timed and reported on its
own, against the demo bot and hand-written servers on 127.0.0.1."""

from __future__ import annotations

from locust import constant
from locust.env import Environment
from locust.event import Events

import argparse
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import gevent
import pytest
from gevent.lock import Semaphore

from wslocust.client import ChatClient
from wslocust.errors import ConfigurationError, ConnectionClosed, ReplyTimeout
from wslocust.inflight import InFlight, in_flight_limit
from wslocust.users import ChatbotUser
from wslocust.wire.frames import OP_CLOSE, OP_TEXT, FrameReader, encode_frame
from wslocust.wire.protocols import JsonProtocol, OpenAIRealtimeProtocol, PlainProtocol, Protocol

from .conftest import SAMPLE, UNIT, RawServer, wait_until
from .test_locust_run import assert_one_clear_error, read_rows, run_locust

TOLERANCE_MS = 12 * UNIT
"""How far a measured time may exceed the delay the server injected (scheduling, loopback)."""

TEMPLATE = '{"prompt": "{prompt}", "request_id": "{request_id}"}'
QUESTION = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])["Question"]


def tagged_json() -> JsonProtocol:
    return JsonProtocol(template=TEMPLATE, id_path="request_id")


def answering_by_delay(*, close_after: int | None = None) -> Callable[[socket.socket, dict[str, str]], None]:
    """A server answering each prompt ``{"prompt": "MS", "request_id": ID}`` with one chunk MS ms after
    it came and the end 50 ms later, both tagged with its id; ``never`` is not answered. With
    ``close_after``, it closes the connection (1011) once that many prompts came instead."""

    def handler(sock: socket.socket, _headers: dict[str, str]) -> None:
        reader = FrameReader(accept_masked=True)
        sending = Semaphore()
        prompts = 0

        def send(document: dict[str, str]) -> None:
            with sending:
                sock.sendall(encode_frame(OP_TEXT, json.dumps(document).encode(), mask=False))

        def answer(request_id: str, delay_ms: int) -> None:
            gevent.sleep(delay_ms / 1000.0)
            send({"type": "chunk", "text": f"after {delay_ms}", "request_id": request_id})
            gevent.sleep(0.05)
            send({"type": "end", "request_id": request_id})

        while data := sock.recv(65536):
            for opcode, payload in reader.feed(data):
                if opcode == OP_CLOSE:
                    return
                prompt = json.loads(payload)
                prompts += 1
                if close_after is not None and prompts == close_after:
                    with sending:
                        sock.sendall(
                            encode_frame(OP_CLOSE, (1011).to_bytes(2, "big") + b"overloaded", mask=False)
                        )
                    return
                if prompt["prompt"] != "never":
                    gevent.spawn(answer, prompt["request_id"], int(prompt["prompt"]))

    return handler


def in_flight_client(environment, url: str, protocol: Protocol, limit: int = 4, **kwargs) -> InFlight:  # type: ignore[no-untyped-def]
    return InFlight(ChatClient(environment, url, protocol, **kwargs), limit)


@pytest.mark.parametrize("protocol", [tagged_json, OpenAIRealtimeProtocol])
def test_four_prompts_in_flight_are_answered_side_by_side_by_the_demo_bot_each_timed_on_its_own(
    recorded_env, demo, protocol
) -> None:
    """Eight prompts, four at a time, on one connection: each reply lasts one reply's time, not four."""
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "100", "--itl-ms", "20", "--chunks", "4")
    flight = in_flight_client(environment, url, protocol())
    for _ in range(8):
        flight.ask(QUESTION, name="reset")
    assert wait_until(lambda: len(recorded.of("WS")) == 8, 10 * UNIT)
    flight.close()
    assert len(recorded.of("CONNECT")) == 1
    # Four replies' chunks fall due at the same instants and the bot sends them one after another:
    # twice the one-reply tolerance, far below the 160 ms more a reply waited if they were in turn.
    tolerance_ms = 2 * TOLERANCE_MS
    for event in recorded.of("WS"):
        assert event["exception"] is None
        assert event["context"]["chunks"] == 4
        assert 100 <= event["context"]["time_to_first_chunk_ms"] <= 100 + tolerance_ms
        assert 160 <= event["response_time"] <= 160 + tolerance_ms
    assert {event["response"].text for event in recorded.of("WS")} == {recorded.of("WS")[0]["response"].text}


def test_replies_ending_out_of_order_keep_each_prompts_own_timings(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env
    server: RawServer = raw_server(answering_by_delay())
    flight = in_flight_client(environment, f"ws://127.0.0.1:{server.port}", tagged_json())
    for delay_ms in (300, 100, 200):
        flight.ask(str(delay_ms))
    assert wait_until(lambda: len(recorded.of("WS")) == 3, 5 * UNIT)
    flight.close()
    replies = [event["response"] for event in recorded.of("WS")]
    assert [reply.prompt for reply in replies] == ["100", "200", "300"]  # ended out of send order
    for reply in replies:
        delay_ms = int(reply.prompt)
        assert reply.text == f"after {delay_ms}"
        assert delay_ms <= reply.time_to_first_chunk_ms <= delay_ms + TOLERANCE_MS
        assert delay_ms + 50 <= reply.total_time_ms <= delay_ms + 50 + TOLERANCE_MS


def test_one_reply_of_several_times_out_alone_and_the_connection_stays_open(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env
    server: RawServer = raw_server(answering_by_delay())
    timeout_s = 0.4 * UNIT
    flight = in_flight_client(
        environment, f"ws://127.0.0.1:{server.port}", tagged_json(), reply_timeout_s=timeout_s
    )
    for prompt in ("50", "never", "100"):
        flight.ask(prompt)
    assert wait_until(lambda: len(recorded.of("WS")) == 3, 5 * UNIT)
    flight.ask("10")  # on the same connection
    assert wait_until(lambda: len(recorded.of("WS")) == 4, 5 * UNIT)
    flight.close()
    by_prompt = {event["response"].prompt: event for event in recorded.of("WS")}
    assert isinstance(by_prompt["never"]["exception"], ReplyTimeout)
    assert timeout_s * 1000 <= by_prompt["never"]["response_time"] <= timeout_s * 1000 + TOLERANCE_MS
    assert [by_prompt[prompt]["exception"] for prompt in ("50", "100", "10")] == [None, None, None]
    assert len(recorded.of("CONNECT")) == 1


def test_a_close_mid_flight_fails_every_outstanding_reply_each_counted(recorded_env, raw_server) -> None:
    environment, recorded = recorded_env
    server: RawServer = raw_server(answering_by_delay(close_after=3))
    flight = in_flight_client(environment, f"ws://127.0.0.1:{server.port}", tagged_json())
    for prompt in ("1000", "1000", "1000"):
        flight.ask(prompt)
    assert wait_until(lambda: len(recorded.of("WS")) == 3, 5 * UNIT)
    assert flight.outstanding == 0
    errors = [event["exception"] for event in recorded.of("WS")]
    assert all(isinstance(error, ConnectionClosed) and "1011" in str(error) for error in errors)
    flight.ask("10")  # the next prompt reconnects
    assert wait_until(lambda: len(recorded.of("CONNECT")) == 2, 5 * UNIT)
    flight.close()


def test_more_than_one_in_flight_is_refused_for_a_protocol_that_cannot_tell_replies_apart() -> None:
    options = argparse.Namespace(in_flight="4")
    with pytest.raises(ConfigurationError, match=r"--in-flight 4: protocol plain cannot tell replies apart"):
        in_flight_limit(ChatbotUser, options, PlainProtocol())
    with pytest.raises(ConfigurationError, match=r"protocol json cannot .* without --json-id-path"):
        in_flight_limit(ChatbotUser, options, JsonProtocol())
    assert in_flight_limit(ChatbotUser, options, tagged_json()) == 4
    assert in_flight_limit(ChatbotUser, argparse.Namespace(), PlainProtocol()) == 1


def test_an_in_flight_beyond_the_most_a_connection_keeps_is_refused_naming_the_setting() -> None:
    """A huge --in-flight (or class attribute) is one clear error, not an OverflowError at the first spawn."""
    with pytest.raises(ConfigurationError, match=r"--in-flight must be a whole number from 1 to 10000"):
        in_flight_limit(ChatbotUser, argparse.Namespace(in_flight="99999999999999999999"), tagged_json())
    with pytest.raises(ConfigurationError, match=r"in_flight must be a whole number from 1 to 10000"):
        in_flight_limit(type("Greedy", (ChatbotUser,), {"in_flight": 10_001}), None, tagged_json())
    assert in_flight_limit(ChatbotUser, argparse.Namespace(in_flight="10000"), tagged_json()) == 10_000


@pytest.mark.slow
def test_in_flight_with_plain_stops_the_run_at_start_up_naming_the_protocol(tmp_path: Path) -> None:
    result = run_locust("--headless", "-u", "1", "-t", "3s", "--protocol", "plain", "--in-flight", "4")
    assert_one_clear_error(result, "--in-flight 4", "protocol plain cannot tell replies apart")


@pytest.mark.slow
def test_a_run_with_four_in_flight_keeps_one_connection_a_user_and_more_replies_than_one_at_a_time(
    tmp_path: Path,
) -> None:
    prefix = tmp_path / "run"
    started = time.monotonic()
    result = run_locust(
        "--headless", "-u", "2", "-r", "2", "-t", "3s", "--think-time", "0", "--csv", str(prefix),
        "--protocol", "json", "--json-template", TEMPLATE, "--json-id-path", "request_id", "--in-flight", "4",
        "--demo-ttft-ms", "100", "--demo-itl-ms", "10", "--demo-chunks", "5",
        "--demo-error-rate", "0", "--demo-wrong-rate", "0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.monotonic() - started < 30 * UNIT
    rows = {(row["Type"], row["Name"]): row for row in read_rows(Path(f"{prefix}_stats.csv"))}
    assert int(rows[("CONNECT", "connect")]["Request Count"]) == 2
    replies = [row for (kind, _), row in rows.items() if kind == "WS"]
    assert sum(int(row["Failure Count"]) for row in replies) == 0
    # One at a time, 2 users could ask at most 2 x 3 s / 0.14 s = 43 prompts; four at a time, ~170.
    assert sum(int(row["Request Count"]) for row in replies) > 64
    # every reply message matched its prompt: the outputs say so (the figure is there, at 0)
    chat = {row["Name"]: row for row in read_rows(Path(f"{prefix}_chat_stats.csv"))}
    assert chat["Aggregated"]["WS Unmatched Replies"] == "0"


def test_finishing_a_connection_waits_for_its_replies_and_the_next_prompt_reconnects(
    recorded_env, demo
) -> None:
    """What --prompts-per-connection does with prompts in flight."""
    environment, recorded = recorded_env
    flight = in_flight_client(
        environment, demo("--ttft-ms", "50", "--itl-ms", "1", "--chunks", "2"), tagged_json()
    )
    flight.ask(QUESTION)
    flight.ask(QUESTION)
    flight.finish()
    assert len(recorded.of("WS")) == 2
    flight.ask(QUESTION)
    assert wait_until(lambda: len(recorded.of("WS")) == 3, 5 * UNIT)
    flight.close()
    assert [event["exception"] for event in recorded.of("WS")] == [None, None, None]
    assert len(recorded.of("CONNECT")) == 2


def test_a_stop_hands_the_replies_in_flight_over_as_stopped_without_firing_them(
    recorded_env, raw_server
) -> None:
    environment, recorded = recorded_env
    server: RawServer = raw_server(answering_by_delay())
    stopped = []
    flight = in_flight_client(
        environment, f"ws://127.0.0.1:{server.port}", tagged_json(), on_stopped_mid_reply=stopped.append
    )
    flight.ask("never")
    flight.ask("never")
    flight.close()
    assert [reply.prompt for reply in stopped] == ["never", "never"]
    assert recorded.of("WS") == []


@pytest.mark.parametrize("think_s", [0.0, 0.2 * UNIT])  # stopped waiting for a slot, or thinking
def test_a_graceful_stop_lets_the_replies_in_flight_end_and_reports_each(
    raw_server, tmp_path: Path, think_s: float
) -> None:
    """With a stop timeout, as on the one-prompt path, a stopping user's replies in flight end and fire
    their events; none is handed over as stopped mid-reply."""
    server: RawServer = raw_server(answering_by_delay())
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(f"{int(300 * UNIT)}\n", encoding="utf-8")

    class Queueing(ChatbotUser):
        host = f"ws://127.0.0.1:{server.port}"
        wait_time = constant(think_s)

    Queueing.prompts = str(prompts)
    environment = Environment(user_classes=[Queueing], events=Events(), stop_timeout=10 * UNIT)
    environment.parsed_options = argparse.Namespace(
        protocol="json", json_template=TEMPLATE, json_id_path="request_id", in_flight="2"
    )
    answered: list[BaseException | None] = []
    environment.events.request.add_listener(
        lambda request_type, exception, **_: answered.append(exception) if request_type == "WS" else None
    )
    runner = environment.create_local_runner()
    stopped: list[object] = []
    try:
        runner.start(1, spawn_rate=100)
        assert wait_until(lambda: len(runner.user_greenlets) == 1, 5 * UNIT)
        [user] = [greenlet.args[0] for greenlet in runner.user_greenlets]
        user.client.on_stopped_mid_reply = stopped.append
        assert wait_until(lambda: user.prompts_in_flight.outstanding == 2, 5 * UNIT)
        runner.stop()
    finally:
        runner.quit()
    assert stopped == []
    assert len(answered) >= 2
    assert answered == [None] * len(answered)


def test_server_pings_are_answered_while_replies_are_in_flight(recorded_env, demo) -> None:
    """The demo bot drops a client whose pong is 0.15 s late; replies take 0.5 s."""
    environment, recorded = recorded_env
    url = demo("--ping-interval-s", "0.05", "--ping-timeout-s", "0.15", "--ttft-ms", "500", "--itl-ms", "1")
    flight = in_flight_client(environment, url, tagged_json())
    flight.ask(QUESTION)
    flight.ask(QUESTION)
    assert wait_until(lambda: len(recorded.of("WS")) == 2, 5 * UNIT)
    flight.close()
    assert [event["exception"] for event in recorded.of("WS")] == [None, None]
    assert flight.client.pings_answered >= 3


def test_a_check_that_raises_fails_the_other_replies_in_flight_instead_of_hanging_the_user(
    recorded_env, raw_server
) -> None:
    environment, recorded = recorded_env
    server: RawServer = raw_server(answering_by_delay())

    def broken_check(reply):  # type: ignore[no-untyped-def]
        raise RuntimeError("a bug in a check")

    flight = in_flight_client(
        environment, f"ws://127.0.0.1:{server.port}", tagged_json(), limit=2, checks=[broken_check]
    )
    flight.ask("10")
    flight.ask("2000")
    assert wait_until(lambda: len(recorded.of("WS")) == 1, 5 * UNIT)
    assert "the reader failed" in str(recorded.of("WS")[0]["exception"])
    assert recorded.of("WS")[0]["response"].prompt == "2000"
    flight.ask("10")  # a free slot, a new connection: the user goes on
    assert wait_until(lambda: len(recorded.of("CONNECT")) == 2, 5 * UNIT)
    flight.close()
