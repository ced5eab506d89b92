"""Screenshot the web UI: its start form, and the Chatbot tab during a run against the demo chatbot.

Starts the shipped locustfile's web UI (no --host: the embedded demo bot), saves a PNG of the start
form with its custom parameters open, starts a swarm, waits, and saves a PNG of the Chatbot tab
(charts and table), both taken by headless Chromium (Debian: ``apt-get install chromium``; set
CHROMIUM to use another binary). Arguments after ``--`` go to Locust, e.g.
``python scripts/screenshot_webui.py -- --demo-ttft-ms 80``.

The Chromium helpers here (:class:`Browser`, driving the page over the DevTools protocol on
loopback) are shared with tests/plugin/test_webui.py.
"""

from __future__ import annotations

import argparse
import base64
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
FORM_OUTPUT = ROOT / "docs" / "img" / "webui-form.png"
FORM_HEIGHT = 2000

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


def find_chromium() -> str | None:
    """The Chromium binary (``$CHROMIUM``, default ``chromium`` on the PATH), or None."""
    return shutil.which(os.environ.get("CHROMIUM", "chromium"))


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class Browser:
    """A headless Chromium tab driven over the DevTools protocol, on loopback only.

    Use it as a context manager: Chromium starts with a throw-away profile and a DevTools port it
    chooses (``--remote-debugging-port=0``), and is killed, with its children, at the end. Clicks
    and typing are real input events (``Input.*``), so the page's own form code runs.

    Args:
        chromium: The Chromium binary.
        size: The window's width and height in pixels.
        timeout_s: How long any one step (start, a command, a wait) may take.
    """

    def __init__(self, chromium: str, size: tuple[int, int] = (1600, 1000), timeout_s: float = 60) -> None:
        self.chromium = chromium
        self.size = size
        self.timeout_s = timeout_s
        self._ids = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self._socket: Any = None

    def __enter__(self) -> Browser:
        import websocket  # websocket-client, a wslocust dependency

        self._profile = tempfile.TemporaryDirectory(prefix="wslocust-chromium-", ignore_cleanup_errors=True)
        profile = Path(self._profile.name)
        command = [
            self.chromium, *HEADLESS_FLAGS, f"--user-data-dir={profile}",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
            f"--window-size={self.size[0]},{self.size[1]}", "about:blank",
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout_s
        while not (port_file.is_file() and port_file.read_text().count("\n") >= 1):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"chromium did not open its DevTools port: {' '.join(command)}")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=self.timeout_s) as answer:
            [page] = [target for target in json.load(answer) if target["type"] == "page"]
        self._socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=self.timeout_s, suppress_origin=True
        )
        self.resize(*self.size)
        return self

    def resize(self, width: int, height: int) -> None:
        """Make the page ``width`` by ``height`` pixels (screenshots are that size)."""
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", **metrics)
        self.size = (width, height)

    def __exit__(self, *_: object) -> None:
        if self._socket is not None:
            with contextlib.suppress(Exception):
                self._socket.close()
        if self._process is not None:
            _kill_group(self._process)
            self._process.wait(10)
        if self._profile is not None:
            self._profile.cleanup()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command; its result (events arriving meanwhile are dropped).

        Raises:
            RuntimeError: The command failed.
        """
        self._ids += 1
        self._socket.send(json.dumps({"id": self._ids, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._ids:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited).

        Raises:
            RuntimeError: The expression threw.
        """
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float | None = None) -> Any:
        """Poll a JavaScript expression until it is truthy; its value.

        Raises:
            TimeoutError: It stayed falsy for ``timeout_s`` (default: the browser's timeout).
        """
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false after {timeout_s} s: {expression}")
            time.sleep(0.1)

    def goto(self, url: str) -> None:
        """Load ``url`` and wait until the document has loaded."""
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href.startsWith({json.dumps(url)}) && document.readyState === 'complete'")

    def click(self, selector: str, text: str = "") -> None:
        """Click, with the mouse, the middle of the first element matching a CSS selector (and holding
        ``text``), once there is one; the page is first scrolled to show it."""
        find = (
            f"[...document.querySelectorAll({json.dumps(selector)})]"
            f".find((node) => node.textContent.includes({json.dumps(text)}))"
        )
        where = (  # the middle of the element (scrolled into view), if a click there would hit it
            f"(() => {{ const node = {find}; let box = node?.getBoundingClientRect(); if (!box) return null;"
            " if (box.top < 0 || box.bottom > innerHeight) { node.scrollIntoView({block: 'center'});"
            " box = node.getBoundingClientRect(); }"
            " const x = box.x + box.width / 2, y = box.y + box.height / 2;"
            " return node.contains(document.elementFromPoint(x, y)) ? [x, y] : null; })()"
        )
        x, y = self.wait_for(where)
        time.sleep(0.1)
        while (moved := self.wait_for(where)) != [x, y]:  # still moving (an accordion opening)
            x, y = moved
            time.sleep(0.1)
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def type_into(self, selector: str, text: str) -> None:
        """Replace the text of an input field as a user typing would (focus, select all, type)."""
        self.wait_for(
            f"(() => {{ const node = document.querySelector({json.dumps(selector)}); if (!node) return false;"
            " node.scrollIntoView({block: 'center'}); node.focus(); node.select(); return true; })()"
        )
        if text:
            self.call("Input.insertText", text=text)
        else:
            for kind in ("keyDown", "keyUp"):
                self.call("Input.dispatchKeyEvent", type=kind, key="Backspace", code="Backspace",
                          windowsVirtualKeyCode=8)  # fmt: skip

    def choose(self, selector: str, value: str) -> None:
        """Pick an option of a native ``<select>`` (sets it and fires the change event a pick fires)."""
        self.wait_for(
            f"(() => {{ const node = document.querySelector({json.dumps(selector)}); if (!node) return false;"
            f" node.value = {json.dumps(value)}; node.dispatchEvent(new Event('change', {{bubbles: true}}));"
            f" return node.value === {json.dumps(value)}; }})()"
        )

    def html(self) -> str:
        """The page's DOM as HTML."""
        return str(self.evaluate("document.documentElement.outerHTML"))

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the visible page."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))


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
def running_web_ui(
    command: Sequence[str], url: str, timeout_s: float = 30, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Run ``command`` (a Locust web UI) until the block ends; yield ``url`` once it answers (within
    ``timeout_s``, which also bounds its stop).

    Locust gets SIGTERM at the end (so it stops its embedded demo bot); if it lingers, its whole
    process group gets SIGKILL, so that no demo bot it started outlives it.
    """
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            _wait_until_up(process, url, log, timeout_s)
            yield url
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout_s)


def _wait_until_up(process: subprocess.Popen[str], url: str, log: IO[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            # A refused connect fails at once; a page a loaded machine serves slowly (seconds) is
            # waited for, up to the deadline, not given up on and asked again.
            urllib.request.urlopen(url, timeout=max(deadline - time.monotonic(), 0.1)).read()
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
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT, help="PNG of the Chatbot tab")
    parser.add_argument("--form-output", type=Path, default=FORM_OUTPUT, help="PNG of the start form")
    parser.add_argument("-u", "--users", type=int, default=10, help="Users of the swarm (default 10)")
    parser.add_argument("--think-time", default="0.2-0.6", help="Think time of the swarm (default 0.2-0.6)")
    parser.add_argument("--wait", type=float, default=20.0, help="Seconds to run before the screenshot")
    parser.add_argument("--size", default="1400x1000", help="Window size WIDTHxHEIGHT (default 1400x1000)")
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
    with running_web_ui(command, base + "/"), Browser(chromium, (int(width), int(height))) as browser:
        browser.goto(base + "/")
        browser.click(".MuiAccordionSummary-root", "Custom parameters")
        browser.wait_for("!!document.querySelector('.MuiCollapse-entered [data-wslocust-form]')")
        browser.resize(int(width), FORM_HEIGHT)  # the top of the form: its first groups of options
        browser.screenshot(args.form_output)
        browser.resize(int(width), int(height))
        fields = {"user_count": str(args.users), "spawn_rate": str(args.users), "think_time": args.think_time}
        answer = post_form(base + "/swarm", fields)
        if not answer.get("success"):
            raise RuntimeError(f"the swarm did not start: {answer}")
        print(f"swarming against {answer.get('host')}; screenshot in {args.wait:g} s", file=sys.stderr)
        time.sleep(args.wait)
        browser.goto(base + "/?tab=chatbot")
        browser.wait_for("document.querySelectorAll('#wslocust-charts polyline').length === 6")
        browser.screenshot(args.output)
        post_form(base + "/stop", {})
    print(args.output, args.form_output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
