"""What the commands share: the program name, logging, and turning bad input into one line and exit 2."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence

from .errors import InputError

__all__ = [
    "EXIT_INPUT",
    "EXIT_OK",
    "EXIT_REGRESSION",
    "PROG",
    "add_common",
    "add_level_options",
    "run_command",
]

PROG = "wslocust-analysis"
EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_INPUT = 2

logger = logging.getLogger("analysis")


def add_common(parser: argparse.ArgumentParser) -> None:
    """Add the options every command has (``-v/--verbose``)."""
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is read and written (stderr)")


def add_level_options(parser: argparse.ArgumentParser) -> None:
    """Add the options of the commands that split a run into users levels (``--min-level-seconds``)."""
    parser.add_argument(
        "--min-level-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="leave out users levels held for less than S seconds (ramp-up transients); default 0",
    )


def run_command(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    body: Callable[[argparse.Namespace], int],
) -> int:
    """Parse the arguments and run a command, mapping failures to exit codes.

    Args:
        parser: the command's parser.
        argv: the arguments (``None``: ``sys.argv[1:]``).
        body: the command, given the parsed arguments; returns the exit code.

    Returns:
        The body's code; 2 (and one line on stderr, no traceback) for bad input or usage, 0 for
        ``--help``.
    """
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_INPUT
    _configure_logging(bool(getattr(args, "verbose", False)))
    try:
        return body(args)
    except BrokenPipeError:  # `... | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except InputError as error:
        sys.stderr.write(f"{parser.prog}: error: {error}\n")
        return EXIT_INPUT
    except OSError as error:  # writing an output: the message names the path
        where = f"{error.filename}: " if error.filename else ""
        sys.stderr.write(f"{parser.prog}: error: {where}{error.strerror or error}\n")
        return EXIT_INPUT


def _configure_logging(verbose: bool) -> None:
    if logger.handlers:
        logger.setLevel(logging.INFO if verbose else logging.WARNING)
        return
    handler = _Stderr()
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO if verbose else logging.WARNING)


class _Stderr(logging.Handler):
    """Write to whatever ``sys.stderr`` is at the time (pytest swaps it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # pragma: no cover - logging must not raise
            self.handleError(record)
