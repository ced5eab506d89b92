"""Auth tokens: fetched once, refreshed before they expire (the clock driven), failures counted."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from wslocust.demo.sessions import make_token
from wslocust.errors import ConfigurationError, TokenRefreshFailed
from wslocust.tokens import RETRY_S, TokenSource, command_fetcher, jwt_expiry

from .conftest import UNIT


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Tokens:
    """A token function that counts its calls and can be told to fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def __call__(self) -> str:
        self.calls += 1
        if self.failing:
            raise TokenRefreshFailed("--token-command exited with status 3 (its output is not shown)")
        return f"token-{self.calls}"


def counting_command(tmp_path: Path, body: str) -> str:
    """A token command (a Python script) that appends a line to ``runs`` each run, then runs ``body``."""
    script = tmp_path / "print_token.py"
    script.write_text(
        "import pathlib, sys\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "runs.open('a').write('run\\n')\n" + body
    )
    return f"{sys.executable} {script}"


def test_the_exp_claim_of_a_jwt_is_read_without_verifying_it() -> None:
    assert jwt_expiry(make_token("any", 60.0, now=1000.0)) == 1060.0
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.b.c") is None


def test_a_token_is_refreshed_once_a_fifth_of_its_ttl_is_left_and_shared_until_then() -> None:
    clock, tokens = Clock(), Tokens()
    source = TokenSource(tokens, what="test", ttl_s=10.0, clock=clock)
    source.start()
    clock.now += 7.9
    assert source.current() == "token-1"
    clock.now += 0.2  # 8.1 s: under 2 s left
    assert source.current() == "token-2"
    assert (tokens.calls, source.refreshes) == (2, 1)


def test_without_a_ttl_a_jwts_exp_sets_when_it_is_refreshed() -> None:
    clock = Clock()
    jwts = iter([make_token("k", 100.0, now=clock.now), make_token("k", 100.0, now=clock.now + 81.0)])
    source = TokenSource(lambda: next(jwts), what="test", clock=clock)
    source.start()
    first = source.current()
    clock.now += 79.0
    assert source.current() == first
    clock.now += 2.0
    assert source.current() != first


def test_a_failed_refresh_is_counted_the_old_token_kept_until_it_expires_then_no_token() -> None:
    clock, tokens = Clock(), Tokens()
    failures: list[TokenRefreshFailed] = []
    source = TokenSource(tokens, what="test", ttl_s=20.0, clock=clock, on_refresh_failed=failures.append)
    source.start()
    tokens.failing = True
    clock.now += 16.5  # under a fifth of its life left
    assert source.current() == "token-1"
    assert source.current() == "token-1"  # no retry within RETRY_S: the command is not hammered
    assert (len(failures), tokens.calls) == (1, 2)
    clock.now += RETRY_S
    assert source.current() == "token-1"
    assert len(failures) == 2
    clock.now += 2.0  # 19.5 s: in its last twentieth, no longer sent
    with pytest.raises(TokenRefreshFailed, match="no valid token"):
        source.current()
    assert "status 3" in str(failures[0])


def test_a_command_exiting_non_zero_stops_the_start_naming_its_status_never_its_output(
    tmp_path: Path,
) -> None:
    command = counting_command(tmp_path, "print('hunter2-secret'); sys.exit(3)")
    source = TokenSource(command_fetcher(command), what="--token-command")
    with pytest.raises(ConfigurationError) as refused:
        source.start()
    assert "exited with status 3" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_a_command_that_cannot_run_stops_the_start_showing_none_of_its_words(tmp_path: Path) -> None:
    # Run without a shell, "VAR=value cmd" makes the assignment the program: a secret, never shown.
    for command in ("API_KEY=hunter2-secret get-token", str(tmp_path / "hunter2-secret")):
        source = TokenSource(command_fetcher(command), what="--token-command")
        with pytest.raises(ConfigurationError) as refused:
            source.start()
        assert "cannot run: No such file or directory" in str(refused.value)
        assert "hunter2" not in str(refused.value)


def test_a_command_printing_nothing_or_running_too_long_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no token"):
        TokenSource(command_fetcher(counting_command(tmp_path, "")), what="--token-command").start()
    slow = command_fetcher(counting_command(tmp_path, "import time; time.sleep(30)"), timeout_s=0.3 * UNIT)
    with pytest.raises(ConfigurationError, match="did not finish within"):
        TokenSource(slow, what="--token-command").start()


def test_a_command_is_run_once_then_again_only_when_its_token_is_due(tmp_path: Path) -> None:
    clock = Clock()
    command = counting_command(tmp_path, "print('tok-' + str(len(runs.read_text().split())))")
    source = TokenSource(command_fetcher(command), what="--token-command", ttl_s=5.0, clock=clock)
    source.start()
    for _ in range(3):
        assert source.current() == "tok-1"
    clock.now += 4.5
    assert source.current() == "tok-2"
    assert (tmp_path / "runs").read_text().split() == ["run", "run"]


def test_an_unsplittable_or_empty_command_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="cannot be split"):
        command_fetcher("echo 'unbalanced")
    with pytest.raises(ConfigurationError, match="is empty"):
        command_fetcher("  ")


def test_a_command_running_too_long_is_stopped_at_its_timeout_with_the_children_it_started(
    tmp_path: Path,
) -> None:
    """A command whose child outlives it (``sh -c 'aws ...'`` whose aws hangs) keeps the output pipe
    open: the timeout stops the child too, rather than waiting for it."""
    body = (
        "import subprocess, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'])\n"
        "time.sleep(20)\n"
    )
    slow = command_fetcher(counting_command(tmp_path, body), timeout_s=0.5 * UNIT)
    started = time.monotonic()
    with pytest.raises(TokenRefreshFailed, match="did not finish within"):
        slow()
    assert time.monotonic() - started < 5 * UNIT
