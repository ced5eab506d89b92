"""The voice figures of a run with audio turns, per request name: voice-to-voice latency and time to
first audio percentiles, underruns, real-time factor and the sender's frame lateness.

Reads wslocust's PREFIX_voice.csv (a row a request name, then Aggregated; docs/outputs.md), or the
`voice` section of its JSON summary (--summary-json) when given a .json file. Prints a table; with
-o, also writes a PNG of voice-to-voice and time to first audio (p50, p95, p99) per name.

examples:
  wslocust-analysis voice results/voice                 # reads results/voice_voice.csv
  wslocust-analysis voice results/summary.json -o v2v.png
  wslocust-analysis voice results/voice --json -        # the rows as JSON
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .cli import EXIT_OK, PROG, add_common, run_command
from .errors import InputError
from .load import read_summary

__all__ = ["COLUMNS", "SUMMARY_PATHS", "VOICE_SUFFIX", "build_parser", "format_voice", "load_voice", "main"]

logger = logging.getLogger(__name__)

VOICE_SUFFIX = "_voice.csv"

COLUMNS: dict[str, str] = {
    "Name": "name", "Voice Turns": "voice_turns", "Voice Failures": "voice_failures",
    **{f"V2V {p} (ms)": f"v2v_{k}_ms" for p, k in (("Avg", "avg"), ("p50", "p50"), ("p90", "p90"),
                                                     ("p95", "p95"), ("p99", "p99"), ("Max", "max"))},
    **{f"TTFA {p} (ms)": f"ttfa_{k}_ms" for p, k in (("Avg", "avg"), ("p50", "p50"), ("p90", "p90"),
                                                       ("p95", "p95"), ("p99", "p99"), ("Max", "max"))},
    **{f"First Transcript {p} (ms)": f"first_transcript_{k}_ms"
       for p, k in (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("Max", "max"))},
    **{f"Final Transcript {p} (ms)": f"final_transcript_{k}_ms"
       for p, k in (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("Max", "max"))},
    "Answers With Audio": "answers_with_audio", "Audio Out (s)": "audio_out_s",
    "Audio Out p50 (s)": "audio_out_p50_s", "Audio Out Max (s)": "audio_out_max_s",
    "Real-Time Factor Min": "rtf_min", "Real-Time Factor p5": "rtf_p5", "Real-Time Factor p50": "rtf_p50",
    "Underruns": "underruns", "Underrun Answers": "underrun_answers",
    "Underrun Total (ms)": "underrun_total_ms",
    **{f"Underrun {p} (ms)": f"underrun_{k}_ms"
       for p, k in (("p50", "p50"), ("p95", "p95"), ("p99", "p99"), ("Max", "max"))},
    "Frames Sent": "frames_sent",
    **{f"Frame Lateness {p} (ms)": f"frame_lateness_{k}_ms"
       for p, k in (("Avg", "avg"), ("p50", "p50"), ("p99", "p99"), ("Max", "max"))},
}  # fmt: skip
"""The columns of ``PREFIX_voice.csv``, in order, and the key each becomes (the web UI's too)."""

_SUMMARY_STEMS = {
    "v2v": "voice_to_voice_ms", "ttfa": "time_to_first_audio_ms",
    "first_transcript": "time_to_first_transcript_ms", "final_transcript": "final_transcript_latency_ms",
    "underrun": "underruns.per_answer_ms", "frame_lateness": "frames.lateness_ms",
}  # fmt: skip

SUMMARY_PATHS: dict[str, str] = {
    "voice_turns": "turns", "voice_failures": "failures", "answers_with_audio": "audio_out.answers",
    "audio_out_s": "audio_out.total_s", "audio_out_p50_s": "audio_out.per_answer_s.p50",
    "audio_out_max_s": "audio_out.per_answer_s.max", "rtf_min": "real_time_factor.min",
    "rtf_p5": "real_time_factor.p5", "rtf_p50": "real_time_factor.p50", "underruns": "underruns.count",
    "underrun_answers": "underruns.answers", "underrun_total_ms": "underruns.total_ms",
    "frames_sent": "frames.sent",
    **{key: f"{_SUMMARY_STEMS[stem]}.{part}"
       for key in COLUMNS.values() if key.endswith("_ms") and key != "underrun_total_ms"
       for stem, part in [key[: -len("_ms")].rsplit("_", 1)]},
}  # fmt: skip
"""Each key's dotted path in the JSON summary's ``voice`` section (and ``voice.by_name.<name>``)."""

_REQUIRED = ("Name", "Voice Turns", "V2V p50 (ms)", "V2V p95 (ms)", "TTFA p50 (ms)", "TTFA p95 (ms)")

_SHOWN = (
    ("name", "Name"), ("voice_turns", "turns"), ("voice_failures", "fails"), ("v2v_p50_ms", "V2V p50"),
    ("v2v_p90_ms", "V2V p90"), ("v2v_p95_ms", "V2V p95"), ("v2v_p99_ms", "V2V p99"),
    ("v2v_max_ms", "V2V max"),
    ("ttfa_p50_ms", "TTFA p50"), ("ttfa_p95_ms", "TTFA p95"), ("ttfa_p99_ms", "TTFA p99"),
    ("underruns", "underruns"), ("underrun_p95_ms", "under p95"), ("rtf_min", "RTF min"),
    ("frame_lateness_p99_ms", "late p99"),
)  # fmt: skip


def _from_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, dtype={"Name": str}, keep_default_na=False, na_values={
            column: ["", "nan", "NaN"] for column in COLUMNS if column != "Name"})  # fmt: skip
    except FileNotFoundError:
        raise InputError(
            f"{path}: no such file (wslocust writes it with --csv PREFIX in a run with audio turns)"
        ) from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{path}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
    missing = [column for column in _REQUIRED if column not in frame.columns]
    if missing:
        raise InputError(f"{path}: missing column {', '.join(map(repr, missing))}; is it a _voice.csv file?")
    frame = frame[[column for column in COLUMNS if column in frame.columns]].rename(columns=COLUMNS)
    for column in frame.columns:
        if column != "name":
            converted = pd.to_numeric(frame[column], errors="coerce")
            if (converted.isna() & frame[column].notna()).any():
                raise InputError(f"{path}: column {column!r} holds a value that is not a number")
            frame[column] = converted.astype("float64")
    return frame


