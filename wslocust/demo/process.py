"""The demo bot in a child process (:class:`DemoProcess`): how the embedded demo and the tests run it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["DemoProcess"]


class DemoProcess:
    """The demo bot in a child process, on a free loopback port (a context manager).

    Args:
        args: command-line arguments of the demo server (``--port`` and ``--host`` are set here).
        start_timeout_s: how long to wait for it to listen.

    Attributes:
        url: ``ws://127.0.0.1:PORT`` once started.
    """

    def __init__(self, args: Sequence[str] = (), start_timeout_s: float = 20.0) -> None:
        self.args = list(args)
        self.start_timeout_s = start_timeout_s
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        """Start the server; return its URL.

        Raises:
            RuntimeError: it exited or did not listen in time (with what it printed).
        """
        command = [
            sys.executable,
            "-m",
            "wslocust.demo",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *self.args,
        ]
        # A session of its own: a terminal's Ctrl+C must stop the run, not the bot under its last replies.
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        assert self._process.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = self._process.stdout.readline()
            if not line:
                break
            if line.startswith("listening on "):
                self.url = line.split()[-1]
                return self.url
            seen.append(line.rstrip())
        self.stop()
        raise RuntimeError("demo server did not start: " + (" | ".join(seen) or "no output"))

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> DemoProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
