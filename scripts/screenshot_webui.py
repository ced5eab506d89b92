"""Screenshot the web UI's Chatbot tab during a run against the embedded demo chatbot.

Starts the shipped locustfile's web UI (no --host: the embedded demo bot), starts a swarm, waits,
and saves a PNG of the Chatbot tab taken by headless Chromium (Debian: ``apt-get install chromium``;
set CHROMIUM to use another binary). Arguments after ``--`` go to Locust, e.g.
``python scripts/screenshot_webui.py -- --demo-ttft-ms 80``.

The Chromium helpers here are shared with tests/test_webui.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "chatbot.py"
DEFAULT_OUTPUT = ROOT / "docs" / "img" / "chatbot-tab.png"

HEADLESS_FLAGS = (
    "--headless",
    "--no-sandbox",  # containers and CI runners as root have no usable sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
"""Chromium flags: headless, and no network traffic but the page's own."""

VIRTUAL_TIME_MS = 8000
"""Virtual time the page gets before the DOM dump or screenshot: the UI fetches the stats every 2 s,
and virtual time stands still while a fetch is under way, so the table is filled by then."""


def find_chromium() -> str | None:
    """The Chromium binary (``$CHROMIUM``, default ``chromium`` on the PATH), or None."""
    return shutil.which(os.environ.get("CHROMIUM", "chromium"))


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def run_chromium(chromium: str, url: str, flags: Sequence[str], timeout_s: float = 60) -> str:
    """Run headless Chromium on ``url`` with ``flags`` and a throw-away profile; return its stdout.

    Raises RuntimeError when it fails or outlives ``timeout_s`` (it is killed, with its children).
    """
    with tempfile.TemporaryDirectory(prefix="wslocust-chromium-", ignore_cleanup_errors=True) as profile:
        command = [chromium, *HEADLESS_FLAGS, f"--user-data-dir={profile}", *flags, url]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise RuntimeError(f"chromium took more than {timeout_s} s: {' '.join(command)}") from None
        finally:
            _kill_group(process)  # helpers left behind, if any
    if process.returncode != 0:
        raise RuntimeError(f"chromium exited with {process.returncode}: {stderr[-2000:]}")
    return stdout


def dump_dom(chromium: str, url: str, budget_ms: int = VIRTUAL_TIME_MS, timeout_s: float = 60) -> str:
    """The page's DOM as rendered after ``budget_ms`` of virtual time."""
    return run_chromium(chromium, url, [f"--virtual-time-budget={budget_ms}", "--dump-dom"], timeout_s)


def screenshot(
    chromium: str,
    url: str,
    path: Path,
    size: tuple[int, int] = (1600, 1000),
    budget_ms: int = VIRTUAL_TIME_MS,
    timeout_s: float = 60,
) -> None:
    """Save a PNG of the page, ``size`` pixels, after ``budget_ms`` of virtual time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = [
        f"--virtual-time-budget={budget_ms}",
        f"--window-size={size[0]},{size[1]}",
        f"--screenshot={path.resolve()}",
    ]
    run_chromium(chromium, url, flags, timeout_s)
    if not path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot to {path}")


@dataclass
class RenderedPage:
    """What the rendered Locust UI shows: its tabs, and the table of the selected tab."""

    tabs: list[str] = field(default_factory=list)
    selected_tab: str | None = None
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    def column(self, header: str) -> list[str]:
        """The cells under ``header``."""
        index = self.headers.index(header)
        return [row[index] for row in self.rows if len(row) > index]


class _PageParser(HTMLParser):
    """Reads tabs (``role="tab"``), table headers and body cells; ignores scripts (the page embeds
    its template arguments, which name every tab and column whether rendered or not)."""

    def __init__(self) -> None:
        super().__init__()
        self.page = RenderedPage()
        self._skip = 0
        self._capture: tuple[str, str, bool] | None = None  # tag, kind, selected
        self._depth = 0
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        if self._capture is not None:
            self._depth += tag == self._capture[0]
            return
        attributes = dict(attrs)
        kind = "tab" if attributes.get("role") == "tab" else tag if tag in ("th", "td") else None
        if tag == "tr":
            self.page.rows.append([])
        if kind is not None:
            self._capture = (tag, kind, attributes.get("aria-selected") == "true")
            self._depth = 1
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(self._skip - 1, 0)
        if self._capture is None or tag != self._capture[0]:
            return
        self._depth -= 1
        if self._depth:
            return
        _, kind, selected = self._capture
        self._capture = None
        text = " ".join("".join(self._text).split())
        if kind == "tab":
            self.page.tabs.append(text)
            if selected:
                self.page.selected_tab = text
        elif kind == "th":
            self.page.headers.append(text)
        elif self.page.rows:
            self.page.rows[-1].append(text)

    def handle_data(self, data: str) -> None:
        if self._capture is not None and not self._skip:
            self._text.append(data)


def parse_page(dom: str) -> RenderedPage:
    """The tabs and the table of a Locust web UI page dumped by :func:`dump_dom`."""
    parser = _PageParser()
    parser.feed(dom)
    parser.close()
    parser.page.rows = [row for row in parser.page.rows if row]  # the header's row holds no td
    return parser.page


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_web_ui(command: Sequence[str], url: str, timeout_s: float = 30) -> Iterator[str]:
    """Run ``command`` (a Locust web UI) until the block ends; yield ``url`` once it answers.

    Locust gets SIGTERM at the end (so it stops its embedded demo bot), SIGKILL if it lingers.
    """
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            _wait_until_up(process, url, log, timeout_s)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_until_up(process: subprocess.Popen[str], url: str, log: IO[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"the web UI did not start: {log.read()[-2000:]}") from None
            time.sleep(0.1)


def post_form(url: str, fields: dict[str, str]) -> Any:
    """POST a form to the web UI; its JSON answer."""
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=5) as response:
        return json.load(response)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="PNG to write")
    parser.add_argument("-u", "--users", type=int, default=10, help="Users of the swarm (default 10)")
    parser.add_argument("--think-time", default="0.2-0.6", help="Think time of the swarm (default 0.2-0.6)")
    parser.add_argument("--wait", type=float, default=10.0, help="Seconds to run before the screenshot")
    parser.add_argument("--size", default="1600x1000", help="Window size WIDTHxHEIGHT (default 1600x1000)")
    parser.add_argument("locust_args", nargs="*", help="Further Locust arguments (after --)")
    args = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        parser.error("chromium not found: apt-get install chromium, or set CHROMIUM")
    width, _, height = args.size.partition("x")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--web-host", "127.0.0.1",
        "--web-port", str(port), *args.locust_args,
    ]  # fmt: skip
    with running_web_ui(command, base + "/"):
        fields = {"user_count": str(args.users), "spawn_rate": str(args.users), "think_time": args.think_time}
        answer = post_form(base + "/swarm", fields)
        if not answer.get("success"):
            raise RuntimeError(f"the swarm did not start: {answer}")
        print(f"swarming against {answer.get('host')}; screenshot in {args.wait:g} s", file=sys.stderr)
        time.sleep(args.wait)
        screenshot(chromium, base + "/?tab=chatbot", args.output, (int(width), int(height)))
        post_form(base + "/stop", {})
    print(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
