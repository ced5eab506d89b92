"""The web UI: the Chatbot tab's JSON data, CSV downloads and resets; in headless Chromium, the form
(values shown, grouped, sent back, checked) and the Chatbot tab (table, live charts)."""

from __future__ import annotations

from locust.web import DEFAULT_CACHE_TIME

import csv
import io
import json
import os
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scripts.screenshot_webui import Browser, find_chromium, parse_page, running_web_ui
from wslocust.outputs import HISTORY_COLUMNS, STATS_COLUMNS
from wslocust.outputs.csv_files import CONVERSATIONS_COLUMNS, VOICE_COLUMNS
from wslocust.outputs.lifecycle import LIFECYCLE_COLUMNS
from wslocust.plugin.webui import CHART_COLUMNS
from wslocust.plugin.webui_form import (
    FORM_GROUPS,
    SECRET_MASK,
    form_options,
    front_end_name,
    posted_name,
    shown_values,
)

from ..conftest import ROOT, UNIT, free_port, locust_command
from ..test_locust_run import INTENTS, get_json, post

SWARM = {"user_count": "4", "spawn_rate": "4", "think_time": "0.05"}
START_S = 60 * UNIT
"""The most a web UI may take to start (and to stop): a loaded machine's Locust takes seconds."""
HTTP_S = 10 * UNIT
"""The most one request to the web UI may take."""


@pytest.fixture
def chatbot_ui() -> Iterator[str]:
    """The shipped locustfile's web UI on the embedded demo bot (10 ms TTFT, 20% wrong answers)."""
    port = free_port()
    command = locust_command(
        "--web-host", "127.0.0.1", "--web-port", str(port),
        "--demo-ttft-ms", "10", "--demo-itl-ms", "2", "--demo-wrong-rate", "0.2",
    )  # fmt: skip
    with running_web_ui(command, f"http://127.0.0.1:{port}/", timeout_s=START_S):
        yield f"http://127.0.0.1:{port}"


def stats(base: str) -> dict[str, Any]:
    return get_json(base + "/stats/requests")  # type: ignore[no-any-return]


def chatbot_rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The Chatbot tab's rows by name (``extended_stats`` of ``/stats/requests``)."""
    [entry] = [entry for entry in data.get("extended_stats", []) if entry["key"] == "chatbot"]
    names = [row["name"] for row in entry["data"]]
    assert len(names) == len(set(names)), names
    return {row["name"]: row for row in entry["data"]}


def ws_requests(data: dict[str, Any]) -> int:
    return sum(row["num_requests"] for row in data["stats"] if row["method"] == "WS")


