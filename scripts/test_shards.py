"""Run the test suite as N pytest processes side by side, then print each one's report and one
closing line for the whole suite.

Most of the suite's time is spent waiting: a Locust run in a subprocess for a few seconds, a server
holding a reply back. pytest-xdist cannot run this suite (its workers' execution model clashes with
gevent's monkey patching, which Locust applies on import), so the tests are split into N groups of
about equal duration by pytest-split (from ``tests/.test_durations``; tests not in it count as the
average), and each group runs in a pytest process of its own.

Usage: ``python scripts/test_shards.py [N] [pytest arguments...]`` (N defaults to 2). After adding
slow tests, refresh the durations with ``pytest --store-durations --durations-path
tests/.test_durations`` (one process).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
DURATIONS = ROOT / "tests" / ".test_durations"
# pytest's closing line, e.g. "=== 1010 passed, 2 failed in 300.12s (0:05:00) ===".
CLOSING = re.compile(r"^=+ (?P<counts>.+?) in [\d.]+s")
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?)")


def main(argv: list[str]) -> int:
    """Run the shards; return the worst exit code (0 when every shard passed)."""
    shards = 2
    if argv and argv[0].isdigit():
        shards, argv = int(argv[0]), argv[1:]
    if shards < 1:
        print(f"test_shards: the number of shards must be at least 1, not {shards}", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="wslocust-shards-") as folder:
        logs = [Path(folder) / f"shard{group}.log" for group in range(1, shards + 1)]
        running = []
        for group, log in enumerate(logs, start=1):
            command = [
                sys.executable, "-m", "pytest", "-p", "no:cacheprovider",
                f"--splits={shards}", f"--group={group}", "--splitting-algorithm=least_duration",
                f"--durations-path={DURATIONS}", *argv,
            ]  # fmt: skip
            with log.open("wb") as output:
                running.append(subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT))
        codes = [process.wait() for process in running]
        totals: dict[str, int] = {}
        for group, log in enumerate(logs, start=1):
            text = log.read_text(errors="replace")
            print(f"----- shard {group} of {shards} (exit {codes[group - 1]}) -----")
            print(text, end="" if text.endswith("\n") else "\n")
            for line in text.splitlines():
                closing = CLOSING.match(line)
                if closing:
                    for number, word in COUNT.findall(closing["counts"]):
                        key = {"error": "errors", "warning": "warnings"}.get(word, word)
                        totals[key] = totals.get(key, 0) + int(number)
    elapsed = time.monotonic() - started
    # Exit 5 is pytest's "no tests collected": a shard that ran nothing is not a pass.
    worst = max(codes, key=lambda code: (code != 0, code))
    failed = totals.get("failed", 0) + totals.get("errors", 0)  # an error (a fixture's) fails a test
    skipped = f", {totals['skipped']} skipped" if totals.get("skipped") else ""
    print(f"({shards} shards in {elapsed:.0f} s; exit {worst})")
    print(f"suite: {totals.get('passed', 0)} passed, {failed} failed{skipped}")
    return worst


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
