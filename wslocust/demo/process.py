"""The demo bot in a child process (:class:`DemoProcess`): how the embedded demo and the tests run it."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence

__all__ = ["DemoProcess"]

_EXIT_WAIT_S = 1.0
"""How long a bot that stopped talking without listening is given to exit, to report its exit code."""


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
        self._process: subprocess.Popen[bytes] | None = None

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
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
        )
        assert self._process.stdout is not None
        try:
            seen, url = self._await_listening(self._process.stdout.fileno())
        except BaseException:  # Ctrl+C while it starts: the bot, in its own session, would outlive the run
            self.stop()
            raise
        if url:
            self.url = url
            return url
        try:  # its output ended: it is exiting, or just exited (poll() alone may not see it yet)
            code: int | None = self._process.wait(_EXIT_WAIT_S)
        except subprocess.TimeoutExpired:
            code = None
        self.stop()
        why = (
            f"it exited with code {code}"
            if code is not None
            else f"not listening after {self.start_timeout_s:g} s"
        )
        raise RuntimeError(f"demo server did not start ({why}): " + (" | ".join(seen) or "no output"))

    def _await_listening(self, output: int) -> tuple[list[str], str]:
        """Read the bot's output until it says where it listens, it exits, or the start timeout passes.

        Each read waits only for the time left, so a bot that prints nothing cannot hold the run.

        Returns:
            The lines it printed before, and its URL ("" when it did not listen in time).
        """
        deadline = time.monotonic() + self.start_timeout_s
        seen: list[str] = []
        pending = b""
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([output], [], [], left)
            if not ready:
                break
            block = os.read(output, 65536)
            if not block:
                break
            *lines, pending = (pending + block).split(b"\n")
            for line in lines:
                text = line.decode("utf-8", "replace").rstrip()
                if text.startswith("listening on "):
                    return seen, text.split()[-1]
                seen.append(text)
        return seen, ""

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
