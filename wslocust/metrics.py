"""Response-quality metrics: score every reply, fail the ones a metric rejects.

A :class:`Metric` is a name, a function ``(record, reply) -> float`` (or None when it does not apply
to that record) and a failure condition ``(record, reply, score) -> bool``. A reply that meets a
failure condition is a failed request whose error names the metric and its score. An *objective*
(``fails_request=False``, e.g. a latency target) does not fail the request when missed; it only keeps
the reply out of goodput. A metric function that raises is counted as a metric error; it never stops
the user and never fails the request.

Built-in metrics are made by the functions below, and from the command line by :func:`parse_metric`
(``--metric recall:min=0.5``)::

    exact       the reply equals the record's field (default Answer)
    contains    the reply contains ``text=`` or the record's ``field=``
    contains_all, contains_any   every / any item of the record's list field (default Keywords)
    regex       the reply matches ``pattern=`` (give it last: it takes the rest of the spec)
    json        the reply is JSON (an object with ``keys=a;b`` when given)
    intent      the bot's intent (reply field ``path=``, default intent) equals the record's (Intent)
    recall      share of the record's keywords (Keywords) found in the reply; fails at 0 or below min=
    length      the reply's words (``unit=chars`` for characters) within ``min=`` and ``max=``
    latency     objective: send → end of reply, at most ``max_ms=``
    ttft        objective: time to first chunk, at most ``max_ms=``

Service-level objectives as vLLM's benchmark writes them (``--slo ttft:800 --slo tpot:50 --slo
e2e:5000``, ms) are objectives too (:func:`slo_objectives`): a reply that misses one is kept out of
goodput, and each SLO's misses are counted as a metric's (docs/metrics.md)::

    ttft        time to first chunk, at most MS   (the same as ``--metric ttft:max_ms=MS``)
    tpot        time per output token: (E2E - TTFT) / (output tokens - 1), at most MS
    e2e         send → end of reply, at most MS   (``--metric latency:max_ms=MS,name=e2e``)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ConfigurationError, MetricFailure, WsLocustError
from .stats.aggregates import time_per_output_token_ms
from .values import BadValue, count, flag, fraction, milliseconds
from .wire.protocols.json_messages import get_path
from .wire.reply import Reply

__all__ = [
    "METRIC_BUILDERS",
    "SLO_METRICS",
    "Metric",
    "MetricsCheck",
    "contains",
    "contains_all",
    "contains_any",
    "exact_match",
    "intent_accuracy",
    "latency_objective",
    "length_bounds",
    "parse_metric",
    "parse_slo",
    "reference_recall",
    "regex_match",
    "slo_objectives",
    "tpot_objective",
    "ttft_objective",
    "valid_json",
]

_log = logging.getLogger(__name__)

Record = Mapping[str, Any]
ScoreFunction = Callable[[Record, Reply], float | None]
FailureCondition = Callable[[Record, Reply, float], bool]


@dataclass(frozen=True)
class Metric:
    """A named score of every reply.

    Args:
        name: shown in statistics and failure messages.
        function: ``(record, reply) -> score``; None when the metric does not apply to the record.
        failure_condition: ``(record, reply, score) -> bool``; True rejects the reply. None never does.
        fails_request: a rejected reply is a failed request (True), or only misses goodput (False,
            for objectives such as latency targets).
    """

    name: str
    function: ScoreFunction
    failure_condition: FailureCondition | None = None
    fails_request: bool = True


def _below(minimum: float) -> FailureCondition:
    return lambda _record, _reply, score: score < minimum


def _above(maximum: float) -> FailureCondition:
    return lambda _record, _reply, score: score > maximum


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()


def _field(record: Record, name: str | None) -> Any:
    """A record's field, or None when absent or blank (CSV datasets give "" for an empty cell)."""
    value = record.get(name) if name else None
    return None if value is None or value == "" else value