def poll(base: str, condition: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
    """``/stats/requests`` once ``condition`` holds on it (the last answer if it never does)."""
    deadline = time.monotonic() + timeout_s * UNIT
    data = stats(base)
    while not condition(data) and time.monotonic() < deadline:
        time.sleep(0.2)
        data = stats(base)
    return data


def replies(data: dict[str, Any]) -> int:
    total = chatbot_rows(data).get("Aggregated")
    return int(total["replies"]) if total else 0


def start_swarm_and_wait(base: str, at_least: int) -> dict[str, Any]:
    assert post(base + "/swarm", SWARM)["success"]
    data = poll(base, lambda data: replies(data) >= at_least, 15)
    assert replies(data) >= at_least, data
    return data


def stop(base: str) -> dict[str, Any]:
    """Stop the test; the final statistics: ``/stats/requests`` once it says the test stopped. Locust
    caches its part of that answer (not our ``extended_stats``) for ``DEFAULT_CACHE_TIME`` seconds:
    that long after the stop, no answer from before it is served (a fixed time of Locust's, not a
    guess), and then the stop may take as long as the machine needs."""
    post(base + "/stop", {})
    time.sleep(DEFAULT_CACHE_TIME + 0.3)
    data = poll(base, lambda data: data["state"] == "stopped", 30)
    assert data["state"] == "stopped", data
    return data


def download_csv(url: str) -> tuple[list[str], list[dict[str, str]]]:
    with urllib.request.urlopen(url, timeout=HTTP_S) as response:
        assert response.headers.get_content_type() == "text/csv"
        reader = csv.DictReader(io.StringIO(response.read().decode()))
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.mark.slow
def test_the_page_declares_the_chatbot_tab_its_columns_and_csv_downloads(chatbot_ui: str) -> None:
    page = urllib.request.urlopen(chatbot_ui + "/", timeout=HTTP_S).read().decode()
    start = page.index("window.templateArgs = ") + len("window.templateArgs = ")
    args, _ = json.JSONDecoder().raw_decode(page, start)
    assert {"key": "chatbot", "title": "Chatbot"} in args["extended_tabs"]
    [table] = [table for table in args["extended_tables"] if table["key"] == "chatbot"]
    columns = {column["key"]: column["title"] for column in table["structure"]}
    assert columns["name"] == "Name"
    assert columns["ttft_p50_ms"] == "TTFT p50 (ms)"
    assert {"replies", "ttft_p99_ms", "intent_mean", "intent_missed", "recall_mean"} <= set(columns)
    hrefs = {link["href"] for link in args["extended_csv_files"]}
    assert hrefs == {"./wslocust/chat_stats.csv", "./wslocust/chat_stats_history.csv", "./wslocust/voice.csv"}
    voice = urllib.request.urlopen(chatbot_ui + "/wslocust/voice.csv", timeout=HTTP_S).read().decode()
    assert voice.splitlines() == [",".join(VOICE_COLUMNS)]  # no audio turn: the header alone


@pytest.mark.slow
def test_under_a_web_base_path_the_chatbot_tab_its_script_charts_and_downloads_are_served_there() -> None:
    port = free_port()
    command = locust_command(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--web-base-path", "/bot-tests",
        "--demo-ttft-ms", "10", "--demo-itl-ms", "2",
    )  # fmt: skip
    with running_web_ui(command, f"http://127.0.0.1:{port}/bot-tests/", timeout_s=START_S) as page_url:
        page = urllib.request.urlopen(page_url, timeout=HTTP_S).read().decode()
        assert '<script defer src="./wslocust/webui.js">' in page  # relative: under the base path
        script = urllib.request.urlopen(page_url + "wslocust/webui.js", timeout=HTTP_S).read().decode()
        assert "charts.json" in script
        assert post(page_url + "swarm", SWARM)["success"]
        data = poll(page_url.rstrip("/"), lambda data: replies(data) >= 5, 15)
        assert replies(data) >= 5, data  # the Chatbot tab's rows, in /bot-tests/stats/requests
        deadline = time.monotonic() + 10 * UNIT
        while not get_json(page_url + "wslocust/charts.json")["timestamps"]:
            assert time.monotonic() < deadline, "no second of history charted"
            time.sleep(0.2)  # a second is charted once it has ended
        header, rows = download_csv(page_url + "wslocust/chat_stats.csv")
        assert header[: len(STATS_COLUMNS)] == STATS_COLUMNS
        assert "Aggregated" in {row["Name"] for row in rows}


@pytest.mark.slow
def test_the_chatbot_stats_match_locusts_counts_and_download_as_csv(chatbot_ui: str) -> None:
    start_swarm_and_wait(chatbot_ui, at_least=40)
    data = stop(chatbot_ui)  # final numbers: no reply between the two counts
    rows = chatbot_rows(data)
    names = {row["name"] for row in data["stats"] if row["method"] == "WS"}
    assert set(rows) == names | {"Aggregated"}  # one row an intent (chatbot_rows: no duplicates)
    assert names <= INTENTS
    assert len(names) >= 4
    total = rows["Aggregated"]
    assert total["replies"] == ws_requests(data) >= 40
    assert total["replies"] == sum(rows[name]["replies"] for name in names)
    assert total["ttft_p50_ms"] >= 10  # --demo-ttft-ms 10
    assert total["intent_missed"] > 0  # --demo-wrong-rate 0.2
    assert 0 < total["intent_mean"] < 1

    header, csv_rows = download_csv(chatbot_ui + "/wslocust/chat_stats.csv")
    assert header[: len(STATS_COLUMNS)] == STATS_COLUMNS
    assert {"intent Mean", "intent Missed", "recall Mean"} <= set(header)
    by_name = {row["Name"]: row for row in csv_rows}
    assert set(by_name) == set(rows)
    assert int(by_name["Aggregated"]["Replies"]) == total["replies"]
    header, history = download_csv(chatbot_ui + "/wslocust/chat_stats_history.csv")
    assert header == HISTORY_COLUMNS[: len(header)]
    assert "Replies/s" in header
    assert history
    assert {row["Name"] for row in history} <= names | {"Aggregated"}


@pytest.mark.slow
def test_a_second_swarm_starts_the_chatbot_stats_from_zero(chatbot_ui: str) -> None:
    start_swarm_and_wait(chatbot_ui, at_least=40)
    first = replies(stop(chatbot_ui))
    assert post(chatbot_ui + "/swarm", SWARM)["success"]
    assert replies(stats(chatbot_ui)) < first  # a few replies at most since the start
    poll(chatbot_ui, lambda data: replies(data) >= 5, 10)
    data = stop(chatbot_ui)
    assert 0 < replies(data) == ws_requests(data)  # Locust clears its own stats at each start


@pytest.mark.slow
def test_the_reset_button_zeroes_the_chatbot_stats_like_locusts(chatbot_ui: str) -> None:
    start_swarm_and_wait(chatbot_ui, at_least=10)
    stop(chatbot_ui)
    assert urllib.request.urlopen(
        urllib.request.Request(chatbot_ui + "/stats/reset", data=b""), timeout=HTTP_S
    ).read()
    data = poll(chatbot_ui, lambda data: ws_requests(data) == 0, 30)  # once Locust's cached answer is new
    assert ws_requests(data) == 0
    assert replies(data) == 0, "the Chatbot tab kept the statistics Locust's reset cleared"


@pytest.fixture
def chromium() -> str:
    """The Chromium binary; skips without it, but fails on CI (which installs it)."""
    chromium = find_chromium()
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: CI must install it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")
    return chromium


@pytest.fixture
def browser(chromium: str) -> Iterator[Browser]:
    """A headless Chromium tab, 1400 pixels wide."""
    with Browser(chromium, size=(1400, 1000), timeout_s=30 * UNIT) as browser:
        yield browser


WebUi = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def web_ui() -> WebUi:
    """Start a Locust web UI on a free loopback port: ``with web_ui(*args, locustfile=...) as base:``.

    The locustfile is the shipped one unless named; with no ``--host``, the embedded demo bot (no
    errors, no wrong answers, fast) is the target.
    """

    def start(*args: str, locustfile: str = "chatbot.py") -> AbstractContextManager[str]:
        port = free_port()
        command = locust_command(
            "--web-host", "127.0.0.1", "--web-port", str(port), "--demo-ttft-ms", "10", "--demo-itl-ms", "2",
            "--demo-error-rate", "0", "--demo-wrong-rate", "0", *args,
        )  # fmt: skip
        command[command.index("-f") + 1] = str(ROOT / "locustfiles" / locustfile)
        return running_web_ui(command, f"http://127.0.0.1:{port}", timeout_s=START_S)

    return start


def open_form(browser: Browser, base: str) -> None:
    """Load the start page and open its "Custom parameters", once wslocust's script arranged them."""
    browser.goto(base + "/")
    browser.click(".MuiAccordionSummary-root", "Custom parameters")
    browser.wait_for("!!document.querySelector('.MuiCollapse-entered [data-wslocust-form]')")  # opened


def form_values(browser: Browser) -> dict[str, Any]:
    """The form's fields by name: text, or checked for a checkbox."""
    return browser.evaluate(  # type: ignore[no-any-return]
        "Object.fromEntries([...document.querySelectorAll('form input[name], form select[name]')]"
        ".map((node) => [node.name, node.type === 'checkbox' ? node.checked : node.value]))"
    )


def press_start(browser: Browser) -> None:
    browser.click("form button[type=submit]", "Start")


def error_shown(browser: Browser) -> str:
    """The error the form shows (waits for it)."""
    return str(browser.wait_for("document.querySelector('.MuiAlert-colorError')?.textContent"))


def wait_for_ws_replies(base: str, at_least: int) -> dict[str, Any]:
    data = poll(base, lambda data: ws_requests(data) >= at_least, 20)
    assert ws_requests(data) >= at_least, data
    return data


def ws_failures(data: dict[str, Any]) -> int:
    return sum(row["num_failures"] for row in data["stats"] if row["method"] in ("WS", "CONNECT"))


def test_the_form_keys_the_front_end_mangles_are_mapped_back_without_collisions() -> None:
    """The front end posts ``maxP95Ms`` back as ``max_p9_5ms``: every mangled key names one option."""
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    assert posted_name("max_p95_ms") == "max_p9_5ms"
    assert front_end_name("max_p95_ms") == "maxP95Ms"
    mangled = {posted_name(dest) for dest in options if posted_name(dest) != dest}
    assert {"max_p9_5ms", "max_p9_9ms"} <= mangled
    assert not mangled & set(options)
    assert len(mangled) == len([dest for dest in options if posted_name(dest) != dest])


def test_every_option_of_the_form_has_a_group() -> None:
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    groups = {
        *FORM_GROUPS,
        "Socket.IO",
        "In flight",
        "Sessions",
        "Profiles",
        "Voice protocols",
        "Load shape",
        "Gates",
        "Live metrics",
        "Voice",
        "Scale",
    }
    assert {option.group for option in options.values()} <= groups
    assert options["max_p95_ms"].group == "Gates"
    assert (options["user_profile"].group, options["prompt_mix"].group) == ("Profiles", "Profiles")


def test_the_voice_protocol_options_form_their_own_group_with_help() -> None:
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    voice = [dest for dest, option in options.items() if option.group == "Voice protocols"]
    assert voice == [
        "realtime_turn_end", "twilio_quiet_ms", "twilio_end_mark", "stt_rate", "stt_text_path", "stt_final_path",
        "stt_close_message", "stt_end", "stt_error", "stt_keepalive_message", "stt_keepalive_ms",
    ]  # fmt: skip
    assert all(options[dest].action.help for dest in voice)


def test_the_in_flight_options_form_their_own_group_with_help() -> None:
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    in_flight = [dest for dest, option in options.items() if option.group == "In flight"]
    assert in_flight == ["in_flight", "json_id_path"]
    assert all(options[dest].action.help for dest in in_flight)


def test_the_socketio_options_form_their_own_group_and_the_auth_is_a_secret() -> None:
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    socketio = [dest for dest, option in options.items() if option.group == "Socket.IO"]
    assert socketio == [
        "socketio_path", "socketio_namespace", "socketio_auth", "socketio_event", "socketio_template",
        "socketio_reply_event", "socketio_text_path", "socketio_end_event", "socketio_quiet_ms", "socketio_ack",
        "socketio_error",
    ]  # fmt: skip
    assert [dest for dest in socketio if options[dest].is_secret] == ["socketio_auth"]


@pytest.mark.slow
def test_the_form_shows_the_locustfiles_settings_and_start_untouched_keeps_them(
    browser: Browser, web_ui: WebUi
) -> None:
    with web_ui("--header", "X-Token: form-s3cret") as base:
        open_form(browser, base)
        shown = form_values(browser)
        assert shown["protocol"] == "json"  # SupportBotUser.protocol, not the first choice (apigw)
        assert shown["prompts"] == "datasets/support_bot.jsonl"
        assert shown["shuffleSeed"] == "1"  # the class attribute
        assert shown["replyTimeout"] == "60.0"  # WebSocketUser's default
        assert shown["tokens"] == "words"
        assert shown["header"] == "********"
        assert shown["maxP95Ms"] == ""
        assert "form-s3cret" not in browser.html()
        before = shown_options(browser)
        assert before["protocol"] == "json"
        browser.type_into("[name=userCount]", "3")
        browser.type_into("[name=spawnRate]", "3")
        press_start(browser)
        data = wait_for_ws_replies(base, at_least=10)
        assert ws_failures(data) == 0  # json spoken to the json bot, the header kept
        browser.goto(base + "/")  # the next form's values: what this run sent back, unchanged
        assert shown_options(browser) == before


def shown_options(browser: Browser) -> dict[str, Any]:
    """The custom parameters' values the page builds its form from."""
    return browser.evaluate(  # type: ignore[no-any-return]
        "Object.fromEntries(Object.entries(window.templateArgs.extra_options)"
        ".map(([name, option]) => [name, option.default_value]))"
    )


@pytest.mark.slow
def test_a_repeatable_option_shows_its_values_separated_by_semicolons_and_takes_them_so(
    browser: Browser, web_ui: WebUi
) -> None:
    """Two ``--metric`` specs, commas inside them, typed as ``a; b``: both score the replies."""
    with web_ui("--metric", "intent") as base:
        open_form(browser, base)
        assert form_values(browser)["metric"] == "intent"
        browser.type_into("[name=userCount]", "2")
        browser.type_into("[name=thinkTime]", "0.05")
        browser.type_into("[name=metric]", "recall:min=0.5; length:min=1,max=500")
        press_start(browser)
        data = poll(base, lambda data: replies(data) >= 5, 20)
        total = chatbot_rows(data)["Aggregated"]
        assert "intent_mean" not in total  # replaced, as --metric replaces
        assert total["recall_mean"] > 0
        assert total["length_mean"] > 10  # words a reply
        assert total["length_missed"] == 0


@pytest.mark.slow
def test_a_protocol_registered_by_the_locustfile_is_shown_and_kept(browser: Browser, web_ui: WebUi) -> None:
    with web_ui(locustfile="custom_protocol.py") as base:
        open_form(browser, base)
        options = browser.evaluate(
            "[...document.querySelector('[name=protocol]').options].map((o) => o.value)"
        )
        assert "envelope" in options
        assert form_values(browser)["protocol"] == "envelope"
        browser.type_into("[name=userCount]", "2")
        press_start(browser)
        data = wait_for_ws_replies(base, at_least=5)
        assert ws_failures(data) == 0


@pytest.mark.slow
def test_a_gate_typed_in_the_form_judges_the_run(browser: Browser, web_ui: WebUi, tmp_path: Path) -> None:
    """``--max-p95-ms`` typed in the form (posted back as ``max_p9_5ms`` by the front end) is applied."""
    summary = tmp_path / "summary.json"
    with web_ui("--summary-json", str(summary)) as base:
        open_form(browser, base)
        browser.type_into("[name=userCount]", "2")
        browser.type_into("[name=thinkTime]", "0.05")
        browser.type_into("[name=maxP95Ms]", "1")  # the demo bot's replies take some 40 ms
        press_start(browser)
        wait_for_ws_replies(base, at_least=5)
        browser.click("button", "Stop")
        assert poll(base, lambda data: data["state"] == "stopped", 10)["state"] == "stopped"
        deadline = time.monotonic() + 10 * UNIT
        while not summary.is_file() and time.monotonic() < deadline:
            time.sleep(0.1)
    verdict = json.loads(summary.read_text())["gates"]
    assert verdict["passed"] is False
    [gate] = verdict["gates"]
    assert (gate["gate"], gate["limit"], gate["passed"]) == ("max_p95_ms", 1, False)


@pytest.mark.slow
def test_the_class_picker_preselects_the_shape_of_the_command_line_and_runs_it(
    browser: Browser, web_ui: WebUi
) -> None:
    shape = ("--shape", "step", "--step-start-users", "3", "--step-users", "1", "--step-duration", "5m")
    with web_ui("--class-picker", *shape, "--shape-spawn-rate", "10", "--think-time", "0.2") as base:
        browser.goto(base + "/")
        assert browser.wait_for(
            "document.querySelector('[name=shapeClass]')?.value === 'StepShape' && 'StepShape'"
        )
        press_start(browser)
        data = poll(base, lambda data: data["user_count"] == 3, 20)
        assert data["user_count"] == 3  # the step shape's start, not the form's one user


@pytest.mark.slow
def test_the_form_groups_options_under_headings_with_their_flag_and_help(
    browser: Browser, web_ui: WebUi, tmp_path: Path
) -> None:
    with web_ui() as base:
        open_form(browser, base)
        fields = browser.evaluate(
            "[...document.querySelectorAll('.wslocust-field')].map((node) => ({"
            " group: node.dataset.wslocustGroup || null, help: node.dataset.wslocustHelp,"
            " label: node.querySelector('label.MuiInputLabel-root, .MuiFormControlLabel-label')?.textContent,"
            " top: node.getBoundingClientRect().top }))"
        )
        shot = tmp_path / "form.png"
        browser.resize(1400, 4200)
        browser.screenshot(shot)
    fields.sort(key=lambda field: field["top"])
    headings = [field["group"] for field in fields if field["group"]]
    assert headings == [
        *FORM_GROUPS,
        "Socket.IO",
        "In flight",
        "Voice",
        "Sessions",
        "Profiles",
        "Voice protocols",
        "Gates",
        "Live metrics",
        "Scale",
    ]
    labels = [field["label"] for field in fields]
    assert labels[:2] == ["--origin", "--header"]
    assert "--max-p95-ms" in labels
    assert all(label.startswith("--") for label in labels)
    assert next(field for field in fields if field["label"] == "--max-p95-ms")["help"].startswith("Gate:")
    with Image.open(shot) as image:
        assert image.size == (1400, 4200)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("field", "text", "culprit"),
    [
        ("replyTimeout", "soon", "--reply-timeout"),
        ("replyTimeout", "nan", "--reply-timeout"),
        ("replyTimeout", "-1", "--reply-timeout"),
        ("connectTimeout", "0", "--connect-timeout"),
        ("thinkTime", "3-1", "--think-time"),
        ("maxP95Ms", "fast", "--max-p95-ms"),
        ("prompts", "datasets/missing.jsonl", "missing.jsonl"),
    ],
)
def test_a_bad_value_typed_in_the_form_is_shown_and_nothing_starts(
    browser: Browser, web_ui: WebUi, field: str, text: str, culprit: str
) -> None:
    with web_ui() as base:
        open_form(browser, base)
        browser.type_into(f"[name={field}]", text)
        press_start(browser)
        assert culprit in error_shown(browser)
        assert stats(base)["state"] == "ready"
        browser.type_into(f"[name={field}]", "")  # cleared: the locustfile's setting again
        press_start(browser)
        assert poll(base, lambda data: data["state"] == "running", 10)["state"] == "running"


