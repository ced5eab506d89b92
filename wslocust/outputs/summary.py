"""The JSON summary (``--summary-json``): its figures' fields are generated from :data:`.figures.FIGURES`.

Beside the figures, the sections of :data:`.figures.SUMMARY_SECTIONS` (docs/outputs.md draws it whole).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..stats.aggregates import ChatStats, ConnectStats, ReplyStats
from ..stats.voice import VoiceBook, VoiceStats
from ..wire.traffic import Traffic
from .figures import (
    CONVERSATION_FIGURES,
    FIGURES,
    METRIC_PARTS,
    TRAFFIC_SECTION,
    VOICE_FIGURES,
    ConversationDurations,
    Window,
    summary_number,
)
from .lifecycle import lifecycle_section

_TRAFFIC_PREFIX = f"{TRAFFIC_SECTION}."

__all__ = ["conversations_summary", "public_url", "reply_section", "summary", "voice_section"]

_HANDSHAKE_TIMING = "latency_ms"
"""The figures whose fields a handshake's timing has too (``connections.handshake_ms``)."""


def _figures(
    stats: ReplyStats, duration_s: float, under: str = "", traffic: Traffic | None = None
) -> dict[str, Any]:
    """The summary's figures of some replies: each figure with a path (under ``under``, if given);
    the traffic's (``messages``) when ``traffic`` is given."""
    prefix = f"{under}." if under else ""
    window = Window(stats, duration_s, traffic)
    section: dict[str, Any] = {}
    for figure in FIGURES:
        if not figure.summary or figure.value is None or not figure.summary.startswith(prefix):
            continue
        if traffic is None and figure.summary.startswith(_TRAFFIC_PREFIX):
            continue
        *parents, field = figure.summary[len(prefix) :].split(".")
        place = section
        for parent in parents:
            place = place.setdefault(parent, {})
        place[field] = summary_number(figure.value(window), figure.unit)
    return section


def reply_section(stats: ReplyStats, duration_s: float, traffic: Traffic | None = None) -> dict[str, Any]:
    """The summary's section of some replies (the total, a request name's, a profile's): the figures,
    metrics and ``errors_by_kind`` (and the ``messages`` of ``traffic``, when given)."""
    section = _figures(stats, duration_s, traffic=traffic)
    section["metrics"] = {
        name: {part.summary: summary_number(part.value(metric), part.unit) for part in METRIC_PARTS}
        for name, metric in sorted(stats.metrics.items())
    }
    section["errors_by_kind"] = dict(sorted(stats.errors.items()))
    return section


def _connections(connects: ConnectStats) -> dict[str, Any]:
    successes = connects.attempts - connects.failures
    handshakes = ReplyStats()
    handshakes.latency = connects.time
    return {
        "attempts": connects.attempts,
        "successes": successes,
        "failures": connects.failures,
        "success_rate": summary_number(successes / connects.attempts if connects.attempts else None, "ratio"),
        "handshake_ms": _figures(handshakes, 0.0, _HANDSHAKE_TIMING),
        "errors_by_kind": dict(sorted(connects.errors.items())),
        "cut_off_at_stop": connects.cut_off,
    }


def summary(stats: ChatStats, duration_s: float, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON summary: totals, rates, latency and time to first chunk, metrics, errors, connections.

    ``errors_by_kind`` joins the replies' failures with the connections' (refused, rejected).
    """
    result: dict[str, Any] = {
        "duration_s": summary_number(duration_s, "s"),
        **reply_section(stats.total, duration_s, stats.traffic),
    }
    errors = dict(stats.total.errors)
    for kind, number in stats.connects.errors.items():
        errors[kind] = errors.get(kind, 0) + number
    result["errors_by_kind"] = dict(sorted(errors.items()))
    result["connections"] = _connections(stats.connects)
    result["lifecycle"] = lifecycle_section(stats.lifecycle)
    result["by_name"] = {
        name: reply_section(stats.by_name[name], duration_s) for name in sorted(stats.by_name)
    }
    result["failed_replies_dropped"] = stats.failed_dropped
    if not stats.voice.empty:
        result["voice"] = voice_section(stats.voice)
    if extra:
        result.update(extra)
    return result


def _conversation_figures(entry: ConversationDurations) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for figure in CONVERSATION_FIGURES:
        *parents, field = figure.summary.split(".")
        place = section
        for parent in parents:
            place = place.setdefault(parent, {})
        place[field] = summary_number(figure.value(entry), figure.unit)
    return section


def conversations_summary(
    total: ConversationDurations, by_name: Mapping[str, ConversationDurations]
) -> dict[str, Any]:
    """The summary's ``conversations`` section: :data:`.figures.CONVERSATION_FIGURES` of all the
    conversations, and of each name under ``by_name``."""
    section = _conversation_figures(total)
    section["by_name"] = {name: _conversation_figures(by_name[name]) for name in sorted(by_name)}
    return section


def _voice_figures(stats: VoiceStats) -> dict[str, Any]:
    section: dict[str, Any] = {}
    for figure in VOICE_FIGURES:
        *parents, field = figure.summary.split(".")
        place = section
        for parent in parents:
            place = place.setdefault(parent, {})
        place[field] = summary_number(figure.value(stats), figure.unit)
    return section


def voice_section(book: VoiceBook) -> dict[str, Any]:
    """The summary's ``voice`` section (a run with audio turns): :data:`.figures.VOICE_FIGURES` of
    every audio turn, and of each request name's under ``by_name``."""
    section = _voice_figures(book.total)
    section["by_name"] = {name: _voice_figures(book.by_name[name]) for name in sorted(book.by_name)}
    return section


def public_url(url: str) -> str:
    """A URL without the parts that may hold a secret: user info, query string and fragment.

    Returns:
        ``scheme://host[:port]/path``; an empty string for a URL that cannot be parsed.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
