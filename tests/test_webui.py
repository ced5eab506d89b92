"""The web UI's Chatbot tab: its JSON data, CSV downloads, resets, and the page as Chromium renders it."""

from __future__ import annotations

from locust.web import DEFAULT_CACHE_TIME

import csv
import io
import json
import os
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from scripts.screenshot_webui import dump_dom, find_chromium, parse_page, running_web_ui, screenshot
from wslocust.outputs import HISTORY_COLUMNS, STATS_COLUMNS

from .conftest import UNIT, free_port, locust_command
from .test_locust_run import INTENTS, get_json, post

SWARM = {"user_count": "4", "spawn_rate": "4", "think_time": "0.05"}


@pytest.fixture
def chatbot_ui() -> Iterator[str]:
    """The shipped locustfile's web UI on the embedded demo bot (10 ms TTFT, 20% wrong answers)."""
    port = free_port()
    command = locust_command(
        "--web-host", "127.0.0.1", "--web-port", str(port),
        "--demo-ttft-ms", "10", "--demo-itl-ms", "2", "--demo-wrong-rate", "0.2",
    )  # fmt: skip
    with running_web_ui(command, f"http://127.0.0.1:{port}/", timeout_s=20 * UNIT):
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


def settled_stats(base: str) -> dict[str, Any]:
    """``/stats/requests`` once Locust's part is current: Locust caches that answer (not our
    ``extended_stats``, added to each response) for ``DEFAULT_CACHE_TIME`` seconds."""
    time.sleep(DEFAULT_CACHE_TIME + 0.3)
    return stats(base)


def stop(base: str) -> dict[str, Any]:
    """Stop the test; the final statistics."""
    post(base + "/stop", {})
    data = settled_stats(base)
    assert data["state"] == "stopped"
    return data


def download_csv(url: str) -> tuple[list[str], list[dict[str, str]]]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers.get_content_type() == "text/csv"
        reader = csv.DictReader(io.StringIO(response.read().decode()))
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.mark.slow
def test_the_page_declares_the_chatbot_tab_its_columns_and_csv_downloads(chatbot_ui: str) -> None:
    page = urllib.request.urlopen(chatbot_ui + "/", timeout=5).read().decode()
    start = page.index("window.templateArgs = ") + len("window.templateArgs = ")
    args, _ = json.JSONDecoder().raw_decode(page, start)
    assert {"key": "chatbot", "title": "Chatbot"} in args["extended_tabs"]
    [table] = [table for table in args["extended_tables"] if table["key"] == "chatbot"]
    columns = {column["key"]: column["title"] for column in table["structure"]}
    assert columns["name"] == "Name"
    assert columns["ttft_p50_ms"] == "TTFT p50 (ms)"
    assert {"replies", "ttft_p99_ms", "intent_mean", "intent_missed", "recall_mean"} <= set(columns)
    hrefs = {link["href"] for link in args["extended_csv_files"]}
    assert hrefs == {"./wslocust/chat_stats.csv", "./wslocust/chat_stats_history.csv"}


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
    assert urllib.request.urlopen(urllib.request.Request(chatbot_ui + "/stats/reset", data=b"")).read()
    data = settled_stats(chatbot_ui)
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


@pytest.mark.slow
def test_chromium_renders_the_chatbot_tab_with_a_row_an_intent(
    chromium: str, chatbot_ui: str, tmp_path: Path
) -> None:
    start_swarm_and_wait(chatbot_ui, at_least=20)
    url = chatbot_ui + "/?tab=chatbot"  # the UI selects an extended tab by its key
    page = parse_page(dump_dom(chromium, url, timeout_s=60 * UNIT))
    assert {"Statistics", "Chatbot"} <= set(page.tabs), page.tabs
    assert page.selected_tab == "Chatbot"
    assert {"Name", "Replies", "TTFT p50 (ms)", "TTFT p99 (ms)", "intent Mean"} <= set(page.headers)
    names = page.column("Name")
    assert names[0] == "Aggregated"
    assert set(names[1:]) <= INTENTS
    assert len(names) >= 3, names
    assert int(page.column("Replies")[0]) >= 20
    assert float(page.column("TTFT p50 (ms)")[0]) >= 10

    shot = tmp_path / "chatbot-tab.png"
    screenshot(chromium, url, shot, size=(1600, 1000), timeout_s=60 * UNIT)
    with Image.open(shot) as image:
        assert image.format == "PNG"
        assert image.size == (1600, 1000)
        colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colors is None or len(colors) > 50  # text and the green header, not a blank page
    assert shot.stat().st_size > 20_000