@pytest.mark.slow
def test_an_unknown_protocol_posted_is_refused_naming_the_option(web_ui: WebUi) -> None:
    with web_ui() as base:
        answer = post(base + "/swarm", {**SWARM, "protocol": "carrier-pigeon"})
        assert answer["success"] is False
        assert answer["message"].startswith("--protocol: 'carrier-pigeon' is not one of: ")
        assert stats(base)["state"] == "ready"


@pytest.mark.slow
def test_a_prometheus_port_already_taken_is_refused_at_start_and_metrics_stays_where_it_was(
    web_ui: WebUi,
) -> None:
    metrics_port = free_port()
    with web_ui("--prometheus-port", str(metrics_port)) as base, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        answer = post(base + "/swarm", {**SWARM, "prometheus_port": str(busy)})
        assert answer["success"] is False
        assert answer["message"].startswith(f"--prometheus-port: cannot listen on 127.0.0.1:{busy}")
        assert stats(base)["state"] == "ready"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=HTTP_S) as response:
            assert response.status == 200


@pytest.mark.slow
def test_an_emptied_host_is_refused_as_an_empty_host_option_is(web_ui: WebUi) -> None:
    with web_ui("--host", f"ws://127.0.0.1:{free_port()}") as base:
        answer = post(base + "/swarm", {**SWARM, "host": ""})
        assert answer["success"] is False
        assert answer["message"].startswith(
            "--host is empty (an unset variable?): give ws://... or wss://..."
        )
        assert stats(base)["state"] == "ready"


