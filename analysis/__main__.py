"""Analyse Locust's CSV output (locust --csv PREFIX) without a notebook.

commands:
  summarize PREFIX          print a summary of one run and write it as JSON (PREFIX_summary.json)
  plot PREFIX               write PNG figures: per users level, over time, streaming timings
  compare BASE RUN [RUN..]  compare runs side by side (table, JSON, overlaid figures); exit 1 when
                            a run is worse than BASE past the tolerance (for CI)
  report PREFIX             write one self-contained HTML report (PREFIX_report.html)
  voice PREFIX              print the voice figures of a run with audio turns, a row a request
                            name (V2V and TTFA percentiles...); -o writes a PNG of them
  repeat -n N -o PREFIX -- COMMAND
                            run a test N times; each headline figure's min/median/max
                            (PREFIX_repeat.json), which compare uses to tell a regression from noise

PREFIX is what was given to --csv (results/demo for results/demo_stats.csv); a run's CSV file or
a directory holding one run also works. `COMMAND --help` explains each command.

exit codes: 0 done, 1 regression found (compare), 2 bad input or usage (one line on stderr).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .cli import EXIT_INPUT, PROG

__all__ = ["COMMANDS", "main"]


def _command(name: str) -> Callable[[list[str] | None], int]:
    # Imported on demand: `summarize` need not load matplotlib.
    if name == "summarize":
        from .summarize import main as summarize

        return summarize
    if name == "plot":
        from .plot import main as plot

        return plot
    if name == "compare":
        from .compare import main as compare

        return compare
    if name == "voice":
        from .voice import main as voice

        return voice
    if name == "repeat":
        from .repeat import main as repeat

        return repeat
    from .report import main as report

    return report


COMMANDS = ("summarize", "plot", "compare", "report", "repeat", "voice")
"""The subcommands."""

_ANALYSIS_PACKAGES = frozenset(("numpy", "pandas", "matplotlib"))
"""What the ``analysis`` extra installs; wslocust itself runs without them."""


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``wslocust-analysis COMMAND ARGS...`` to the command's ``main``.

    Args:
        argv: the arguments (``None``: the process's).

    Returns:
        The command's exit code; 2 for an unknown command.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage=f"{PROG} COMMAND ...",
    )
    parser.add_argument("command", choices=COMMANDS, metavar="COMMAND", help=", ".join(COMMANDS))
    if args and args[0] in {"-h", "--help"}:
        parser.print_help()
        return 0
    if not args:
        parser.print_usage(sys.stderr)
        sys.stderr.write(f"{PROG}: error: a command is required: {', '.join(COMMANDS)} (see --help)\n")
        return EXIT_INPUT
    if args[0] not in COMMANDS:
        sys.stderr.write(f"{PROG}: error: unknown command {args[0]!r} (choose from {', '.join(COMMANDS)})\n")
        return EXIT_INPUT
    try:
        command = _command(args[0])
    except ModuleNotFoundError as error:  # the analysis extra is not installed (a lean worker image)
        if error.name not in _ANALYSIS_PACKAGES:
            raise
        sys.stderr.write(
            f"{PROG}: error: {args[0]} needs {error.name}, which is not installed: "
            "pip install 'wslocust[analysis]'\n"
        )
        return EXIT_INPUT
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
