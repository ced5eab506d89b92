"""The fidelity figures' raw reference loops (``benchmarks/reference_client.py``): each reply's sample
carries when it ended on the system's monotonic clock, and the loops' samples are pooled over the
Locust process's window alone (``benchmarks/processes.py``)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from .conftest import ROOT, UNIT, server_frame

sys.path.insert(0, str(ROOT / "benchmarks"))

from processes import FIGURES, pool


def _sample(ended: float, ttft_ms: float | None, total_ms: float) -> list[float | None]:
    return [ended, ttft_ms, total_ms, None, None]


def test_only_the_replies_that_ended_within_the_window_are_pooled() -> None:
    samples = [_sample(9.9, 500.0, 900.0)]  # before the window (a loop starting up)
    samples += [_sample(10.0 + i / 100, 20.0 + i, 65.0 + i) for i in range(100)]  # 10.00 .. 10.99
    samples += [_sample(11.5, 500.0, 900.0)]  # after it (a loop exiting)
    pooled = pool(samples, loops=3, window=(10.0, 11.0))
    assert pooled["loops"] == 3
    assert pooled["replies"] == 100
    assert (pooled["ttft_p50_ms"], pooled["ttft_p99_ms"]) == (69.0, 118.0)  # nearest rank: the 50th, 99th
    assert (pooled["total_p50_ms"], pooled["total_p99_ms"]) == (114.0, 163.0)
    assert pooled["ttft_beyond_target_p50_ms"] is None  # no sample has one


def test_without_a_window_every_reply_is_pooled_and_missing_figures_are_skipped() -> None:
    samples = [_sample(1.0, None, 70.0), _sample(2.0, 21.0, 66.0), [3.0, 22.0, 67.0, 1.5, 2.5]]
    pooled = pool(samples, loops=1)
    assert pooled["replies"] == 3
    assert pooled["ttft_p99_ms"] == 22.0  # of the two replies that had a first chunk
    assert pooled["total_p50_ms"] == 67.0
    assert (pooled["ttft_beyond_target_p50_ms"], pooled["total_beyond_target_p99_ms"]) == (1.5, 2.5)
    assert set(FIGURES) == {"ttft", "total", "ttft_beyond_target", "total_beyond_target"}


def _answer_each_prompt(sock: socket.socket, _headers: dict[str, str]) -> None:
    """Answer every (masked, short) text frame with a chunk and an end; stop at a close frame."""
    chunk = server_frame(0x1, json.dumps({"type": "chunk", "text": "hello "}).encode())
    end = server_frame(0x1, json.dumps({"type": "end"}).encode())
    stream = sock.makefile("rb")
    while True:
        head = stream.read(2)
        if len(head) < 2 or head[0] & 0x0F == 0x8:
            return
        stream.read(4 + (head[1] & 0x7F))  # the mask and a payload under 126 bytes
        sock.sendall(chunk + end)


def test_a_loop_in_its_own_process_dates_its_replies_on_the_monotonic_clock_this_process_reads(
    raw_server,
) -> None:
    server = raw_server(_answer_each_prompt)
    before = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "reference_client.py"),
         "--url", f"ws://127.0.0.1:{server.port}/", "--duration", "0.3"],
        capture_output=True, text=True, timeout=30 * UNIT, check=True,
    )  # fmt: skip
    after = time.monotonic()
    printed = json.loads(result.stdout)
    samples = printed["samples"]
    assert printed["replies"] == len(samples) > 0
    for ended, ttft_ms, total_ms, _, _ in samples:
        assert before < ended < after
        assert 0 < ttft_ms <= total_ms
    assert [sample[0] for sample in samples] == sorted(sample[0] for sample in samples)
    middle = samples[len(samples) // 2][0]
    assert pool(samples, loops=1, window=(before, after))["replies"] == len(samples)
    assert pool(samples, loops=1, window=(before, middle))["replies"] == len(samples) // 2 + 1