@pytest.mark.slow
def test_an_empty_host_keeps_the_demo_bot_when_no_host_was_given(web_ui: WebUi) -> None:
    with web_ui() as base:
        answer = post(base + "/swarm", {**SWARM, "host": ""})
        assert answer["success"] is True
        assert answer["host"].startswith("ws://127.0.0.1:")  # the embedded demo bot's
        data = wait_for_ws_replies(base, at_least=4)
        assert ws_failures(data) == 0


@pytest.mark.slow
def test_chromium_renders_the_chatbot_tab_with_a_row_an_intent(browser: Browser, chatbot_ui: str) -> None:
    start_swarm_and_wait(chatbot_ui, at_least=20)
    browser.goto(chatbot_ui + "/?tab=chatbot")  # the UI selects an extended tab by its key
    browser.wait_for("document.querySelectorAll('tbody tr').length >= 3")
    page = parse_page(browser.html())
    assert {"Statistics", "Chatbot"} <= set(page.tabs), page.tabs
    assert page.selected_tab == "Chatbot"
    assert {"Name", "Replies", "TTFT p50 (ms)", "TTFT p99 (ms)", "intent Mean"} <= set(page.headers)
    names = page.column("Name")
    assert names[0] == "Aggregated"
    assert set(names[1:]) <= INTENTS
    assert int(page.column("Replies")[0]) >= 20
    assert float(page.column("TTFT p50 (ms)")[0]) >= 10


