"""A Locust run with a captured session id, an awaited welcome and an expiring token from a command,
against the demo bot's session mode and token check: refreshes counted, a failing refresh counted as
its own kind, and neither the token nor the command in any output."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from wslocust.demo.process import DemoProcess

from .conftest import UNIT
from .test_locust_run import assert_one_clear_error, read_rows, run_locust

SECRET = "demo-signing-key"
TEMPLATE = '{"session_id": "{session}", "text": "{prompt}", "token": "{token}"}'


def token_command(tmp_path: Path, *, good_runs: int, ttl_s: float) -> str:
    """A command printing a demo-bot token valid ``ttl_s`` for its first ``good_runs`` runs, then
    exiting 3; each run appends to ``runs`` and each token to ``tokens``. Its argument is a secret."""
    script = tmp_path / "print_token.py"
    script.write_text(
        "import pathlib, sys\n"
        "from wslocust.demo.sessions import make_token\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "runs.open('a').write('run\\n')\n"
        f"if len(runs.read_text().split()) > {good_runs}:\n"
        "    print('refused: try again')\n"
        "    sys.exit(3)\n"
        f"token = make_token({SECRET!r}, {ttl_s})\n"
        f"pathlib.Path({str(tmp_path / 'tokens')!r}).open('a').write(token + '\\n')\n"
        "print(token)\n"
    )
    return f"{sys.executable} {script} --password hunter2-pw"


@pytest.mark.slow
def test_a_session_run_captures_refreshes_counts_a_failed_refresh_and_shows_no_secret(tmp_path: Path) -> None:
    bot = DemoProcess(
        ("--session-mode", "--require-token", SECRET, "--ttft-ms", "2", "--itl-ms", "1", "--chunks", "3"),
        start_timeout_s=20 * UNIT,
    )
    url = bot.start()
    prefix = tmp_path / "out" / "run"
    prefix.parent.mkdir()
    try:
        result = run_locust(
            "--headless", "-u", "2", "-r", "2", "-t", "5s", "--think-time", "0.05", "--host", url,
            "--protocol", "json", "--json-template", TEMPLATE, "--await-on-connect", "type=welcome",
            "--capture", "session=session_id", "--header", "Authorization: Bearer ${TOKEN}",
            "--token-command", token_command(tmp_path, good_runs=2, ttl_s=2.0),
            "-L", "DEBUG", "--csv", str(prefix), "--summary-json", str(prefix) + ".json",
            "--failed-replies", str(prefix) + "_failed.jsonl",
        )  # fmt: skip
    finally:
        bot.stop()
    assert "Traceback" not in result.stderr
    assert len((tmp_path / "runs").read_text().split()) >= 3  # the start's, a refresh, a failing one
    failures = read_rows(Path(f"{prefix}_failures.csv"))
    refresh = [row for row in failures if (row["Method"], row["Name"]) == ("TOKEN", "refresh")]
    assert refresh
    assert "exited with status 3" in refresh[0]["Error"]
    ws_failures = " ".join(row["Error"] for row in failures if row["Method"] == "WS")
    assert "no valid token" in ws_failures  # once the last good token expired
    assert "session_id" not in ws_failures  # every prompt carried the welcome's id
    summary = json.loads(Path(f"{prefix}.json").read_text())
    assert summary["successful_requests"] > 10
    assert set(summary["errors_by_kind"]) == {"token_refresh"}, summary["errors_by_kind"]
    outputs = [result.stdout, result.stderr] + [path.read_text() for path in prefix.parent.iterdir()]
    secrets = ["hunter2-pw", *(tmp_path / "tokens").read_text().split()]
    assert len(secrets) >= 3
    assert not [secret for secret in secrets for text in outputs if secret in text]


@pytest.mark.slow
def test_a_failing_token_command_stops_the_run_with_one_line_naming_its_status(tmp_path: Path) -> None:
    result = run_locust(
        "--headless", "-u", "1", "-t", "2s", "--protocol", "json", "-L", "DEBUG",
        "--token-command", token_command(tmp_path, good_runs=0, ttl_s=60.0),
    )  # fmt: skip
    assert_one_clear_error(result, "--token-command exited with status 3")
    assert "hunter2" not in result.stderr + result.stdout
    assert "try again" not in result.stderr + result.stdout
