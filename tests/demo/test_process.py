"""The demo bot in a child process (DemoProcess): a start that cannot last forever or outlive the run."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from wslocust.demo import process
from wslocust.demo.process import DemoProcess

# The bots' command lines carry this process's id: another test run on the machine starts bots of
# its own, which must not be taken for ours.
PID = os.getpid()


def running_with(marker: str) -> list[str]:
    """The processes one of whose command-line arguments is ``marker`` (their pids)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and marker.encode() in command.split(b"\0"):
            found.append(entry.name)
    return found


def test_a_bot_not_listening_within_the_start_timeout_is_stopped_and_the_wait_ends() -> None:
    marker = f"--ttft-ms=151.{PID}"  # the bot takes far longer than 1 ms to start its interpreter
    demo = DemoProcess([marker], start_timeout_s=0.001)
    with pytest.raises(RuntimeError, match=r"demo server did not start \(not listening after 0.001 s\)"):
        demo.start()
    assert running_with(marker) == []


def test_a_bot_that_exits_at_start_is_named_with_its_code_and_output() -> None:
    demo = DemoProcess(["--ttft-ms", "soon"])
    with pytest.raises(RuntimeError, match=r"exited with code 2\).*--ttft-ms"):
        demo.start()


def test_ctrl_c_while_the_bot_starts_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    marker = f"--ttft-ms=152.{PID}"

    def interrupted(*_: Any) -> Any:
        assert running_with(marker) != []  # the bot was started and is being awaited
        raise KeyboardInterrupt

    monkeypatch.setattr(process.select, "select", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DemoProcess([marker]).start()
    assert running_with(marker) == []