CHART_LINES = (
    "[...document.querySelectorAll('#wslocust-charts polyline')].map((line) => ({"
    " key: line.dataset.key, color: line.getAttribute('stroke'), points: line.getAttribute('points'),"
    " timestamps: JSON.parse(line.dataset.timestamps), values: JSON.parse(line.dataset.values),"
    " ymax: +line.ownerSVGElement.dataset.ymax, box: line.ownerSVGElement.getBoundingClientRect().toJSON() }))"
)


@pytest.mark.slow
def test_the_chatbot_tab_charts_draw_the_per_second_history(
    browser: Browser, chatbot_ui: str, tmp_path: Path
) -> None:
    start_swarm_and_wait(chatbot_ui, at_least=10)
    poll(chatbot_ui, lambda _: len(get_json(chatbot_ui + "/wslocust/charts.json")["timestamps"]) >= 3, 15)
    browser.goto(chatbot_ui + "/?tab=chatbot")
    browser.wait_for(
        "document.querySelectorAll('#wslocust-charts polyline').length === 8 && [...document.querySelectorAll("
        "'#wslocust-charts polyline')].every((line) => line.getAttribute('points').split(' ').length >= 3)"
    )
    lines = browser.evaluate(CHART_LINES)
    shot = tmp_path / "chatbot-tab.png"
    browser.screenshot(shot)
    history = get_json(chatbot_ui + "/wslocust/charts.json")  # later: holds every second drawn
    assert [line["key"] for line in lines] == [ui_key for ui_key in history["series"]]
    assert list(history["series"]) == ["ttft_p50_ms", "ttft_p95_ms", "latency_p50_ms", "latency_p95_ms",
                                       "tpot_p50_ms", "tpot_p95_ms", "goodput_per_s", "failures_per_s"]  # fmt: skip
    assert len(CHART_COLUMNS) == 8
    for line in lines:
        drawn = dict(zip(line["timestamps"], line["values"], strict=True))
        recorded = dict(zip(history["timestamps"], history["series"][line["key"]], strict=True))
        assert len(drawn) >= 3
        assert all(recorded[second] == value for second, value in drawn.items()), line["key"]
        ys = [float(point.split(",")[1]) for point in line["points"].split()]
        values = [value for value in line["values"] if value is not None]
        assert len(ys) == len(values)
        top, height = 30, 200 - 30 - 26  # the chart's plot area in its viewBox
        assert ys == pytest.approx([top + height * (1 - value / line["ymax"]) for value in values], abs=0.01)
    ttft = next(line for line in lines if line["key"] == "ttft_p50_ms")
    assert min(value for value in ttft["values"] if value is not None) >= 10  # --demo-ttft-ms 10
    with Image.open(shot) as image:
        assert image.format == "PNG"
        rgb = image.convert("RGB")
        for line in lines:
            if not any(line["values"]):
                continue  # no failure: a line along the axis, under the others
            box = line["box"]
            color = tuple(int(line["color"][i : i + 2], 16) for i in (1, 3, 5))
            region = rgb.crop((int(box["left"]), int(box["top"]), int(box["right"]), int(box["bottom"])))
            drawn_pixels = sum(count for count, pixel in region.getcolors(1 << 16) or [] if pixel == color)
            assert drawn_pixels > 20, f"{line['key']} is not drawn in the screenshot"


