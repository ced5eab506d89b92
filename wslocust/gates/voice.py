"""The voice gates: limits on the audio turns' figures (the JSON summary's ``voice`` section).

- ``--max-v2v-p95-ms``: the p95 of voice-to-voice latency (end of the user's speech → first audio of
  the answer), over the successful audio turns whose answer had audio;
- ``--max-underrun-ms``: the p95 of each answer's playback underruns' total length (0 for an answer
  played without a gap), over the same turns: a per-answer figure, so that a longer run does not
  fail a gate a shorter one passed (the run's total is in the summary, ``voice.underruns.total_ms``).

A run without audio turns (no ``voice`` section) fails either gate, with a note saying so.
See docs/gates.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..values import milliseconds
from .gate import Gate, Measurement

__all__ = ["VOICE_GATE_OPTIONS", "add_voice_gate_arguments", "voice_gates"]

VOICE_GATE_OPTIONS: tuple[str, ...] = ("--max-v2v-p95-ms", "--max-underrun-ms")
"""Every option :func:`add_voice_gate_arguments` registers, in order."""


def add_voice_gate_arguments(group: Any, add: Callable[..., None]) -> None:
    """Registers the voice gate options on an argument group (shown in the web UI's form).

    Both default to ``None`` (no gate) and keep their values as given; :func:`voice_gates` checks them.
    """
    add(
        group,
        "--max-v2v-p95-ms",
        metavar="MS",
        help="Gate: fail the run above this voice-to-voice latency p95 (end of speech to first audio "
        "of the answer, over audio turns)",
    )
    add(
        group,
        "--max-underrun-ms",
        metavar="MS",
        help="Gate: fail the run above this p95 of each answer's playback underruns' total length "
        "(0: no answer may stutter, at p95)",
    )


def _voice(path: str, missing: str) -> Callable[[Mapping[str, Any]], Measurement]:
    """A reader of ``summary["voice"][a][b]`` for ``path`` ``a.b`` (a figure of audio turns)."""

    def measure(summary: Mapping[str, Any]) -> Measurement:
        place: Any = summary.get("voice")
        if not isinstance(place, Mapping):
            return Measurement(None, "no audio turn in this run")
        for part in path.split("."):
            place = place.get(part) if isinstance(place, Mapping) else None
        if isinstance(place, bool) or not isinstance(place, int | float):
            return Measurement(None, missing)
        return Measurement(float(place))

    return measure


def voice_gates(given: Callable[[str], object | None]) -> list[Gate]:
    """The voice gates set by the options (``given(dest)``: an option's value, None when unset).

    Raises:
        ConfigurationError: a limit is not a finite number of ms (above 0 for voice-to-voice, 0 or
            more for underruns); the message names the option.
    """
    gates: list[Gate] = []
    if (value := given("max_v2v_p95_ms")) is not None:
        limit = milliseconds(value, "--max-v2v-p95-ms", positive=True)
        measure = _voice(
            "voice_to_voice_ms.p95", "no successful audio turn with audio after the end of speech"
        )
        gates.append(
            Gate("max_v2v_p95_ms", "voice-to-voice p95", "--max-v2v-p95-ms", limit, "max", "ms", measure)
        )
    if (value := given("max_underrun_ms")) is not None:
        limit = milliseconds(value, "--max-underrun-ms")
        measure = _voice("underruns.per_answer_ms.p95", "no successful audio turn with audio")
        gates.append(
            Gate(
                "max_underrun_p95_ms",
                "underrun p95 per answer",
                "--max-underrun-ms",
                limit,
                "max",
                "ms",
                measure,
            )
        )
    return gates
