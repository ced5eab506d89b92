"""Name the files a run wrote under its results prefix, Locust's apart from wslocust's.

``make demo``'s closing message: the files named ``PREFIX.*`` or ``PREFIX_*`` (``demo.html``,
``demo_chat_stats.csv``, ``demo_voice.csv``...) changed since the file given with ``--since`` was
touched (just before the run), read from the disk rather than from a list, so a run with audio
turns names its voice CSVs; files of the prefix left by an earlier run are named apart, as such.

Example: ``python scripts/demo_outputs.py results/demo --since results/.demo-started``
"""

from __future__ import annotations

import argparse
import glob
from collections.abc import Sequence
from pathlib import Path

__all__ = ["LOCUST_SUFFIXES", "main", "message", "outputs"]

LOCUST_SUFFIXES = ("_stats.csv", "_stats_history.csv", "_failures.csv", "_exceptions.csv", ".html")
"""What Locust itself adds to the prefix (``--csv``, and the ``--html`` report); the rest is wslocust's."""


def outputs(prefix: Path, since_ns: int) -> tuple[list[str], list[str]]:
    """The names of the files ``PREFIX.*`` and ``PREFIX_*``: those changed at or after ``since_ns``
    (the run's), and the others (an earlier run's), each sorted.

    Args:
        prefix: the results prefix (``results/demo``).
        since_ns: the time the run started, as ``os.stat``'s ``st_mtime_ns``.
    """
    files = [path for path in prefix.parent.glob(f"{glob.escape(prefix.name)}[._]*") if path.is_file()]
    written = sorted(path.name for path in files if path.stat().st_mtime_ns >= since_ns)
    return written, sorted({path.name for path in files} - set(written))


def message(directory: Path, prefix: str, written: Sequence[str], earlier: Sequence[str] = ()) -> list[str]:
    """The closing message's lines: where the results are, Locust's files and wslocust's, then any
    earlier run's files beside them."""
    locust = [name for name in written if name.removeprefix(prefix) in LOCUST_SUFFIXES]
    ours = [name for name in written if name not in locust]
    return [
        f"Results in {directory}/ (written by this run):"
        if written
        else f"No results written in {directory}/.",
        *([f"  Locust:   {' '.join(locust)}"] if locust else []),
        *([f"  wslocust: {' '.join(ours)}"] if ours else []),
        *([f"  Left by an earlier run: {' '.join(earlier)}"] if earlier else []),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the closing message for ``PREFIX``'s files written since ``--since`` was touched."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("prefix", type=Path, help="the results prefix given to --csv, e.g. results/demo")
    parser.add_argument("--since", type=Path, required=True, help="a file touched just before the run")
    arguments = parser.parse_args(argv)
    since_ns = arguments.since.stat().st_mtime_ns
    prefix: Path = arguments.prefix
    written, earlier = outputs(prefix, since_ns)
    print("\n".join(message(prefix.parent.resolve(), prefix.name, written, earlier)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