def _compile(pattern: str, metric: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        raise ConfigurationError(f"metric {metric}: bad pattern {pattern!r}: {error}") from None


def _items(value: Any) -> list[str]:
    """A record's list field as strings; ``a;b`` strings (CSV datasets) are split."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    if isinstance(value, Iterable):
        return [str(item) for item in value]
    return [str(value)]


def exact_match(field: str = "Answer", *, case_sensitive: bool = False, name: str = "exact") -> Metric:
    """1.0 when the reply equals the record's ``field`` (surrounding spaces ignored), else 0.0; fails at 0."""

    def score(record: Record, reply: Reply) -> float | None:
        if _field(record, field) is None:
            return None
        expected = _fold(str(record[field]).strip(), case_sensitive)
        return float(_fold(reply.text.strip(), case_sensitive) == expected)

    return Metric(name, score, _below(1.0))


def contains(
    text: str | None = None, *, field: str | None = None, case_sensitive: bool = False, name: str = "contains"
) -> Metric:
    """1.0 when the reply contains ``text`` (or the record's ``field``), else 0.0; fails at 0."""
    if (text is None) == (field is None):
        raise ConfigurationError("metric contains: give text= or field=, not both")

    def score(record: Record, reply: Reply) -> float | None:
        needle = text if text is not None else _field(record, field)
        if needle is None:
            return None
        return float(_fold(str(needle), case_sensitive) in _fold(reply.text, case_sensitive))

    return Metric(name, score, _below(1.0))


def _keyword_share(field: str, case_sensitive: bool) -> Callable[[Record, Reply], tuple[int, int] | None]:
    def found(record: Record, reply: Reply) -> tuple[int, int] | None:
        keywords = _items(record.get(field))
        if not keywords:
            return None
        text = _fold(reply.text, case_sensitive)
        return sum(_fold(keyword, case_sensitive) in text for keyword in keywords), len(keywords)

    return found


def contains_all(
    field: str = "Keywords", *, case_sensitive: bool = False, name: str = "contains_all"
) -> Metric:
    """1.0 when every item of the record's list ``field`` is in the reply, else 0.0; fails at 0."""
    found = _keyword_share(field, case_sensitive)

    def score(record: Record, reply: Reply) -> float | None:
        share = found(record, reply)
        return None if share is None else float(share[0] == share[1])

    return Metric(name, score, _below(1.0))


def contains_any(
    field: str = "Keywords", *, case_sensitive: bool = False, name: str = "contains_any"
) -> Metric:
    """1.0 when any item of the record's list ``field`` is in the reply, else 0.0; fails at 0."""
    found = _keyword_share(field, case_sensitive)

    def score(record: Record, reply: Reply) -> float | None:
        share = found(record, reply)
        return None if share is None else float(share[0] > 0)

    return Metric(name, score, _below(1.0))


def reference_recall(
    field: str = "Keywords",
    *,
    minimum: float | None = None,
    case_sensitive: bool = False,
    name: str = "recall",
) -> Metric:
    """Share of the record's keywords found in the reply (0..1).

    Fails at 0 (no keyword at all), or below ``minimum`` when given.
    """
    found = _keyword_share(field, case_sensitive)

    def score(record: Record, reply: Reply) -> float | None:
        share = found(record, reply)
        return None if share is None else share[0] / share[1]

    condition = _below(minimum) if minimum is not None else (lambda _record, _reply, value: value == 0.0)
    return Metric(name, score, condition)


def regex_match(pattern: str, *, name: str = "regex") -> Metric:
    """1.0 when the reply matches the regular expression (``re.search``), else 0.0; fails at 0."""
    compiled = _compile(pattern, "regex")
    return Metric(name, lambda _record, reply: float(compiled.search(reply.text) is not None), _below(1.0))


def valid_json(required_keys: Sequence[str] = (), *, name: str = "json") -> Metric:
    """1.0 when the reply is JSON (an object holding ``required_keys``, when given), else 0.0; fails at 0."""

    def score(_record: Record, reply: Reply) -> float:
        try:
            document = json.loads(reply.text)
        except ValueError:
            return 0.0
        if required_keys:
            return float(isinstance(document, dict) and all(key in document for key in required_keys))
        return 1.0

    return Metric(name, score, _below(1.0))


def intent_accuracy(
    expected_field: str = "Intent",
    *,
    path: str | None = None,
    pattern: str | None = None,
    name: str = "intent",
) -> Metric:
    """1.0 when the bot's intent equals the record's ``expected_field`` (case-blind), else 0.0; fails at 0.

    The bot's intent is read from the reply's final message at ``path`` (by default ``intent``, then
    ``metadata.intent``, as OpenAI Realtime responses carry it), or, with ``pattern``, from the reply
    text as the regular expression's first group. A reply whose final message names no intent (and
    no ``pattern`` is given) is not scored: the protocol cannot tell it.
    """
    compiled = _compile(pattern, "intent") if pattern else None
    paths = (path,) if path else ("intent", "metadata.intent")

    def score(record: Record, reply: Reply) -> float | None:
        expected = _field(record, expected_field)
        if expected is None:
            return None
        if compiled is not None:
            match = compiled.search(reply.text)
            found = match.group(1) if match and match.groups() else None
        else:
            meta = dict(reply.meta)
            found = next((value for value in (get_path(meta, p) for p in paths) if value is not None), None)
            if found is None:
                return None
        return float(found is not None and str(found).casefold() == str(expected).casefold())

    return Metric(name, score, _below(1.0))


def length_bounds(
    minimum: int | None = None, maximum: int | None = None, *, unit: str = "words", name: str = "length"
) -> Metric:
    """The reply's length in ``unit`` (words or chars); fails outside ``minimum``..``maximum``."""
    if unit not in ("words", "chars"):
        raise ConfigurationError(f"metric length: unit must be words or chars, got {unit!r}")

    def score(_record: Record, reply: Reply) -> float:
        return float(len(reply.text.split()) if unit == "words" else len(reply.text))

    def outside(_record: Record, _reply: Reply, value: float) -> bool:
        return (minimum is not None and value < minimum) or (maximum is not None and value > maximum)

    return Metric(name, score, outside)


def latency_objective(max_ms: float, *, name: str = "latency") -> Metric:
    """Objective: send → end of reply in ms, at most ``max_ms`` (a miss only costs goodput)."""
    return Metric(name, lambda _record, reply: reply.total_time_ms, _above(max_ms), fails_request=False)


def ttft_objective(max_ms: float, *, name: str = "ttft") -> Metric:
    """Objective: time to first chunk in ms, at most ``max_ms`` (a miss only costs goodput)."""

    def score(_record: Record, reply: Reply) -> float | None:
        return reply.time_to_first_chunk_ms

    return Metric(name, score, _above(max_ms), fails_request=False)


def tpot_objective(max_ms: float, count_tokens: Callable[[Reply], int], *, name: str = "tpot") -> Metric:
    """Objective: time per output token in ms, ``(E2E - TTFT) / (tokens - 1)``, at most ``max_ms``.

    Args:
        max_ms: the most a reply's time per output token may be.
        count_tokens: how the reply's output tokens are counted (as the statistics count them).
        name: the metric's name.
    """

    def score(_record: Record, reply: Reply) -> float | None:
        return time_per_output_token_ms(reply, count_tokens(reply))

    return Metric(name, score, _above(max_ms), fails_request=False)


SLO_METRICS: dict[str, str] = {
    "ttft": "time to first chunk",
    "tpot": "time per output token",
    "e2e": "send → end of reply",
}
"""The figures ``--slo`` limits, as vLLM's benchmark names them (``e2e`` is its ``e2el``)."""

_SLO_FORM = f"METRIC:MS with METRIC one of {', '.join(SLO_METRICS)} and MS a number of ms above 0"


def parse_slo(value: object, name: str = "--slo") -> tuple[str, float]:
    """Parse one SLO, ``METRIC:MS`` (``ttft:800``), into its metric and its limit in ms.

    Raises:
        BadValue: not ``METRIC:MS``, an unknown metric, or a limit that is not a finite number above 0.
    """
    text = str(value)
    metric, colon, limit = text.partition(":")
    metric = metric.strip().lower()
    if not colon or metric not in SLO_METRICS or not limit.strip():
        raise BadValue(name, value, _SLO_FORM)
    try:
        return metric, milliseconds(limit, "", positive=True)
    except BadValue:
        raise BadValue(name, value, _SLO_FORM) from None


def slo_objectives(specs: Sequence[object], count_tokens: Callable[[Reply], int]) -> list[Metric]:
    """The objectives of ``--slo`` values, each named for its metric (``ttft``, ``tpot``, ``e2e``).

    Args:
        specs: the ``--slo`` values, ``METRIC:MS`` each.
        count_tokens: how output tokens are counted (``--tokens``), for ``tpot``.

    Raises:
        ConfigurationError: a value :func:`parse_slo` refuses, or a metric given twice (names ``--slo``).
    """
    limits: dict[str, float] = {}
    for spec in specs:
        metric, limit_ms = parse_slo(spec)
        if metric in limits:
            raise ConfigurationError(f"--slo {metric} is given twice: give each metric one limit")
        limits[metric] = limit_ms
    builders: dict[str, Callable[[float], Metric]] = {
        "ttft": lambda limit: ttft_objective(limit, name="ttft"),
        "tpot": lambda limit: tpot_objective(limit, count_tokens, name="tpot"),
        "e2e": lambda limit: latency_objective(limit, name="e2e"),
    }
    return [builders[metric](limit) for metric, limit in limits.items()]


def _max_ms(value: str) -> float:
    return milliseconds(value, "max_ms", positive=True)


def _build(kind: str, settings: dict[str, str]) -> Metric:
    take = settings.pop
    case = flag(take("case", "false"), "case")
    label = take("name", kind)
    if kind == "exact":
        metric = exact_match(take("field", "Answer"), case_sensitive=case, name=label)
    elif kind == "contains":
        metric = contains(take("text", None), field=take("field", None), case_sensitive=case, name=label)
    elif kind == "contains_all":
        metric = contains_all(take("field", "Keywords"), case_sensitive=case, name=label)
    elif kind == "contains_any":
        metric = contains_any(take("field", "Keywords"), case_sensitive=case, name=label)
    elif kind == "recall":
        minimum = take("min", None)
        metric = reference_recall(
            take("field", "Keywords"),
            minimum=fraction(minimum, "min") if minimum is not None else None,
            case_sensitive=case,
            name=label,
        )
    elif kind == "regex":
        metric = regex_match(take("pattern"), name=label)
    elif kind == "json":
        metric = valid_json([key for key in take("keys", "").split(";") if key], name=label)
    elif kind == "intent":
        metric = intent_accuracy(
            take("field", "Intent"), path=take("path", None), pattern=take("pattern", None), name=label
        )
    elif kind == "length":
        low, high = take("min", None), take("max", None)
        metric = length_bounds(
            count(low, "min") if low is not None else None,
            count(high, "max") if high is not None else None,
            unit=take("unit", "words"),
            name=label,
        )
    elif kind == "latency":
        metric = latency_objective(_max_ms(take("max_ms")), name=label)
    elif kind == "ttft":
        metric = ttft_objective(_max_ms(take("max_ms")), name=label)
    else:
        raise ConfigurationError(f"unknown metric {kind!r}; choose one of: {', '.join(METRIC_BUILDERS)}")
    if settings:
        raise ConfigurationError(f"metric {kind}: unknown setting(s) {', '.join(sorted(settings))}")
    return metric


METRIC_BUILDERS = (
    "exact",
    "contains",
    "contains_all",
    "contains_any",
    "regex",
    "json",
    "intent",
    "recall",
    "length",
    "latency",
    "ttft",
)
"""The metric kinds :func:`parse_metric` knows."""


def parse_metric(spec: str) -> Metric:
    """Build a built-in metric from ``KIND[:key=value,...]`` (``regex:pattern=`` takes the rest).

    Examples: ``intent``, ``recall:min=0.5``, ``contains:text=refund,case=true``, ``latency:max_ms=2000``,
    ``regex:name=has_order,pattern=NW-\\d{5}``.

    Raises:
        ConfigurationError: unknown kind or setting, a missing or malformed value (names the spec).
    """
    kind, _, rest = spec.strip().partition(":")
    settings: dict[str, str] = {}
    while rest:
        key, equals, value = rest.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ConfigurationError(f"--metric {spec!r}: settings are key=value, comma-separated")
        if key == "pattern":
            settings[key] = value
            break
        value, _, rest = value.partition(",")
        settings[key] = value.strip()
    try:
        return _build(kind.strip(), settings)
    except KeyError as missing:
        raise ConfigurationError(f"--metric {spec!r}: needs {missing.args[0]}=") from None
    except BadValue as error:
        raise ConfigurationError(f"--metric {spec!r}: {error}") from None


class MetricsCheck:
    """A client check that scores each successful reply with every metric.

    It fills ``reply.scores``, ``reply.missed`` and ``reply.metric_errors``, and returns a
    :class:`MetricFailure` naming each failed metric and its score when any metric that fails requests
    rejected the reply.

    Args:
        metrics: the metrics, scored in order.
    """

    def __init__(self, metrics: Sequence[Metric]) -> None:
        names = [metric.name for metric in metrics]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"metric names must be unique: {', '.join(names)}")
        self.metrics = list(metrics)
        self._logged: set[str] = set()

    def __call__(self, reply: Reply) -> WsLocustError | None:
        record = reply.record
        failures: list[str] = []
        # Each starts as the empty value every reply shares: the reply takes its own (with what an
        # earlier check set), which this fills.
        scores: dict[str, float] = dict(reply.scores)
        missed: list[str] = list(reply.missed)
        errors: dict[str, str] = dict(reply.metric_errors)
        reply.scores, reply.missed, reply.metric_errors = scores, missed, errors
        for metric in self.metrics:
            try:
                score = metric.function(record, reply)
                if score is None:
                    continue
                score = float(score)
                rejected = metric.failure_condition is not None and metric.failure_condition(
                    record, reply, score
                )
            except Exception as error:  # a metric's bug must never stop the user
                errors[metric.name] = f"{error.__class__.__name__}: {error}"
                if metric.name not in self._logged:
                    self._logged.add(metric.name)
                    _log.error(
                        "metric %s raised %r (counted as a metric error; logged once)", metric.name, error
                    )
                continue
            scores[metric.name] = score
            if rejected:
                missed.append(metric.name)
                if metric.fails_request:
                    failures.append(f"{metric.name}={score:.3g}")
        if failures:
            return MetricFailure("metric failed: " + ", ".join(failures))
        return None