TABLES = (
    "[...document.querySelectorAll('#wslocust-charts .wslocust-table')].map((table) => ({ id: table.id,"
    " caption: table.caption.textContent, headers: [...table.tHead.rows[0].cells].map((cell) => cell.textContent),"
    " rows: [...table.tBodies[0].rows].map((row) => [...row.cells].map((cell) => cell.textContent)) }))"
)


@pytest.mark.slow
def test_the_chatbot_tab_shows_the_conversations_and_the_connections_lives(
    browser: Browser, web_ui: WebUi, demo
) -> None:
    """Conversations against a bot that cuts a fifth of its replies with a close (1011): both tables."""
    bot = demo("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "2", "--close-rate", "0.2")
    conversations = str(ROOT / "datasets" / "support_conversations.jsonl")
    with web_ui("--host", bot, "--prompts", conversations) as base:
        assert post(base + "/swarm", {**SWARM, "host": bot})["success"]
        browser.goto(base + "/?tab=chatbot")
        browser.wait_for(
            "!!document.querySelector('#wslocust-conversations tbody tr')"
            " && !!document.querySelector('#wslocust-lifecycle tbody tr')"
        )
        tables = {table["id"]: table for table in browser.evaluate(TABLES)}
    talks, lives = tables["wslocust-conversations"], tables["wslocust-lifecycle"]
    assert talks["caption"] == "Conversations"
    assert talks["headers"] == CONVERSATIONS_COLUMNS
    assert talks["rows"][-1][0] == "Aggregated"
    assert {row[0] for row in talks["rows"][:-1]} <= INTENTS
    assert lives["caption"] == "Connections"
    assert lives["headers"] == list(LIFECYCLE_COLUMNS.values())
    [row] = lives["rows"]
    assert "1011: " in row[lives["headers"].index("Server Closes by Code")]


def test_a_repeatable_options_field_splits_at_semicolons_that_start_a_value() -> None:
    from locust import argument_parser

    options = form_options(argument_parser.get_parser())
    assert options["metric"].convert("intent; json:keys=a;b; recall:min=0.5,field=Keywords") == [
        "intent", "json:keys=a;b", "recall:min=0.5,field=Keywords",
    ]  # fmt: skip
    assert options["header"].convert("Cookie: a=1; b=2; X-Key: k") == ["Cookie: a=1; b=2", "X-Key: k"]
    assert options["subprotocol"].convert("chat.v1; chat.v2") == ["chat.v1", "chat.v2"]
    assert options["metric"].convert("") is None  # cleared: the locustfile's metrics


def test_the_form_masks_secrets_set_by_a_user_classs_attributes() -> None:
    """A locustfile's ``headers`` and ``query`` are as secret as ``--header`` and ``--query``."""
    from locust import argument_parser
    from locust.env import Environment
    from locust.event import Events

    from wslocust import ChatbotUser

    class Secretive(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:9"
        headers = ("X-Token: class-s3cret",)
        query = "key=class-s3cret"

    parser = argument_parser.get_parser()
    environment = Environment(user_classes=[Secretive], events=Events(), parsed_options=parser.parse_args([]))
    shown = shown_values(environment, form_options(parser))
    assert (shown["header"], shown["query"]) == (SECRET_MASK, SECRET_MASK)
    assert "class-s3cret" not in repr(shown)


def test_max_message_bytes_is_a_connection_field_showing_the_classs_limit_and_refusing_bad_text() -> None:
    from locust import argument_parser
    from locust.env import Environment
    from locust.event import Events

    from wslocust import ChatbotUser

    class Sized(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:9"
        max_message_bytes = 65536

    parser = argument_parser.get_parser()
    options = form_options(parser)
    option = options["max_message_bytes"]
    assert option.group == "Connection"
    assert "bytes" in str(option.action.help)
    environment = Environment(user_classes=[Sized], events=Events(), parsed_options=parser.parse_args([]))
    assert shown_values(environment, options)["max_message_bytes"] == "65536"
    assert option.convert("1048576") == "1048576"  # kept as text, parsed by the start-up check
    for text in ("0", "-1", "nan", "4MiB"):
        with pytest.raises(ValueError, match=r"^--max-message-bytes: must be a whole number of 1 or more"):
            option.convert(text)


def test_the_form_shows_compression_with_the_connection_options_and_the_classs_setting() -> None:
    from locust import argument_parser
    from locust.env import Environment
    from locust.event import Events

    from wslocust import ChatbotUser

    class Compressed(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:9"
        compression = "deflate"

    parser = argument_parser.get_parser()
    options = form_options(parser)
    assert options["compression"].group == "Connection"
    assert options["compression"].action.choices == ["none", "deflate"]
    environment = Environment(
        user_classes=[Compressed], events=Events(), parsed_options=parser.parse_args([])
    )
    assert shown_values(environment, options)["compression"] == "deflate"
    chosen = parser.parse_args(["--compression", "none"])
    environment = Environment(user_classes=[Compressed], events=Events(), parsed_options=chosen)
    assert shown_values(environment, options)["compression"] == "none"


def test_the_socketio_event_and_template_fields_show_what_the_run_uses() -> None:
    from locust import argument_parser
    from locust.env import Environment
    from locust.event import Events

    from wslocust import ChatbotUser

    class Bot(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:9"
        protocol = "socketio"

    parser = argument_parser.get_parser()
    environment = Environment(user_classes=[Bot], events=Events(), parsed_options=parser.parse_args([]))
    shown = shown_values(environment, form_options(parser))
    assert (shown["socketio_event"], shown["socketio_reply_event"]) == ("user_uttered", "bot_uttered")
    assert shown["socketio_template"] == '{"message": "{prompt}"}'
    as_rasa = Environment(
        user_classes=[Bot], events=Events(), parsed_options=parser.parse_args(["--protocol", "rasa"])
    )
    assert shown_values(as_rasa, form_options(parser))["socketio_template"] == (
        '{"message": "{prompt}", "session_id": "{session_id}"}'
    )