def _at(section: Mapping[str, Any], path: str) -> float:
    place: Any = section
    for part in path.split("."):
        place = place.get(part) if isinstance(place, Mapping) else None
    return float(place) if isinstance(place, int | float) and not isinstance(place, bool) else math.nan


def _from_summary(path: Path) -> pd.DataFrame:
    voice = read_summary(path).get("voice")
    if not isinstance(voice, dict):
        raise InputError(f"{path}: no voice section (the run had no audio turns)")
    by_name = voice.get("by_name")
    if not isinstance(by_name, dict):
        by_name = {}
    sections = [*sorted(by_name.items()), ("Aggregated", voice)]
    rows = [
        {"name": name, **{key: _at(section, at) for key, at in SUMMARY_PATHS.items()}}
        for name, section in sections
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS.values()))


def load_voice(spec: str | Path) -> pd.DataFrame:
    """The voice rows of a run: a row a request name then ``Aggregated``, keyed by :data:`COLUMNS`.

    Args:
        spec: a ``--csv`` prefix (``results/voice`` reads ``results/voice_voice.csv``), the
            ``_voice.csv`` file itself, or a JSON summary (``.json``).

    Raises:
        InputError: a missing or unreadable file, one without the voice figures.
    """
    path = Path(spec)
    if path.suffix == ".json":
        return _from_summary(path)
    if not path.name.endswith(VOICE_SUFFIX):
        path = path.with_name(path.name + VOICE_SUFFIX)
    return _from_csv(path)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:g}" if float(value) != int(value) else str(int(value))


def format_voice(frame: pd.DataFrame) -> str:
    """A fixed-width table of the main voice figures, a row a name."""
    rows = [[_cell(record[key]) for key, _ in _SHOWN] for record in frame.to_dict("records")]
    widths = [max(len(title), *(len(row[index]) for row in rows)) for index, (_, title) in enumerate(_SHOWN)]
    lines = [
        " ".join(
            t.ljust(w) if i == 0 else t.rjust(w)
            for i, ((_, t), w) in enumerate(zip(_SHOWN, widths, strict=True))
        )
    ]
    lines += [
        " ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]
    return "\n".join(lines) + "\n"


def _plot(frame: pd.DataFrame, output: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
    names = list(frame["name"])
    for axis, (stem, title) in zip(
        axes, (("v2v", "Voice-to-voice (ms)"), ("ttfa", "Time to first audio (ms)")), strict=True
    ):
        width = 0.27
        for offset, part in enumerate(("p50", "p95", "p99")):
            values = frame[f"{stem}_{part}_ms"].fillna(0.0)
            axis.bar([index + (offset - 1) * width for index in range(len(names))], values, width, label=part)
        axis.set_xticks(range(len(names)), names, rotation=20, ha="right")
        axis.set_title(title)
        axis.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=100)
    plt.close(figure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"{PROG} voice", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", help="a --csv PREFIX, a PREFIX_voice.csv file, or a --summary-json file")
    parser.add_argument("-o", "--output", type=Path, metavar="PNG", help="also write a PNG of V2V and TTFA")
    parser.add_argument(
        "--json", metavar="PATH", help="write the rows as JSON to PATH ('-': stdout, no table)"
    )
    add_common(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``voice``: print the table (and write the PNG, the JSON). Returns 0, or 2 for bad input."""

    def body(args: argparse.Namespace) -> int:
        frame = load_voice(args.run)
        if args.json is not None:
            records = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
                       for r in frame.to_dict("records")]  # fmt: skip
            text = json.dumps(records, indent=2) + "\n"
            if args.json == "-":
                sys.stdout.write(text)
                return EXIT_OK
            Path(args.json).write_text(text, encoding="utf-8")
        sys.stdout.write(format_voice(frame))
        if args.output is not None:
            _plot(frame, args.output)
            logger.info("wrote %s", args.output)
        return EXIT_OK

    return run_command(build_parser(), argv, body)
