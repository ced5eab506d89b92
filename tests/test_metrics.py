"""Response-quality metrics: the built-ins, parse_metric and MetricsCheck, on replies built by hand."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from wslocust.errors import ConfigurationError, MetricFailure, ReplyError
from wslocust.metrics import (
    METRIC_BUILDERS,
    Metric,
    MetricsCheck,
    contains,
    contains_all,
    contains_any,
    exact_match,
    intent_accuracy,
    latency_objective,
    length_bounds,
    parse_metric,
    reference_recall,
    regex_match,
    ttft_objective,
    valid_json,
)
from wslocust.wire.reply import Reply


def make_reply(
    text: str = "",
    record: Mapping[str, Any] | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
    total_time_ms: float = 100.0,
    time_to_first_chunk_ms: float | None = 20.0,
) -> Reply:
    return Reply(
        prompt="q",
        name="ask",
        record=dict(record or {}),
        text=text,
        chunks=1,
        meta=dict(meta or {}),
        total_time_ms=total_time_ms,
        time_to_first_chunk_ms=time_to_first_chunk_ms,
        chunk_times_ms=[] if time_to_first_chunk_ms is None else [time_to_first_chunk_ms],
        started_at=1_700_000_000.0,
    )


def score(metric: Metric, text: str = "", record: Mapping[str, Any] | None = None, **kw: Any) -> float | None:
    reply = make_reply(text, record, **kw)
    return metric.function(reply.record, reply)


def fails(metric: Metric, text: str = "", record: Mapping[str, Any] | None = None, **kw: Any) -> bool:
    reply = make_reply(text, record, **kw)
    value = metric.function(reply.record, reply)
    assert value is not None
    assert metric.failure_condition is not None
    return metric.failure_condition(reply.record, reply, value)


# --- exact ---------------------------------------------------------------------------------------


def test_exact_scores_one_when_reply_equals_answer_ignoring_case_and_surrounding_spaces() -> None:
    metric = exact_match()

    assert score(metric, "  refund ISSUED \n", {"Answer": "Refund issued"}) == 1.0
    assert not fails(metric, "  refund ISSUED \n", {"Answer": "Refund issued"})


def test_exact_scores_zero_and_fails_when_reply_differs() -> None:
    metric = exact_match()

    assert score(metric, "Refund denied", {"Answer": "Refund issued"}) == 0.0
    assert fails(metric, "Refund denied", {"Answer": "Refund issued"})


def test_exact_case_sensitive_rejects_different_case() -> None:
    assert score(exact_match(case_sensitive=True), "refund", {"Answer": "Refund"}) == 0.0


def test_exact_reads_another_field_when_given() -> None:
    assert score(exact_match("Expected"), "yes", {"Expected": "YES", "Answer": "no"}) == 1.0


def test_exact_does_not_score_a_record_without_the_field() -> None:
    assert score(exact_match(), "anything", {"Question": "q"}) is None


def test_exact_fails_requests_by_default() -> None:
    assert exact_match().fails_request is True


# --- contains ------------------------------------------------------------------------------------


def test_contains_text_scores_one_when_reply_contains_it_case_blind() -> None:
    metric = contains("REFUND")

    assert score(metric, "Your refund is on its way") == 1.0
    assert score(metric, "No money back") == 0.0
    assert fails(metric, "No money back")


def test_contains_text_case_sensitive_rejects_different_case() -> None:
    assert score(contains("REFUND", case_sensitive=True), "your refund") == 0.0


def test_contains_field_reads_the_needle_from_the_record() -> None:
    metric = contains(field="Order")

    assert score(metric, "Order NW-12345 shipped", {"Order": "nw-12345"}) == 1.0
    assert score(metric, "Order NW-99999 shipped", {"Order": "nw-12345"}) == 0.0


def test_contains_field_does_not_score_a_record_without_the_field() -> None:
    assert score(contains(field="Order"), "text", {}) is None


def test_contains_with_both_text_and_field_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        contains("a", field="b")


def test_contains_with_neither_text_nor_field_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        contains()


# --- contains_all / contains_any ----------------------------------------------------------------


def test_contains_all_scores_one_only_when_every_keyword_of_a_list_is_present() -> None:
    metric = contains_all()

    assert score(metric, "Refund in 5 DAYS", {"Keywords": ["refund", "days"]}) == 1.0
    assert score(metric, "Refund soon", {"Keywords": ["refund", "days"]}) == 0.0
    assert fails(metric, "Refund soon", {"Keywords": ["refund", "days"]})


def test_contains_all_splits_a_semicolon_string_field_as_csv_datasets_give() -> None:
    metric = contains_all()

    assert score(metric, "refund in 5 days", {"Keywords": "refund; days"}) == 1.0
    assert score(metric, "refund soon", {"Keywords": "refund;days"}) == 0.0


def test_contains_any_scores_one_when_any_keyword_is_present() -> None:
    metric = contains_any()

    assert score(metric, "we sent the refund", {"Keywords": ["refund", "days"]}) == 1.0
    assert score(metric, "we sent the refund", {"Keywords": "refund;days"}) == 1.0
    assert score(metric, "no luck", {"Keywords": "refund;days"}) == 0.0
    assert fails(metric, "no luck", {"Keywords": "refund;days"})


def test_contains_all_and_any_do_not_score_records_without_keywords() -> None:
    for metric in (contains_all(), contains_any()):
        assert score(metric, "text", {}) is None
        assert score(metric, "text", {"Keywords": ""}) is None
        assert score(metric, "text", {"Keywords": []}) is None


def test_contains_all_reads_another_field_when_given() -> None:
    assert score(contains_all("Must"), "alpha beta", {"Must": "alpha;beta", "Keywords": "zeta"}) == 1.0


# --- recall --------------------------------------------------------------------------------------


def test_recall_is_the_share_of_keywords_found() -> None:
    metric = reference_recall()

    assert score(metric, "refund in days", {"Keywords": ["refund", "days", "bank", "card"]}) == 0.5
    assert score(metric, "refund", {"Keywords": "refund;days;bank"}) == pytest.approx(1 / 3)


def test_recall_fails_at_zero_only_by_default() -> None:
    metric = reference_recall()

    assert fails(metric, "nothing", {"Keywords": "refund;days"})
    assert not fails(metric, "refund", {"Keywords": "refund;days;bank;card"})


def test_recall_fails_below_the_minimum_when_given() -> None:
    metric = reference_recall(minimum=0.5)

    assert fails(metric, "refund", {"Keywords": "refund;days;bank"})
    assert not fails(metric, "refund days", {"Keywords": "refund;days;bank;card"})


def test_recall_does_not_score_records_without_keywords() -> None:
    assert score(reference_recall(), "text", {"Answer": "x"}) is None


# --- regex ---------------------------------------------------------------------------------------


def test_regex_scores_one_when_the_reply_matches_anywhere() -> None:
    metric = regex_match(r"NW-\d{5}")

    assert score(metric, "your order NW-12345 shipped") == 1.0
    assert score(metric, "your order NW-12 shipped") == 0.0
    assert fails(metric, "your order NW-12 shipped")


def test_regex_with_a_bad_pattern_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bad pattern"):
        regex_match("(unclosed")


# --- json ----------------------------------------------------------------------------------------


def test_json_scores_one_for_valid_json_and_zero_for_text() -> None:
    metric = valid_json()

    assert score(metric, '{"answer": 1}') == 1.0
    assert score(metric, "[1, 2]") == 1.0
    assert score(metric, "not json {") == 0.0
    assert fails(metric, "not json {")


def test_json_with_required_keys_needs_an_object_holding_them() -> None:
    metric = valid_json(["answer", "intent"])

    assert score(metric, '{"answer": 1, "intent": "x", "more": 2}') == 1.0
    assert score(metric, '{"answer": 1}') == 0.0
    assert score(metric, '["answer", "intent"]') == 0.0


# --- intent --------------------------------------------------------------------------------------


def test_intent_reads_the_intent_field_of_the_final_message_case_blind() -> None:
    metric = intent_accuracy()

    assert score(metric, "", {"Intent": "Billing"}, meta={"intent": "BILLING"}) == 1.0
    assert score(metric, "", {"Intent": "Billing"}, meta={"intent": "shipping"}) == 0.0
    assert fails(metric, "", {"Intent": "Billing"}, meta={"intent": "shipping"})


def test_intent_falls_back_to_metadata_intent() -> None:
    metric = intent_accuracy()

    assert score(metric, "", {"Intent": "billing"}, meta={"metadata": {"intent": "billing"}}) == 1.0


def test_intent_prefers_the_top_level_intent_over_metadata_intent() -> None:
    meta = {"intent": "shipping", "metadata": {"intent": "billing"}}

    assert score(intent_accuracy(), "", {"Intent": "billing"}, meta=meta) == 0.0


def test_intent_does_not_score_a_reply_that_names_no_intent() -> None:
    assert score(intent_accuracy(), "hello", {"Intent": "billing"}, meta={"type": "done"}) is None


def test_intent_does_not_score_a_record_without_an_expected_intent() -> None:
    assert score(intent_accuracy(), "", {}, meta={"intent": "billing"}) is None


def test_intent_path_reads_another_field_of_the_final_message() -> None:
    metric = intent_accuracy(path="nlu.label")

    assert score(metric, "", {"Intent": "billing"}, meta={"nlu": {"label": "Billing"}}) == 1.0


def test_intent_pattern_reads_the_intent_from_the_reply_text() -> None:
    metric = intent_accuracy(pattern=r"\[intent:(\w+)\]")

    assert score(metric, "ok [intent:BILLING] done", {"Intent": "billing"}) == 1.0
    assert score(metric, "ok [intent:shipping] done", {"Intent": "billing"}) == 0.0


def test_intent_pattern_that_does_not_match_scores_zero() -> None:
    assert score(intent_accuracy(pattern=r"\[intent:(\w+)\]"), "no tag", {"Intent": "billing"}) == 0.0


# --- length --------------------------------------------------------------------------------------


def test_length_counts_words_by_default_and_fails_outside_bounds() -> None:
    metric = length_bounds(2, 4)

    assert score(metric, "one two  three") == 3.0
    assert not fails(metric, "one two three")
    assert fails(metric, "one")
    assert fails(metric, "one two three four five")


def test_length_in_chars_counts_characters() -> None:
    metric = length_bounds(maximum=5, unit="chars")

    assert score(metric, "abc de") == 6.0
    assert fails(metric, "abc de")
    assert not fails(metric, "abcde")


def test_length_with_only_a_minimum_has_no_upper_bound() -> None:
    assert not fails(length_bounds(minimum=1), "word " * 1000)


def test_length_with_an_unknown_unit_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="bytes"):
        length_bounds(unit="bytes")


# --- objectives ----------------------------------------------------------------------------------


def test_latency_objective_scores_total_time_and_misses_above_max_without_failing_requests() -> None:
    metric = latency_objective(500)

    assert metric.fails_request is False
    assert score(metric, total_time_ms=420.0) == 420.0
    assert not fails(metric, total_time_ms=500.0)
    assert fails(metric, total_time_ms=500.1)


def test_ttft_objective_scores_time_to_first_chunk_and_misses_above_max_without_failing_requests() -> None:
    metric = ttft_objective(100)

    assert metric.fails_request is False
    assert score(metric, time_to_first_chunk_ms=80.0) == 80.0
    assert fails(metric, time_to_first_chunk_ms=150.0)


def test_ttft_objective_does_not_score_a_reply_without_chunks() -> None:
    assert score(ttft_objective(100), time_to_first_chunk_ms=None) is None


# --- parse_metric --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "text", "record", "meta", "expected"),
    [
        ("exact", "Yes", {"Answer": "yes"}, {}, 1.0),
        ("contains:text=refund", "a REFUND", {}, {}, 1.0),
        ("contains:field=Order", "order nw-1", {"Order": "NW-1"}, {}, 1.0),
        ("contains_all", "a b", {"Keywords": "a;b"}, {}, 1.0),
        ("contains_any", "a", {"Keywords": "a;b"}, {}, 1.0),
        ("regex:pattern=\\d+", "42", {}, {}, 1.0),
        ("json", "{}", {}, {}, 1.0),
        ("intent", "", {"Intent": "x"}, {"intent": "X"}, 1.0),
        ("recall", "a", {"Keywords": "a;b;c;d"}, {}, 0.25),
        ("length", "one two", {}, {}, 2.0),
        ("latency:max_ms=100", "", {}, {}, 100.0),
        ("ttft:max_ms=100", "", {}, {}, 20.0),
    ],
)
def test_parse_metric_builds_every_kind(
    spec: str, text: str, record: dict[str, Any], meta: dict[str, Any], expected: float
) -> None:
    metric = parse_metric(spec)

    assert metric.name == spec.partition(":")[0]
    assert score(metric, text, record, meta=meta) == expected


def test_parse_metric_knows_exactly_the_listed_kinds() -> None:
    specs = {"latency": "latency:max_ms=1", "ttft": "ttft:max_ms=1", "contains": "contains:text=a"}
    specs["regex"] = "regex:pattern=a"

    built = {kind: parse_metric(specs.get(kind, kind)) for kind in METRIC_BUILDERS}

    assert {kind: metric.name for kind, metric in built.items()} == {kind: kind for kind in METRIC_BUILDERS}


def test_parse_metric_name_setting_renames_the_metric() -> None:
    assert parse_metric("recall:name=kw_recall,min=0.5").name == "kw_recall"


def test_parse_metric_case_setting_makes_matching_case_sensitive() -> None:
    metric = parse_metric("contains:text=Refund,case=true")

    assert score(metric, "your Refund") == 1.0
    assert score(metric, "your refund") == 0.0


def test_parse_metric_recall_min_sets_the_minimum() -> None:
    metric = parse_metric("recall:min=0.5")

    assert fails(metric, "a", {"Keywords": "a;b;c"})
    assert not fails(metric, "a b", {"Keywords": "a;b;c"})


def test_parse_metric_field_setting_reads_another_field() -> None:
    assert score(parse_metric("exact:field=Expected"), "x", {"Expected": "X"}) == 1.0
    assert score(parse_metric("contains_all:field=Must"), "a b", {"Must": "a;b"}) == 1.0


def test_parse_metric_json_keys_are_semicolon_separated() -> None:
    metric = parse_metric("json:keys=answer;intent")

    assert score(metric, '{"answer": 1, "intent": 2}') == 1.0
    assert score(metric, '{"answer": 1}') == 0.0


def test_parse_metric_intent_path_and_pattern_settings() -> None:
    by_path = parse_metric("intent:path=nlu.label")
    by_pattern = parse_metric("intent:pattern=<(\\w+)>")

    assert score(by_path, "", {"Intent": "a"}, meta={"nlu": {"label": "A"}}) == 1.0
    assert score(by_pattern, "x <a> y", {"Intent": "a"}) == 1.0


def test_parse_metric_length_min_max_and_unit() -> None:
    metric = parse_metric("length:min=2,max=3,unit=chars")

    assert score(metric, "abcd") == 4.0
    assert fails(metric, "abcd")
    assert not fails(metric, "abc")


def test_parse_metric_objectives_read_max_ms_and_do_not_fail_requests() -> None:
    latency = parse_metric("latency:max_ms=2000")
    ttft = parse_metric("ttft:max_ms=250.5")

    assert latency.fails_request is False
    assert ttft.fails_request is False
    assert fails(latency, total_time_ms=2000.5)
    assert not fails(ttft, time_to_first_chunk_ms=250.5)


def test_parse_metric_regex_pattern_takes_the_rest_of_the_spec_with_commas_and_equals() -> None:
    metric = parse_metric("regex:name=has_order,pattern=^a=\\d{1,3},b$")

    assert metric.name == "has_order"
    assert score(metric, "a=12,b") == 1.0
    assert score(metric, "a=1234,b") == 0.0


def test_parse_metric_ignores_spaces_around_the_spec_and_keys() -> None:
    assert parse_metric("  recall: min=0.5 ").name == "recall"


def test_parse_metric_unknown_kind_raises_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="bogus"):
        parse_metric("bogus")


def test_parse_metric_unknown_setting_raises_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="colour"):
        parse_metric("exact:colour=red")


def test_parse_metric_latency_without_max_ms_raises_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="max_ms"):
        parse_metric("latency")


def test_parse_metric_regex_without_pattern_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="pattern"):
        parse_metric("regex")


@pytest.mark.parametrize(
    "spec",
    [
        "latency:max_ms=fast",
        "ttft:max_ms=",
        "recall:min=half",
        "length:max=3.5",
        "contains:text=a,case=maybe",
        "latency:max_ms=nan",
        "ttft:max_ms=-5",
        "ttft:max_ms=0",
        "recall:min=nan",
        "recall:min=1.5",
        "length:min=-1",
    ],
)
def test_parse_metric_malformed_value_raises_configuration_error_naming_the_spec(spec: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_metric(spec)

    assert spec in str(raised.value)


def test_parse_metric_setting_without_equals_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="key=value"):
        parse_metric("exact:field")


def test_parse_metric_regex_bad_pattern_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_metric("regex:pattern=(")


def test_parse_metric_intent_bad_pattern_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_metric("intent:pattern=(")


def test_parse_metric_contains_without_text_or_field_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_metric("contains")


def test_parse_metric_bad_length_unit_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        parse_metric("length:unit=pages")


# --- MetricsCheck --------------------------------------------------------------------------------


def test_metrics_check_fills_scores_and_returns_none_when_every_metric_passes() -> None:
    check = MetricsCheck([contains("refund"), reference_recall(), latency_objective(1000)])
    reply = make_reply("refund in 5 days", {"Keywords": "refund;days"}, total_time_ms=300.0)

    assert check(reply) is None
    assert reply.scores == {"contains": 1.0, "recall": 1.0, "latency": 300.0}
    assert reply.missed == []
    assert reply.metric_errors == {}
    assert reply.good


def test_metrics_check_returns_metric_failure_naming_each_failing_metric_and_score() -> None:
    check = MetricsCheck([contains("refund"), reference_recall(minimum=0.9), exact_match()])
    reply = make_reply("refund soon", {"Keywords": "refund;days", "Answer": "refund soon"})

    error = check(reply)

    assert isinstance(error, MetricFailure)
    assert error.kind == "metric_failure"
    assert "recall=0.5" in str(error)
    assert "contains" not in str(error)
    assert "exact" not in str(error)
    assert reply.missed == ["recall"]
    assert reply.scores == {"contains": 1.0, "recall": 0.5, "exact": 1.0}


def test_metrics_check_names_every_failing_metric() -> None:
    check = MetricsCheck([contains("refund"), valid_json()])

    error = check(make_reply("nope"))

    assert isinstance(error, MetricFailure)
    assert "contains=0" in str(error)
    assert "json=0" in str(error)


def test_metrics_check_objective_miss_is_in_missed_without_error_and_reply_is_not_good() -> None:
    check = MetricsCheck([contains("refund"), latency_objective(200), ttft_objective(10)])
    reply = make_reply("refund", total_time_ms=350.0, time_to_first_chunk_ms=5.0)

    error = check(reply)
    reply.error = error

    assert error is None
    assert reply.missed == ["latency"]
    assert reply.scores == {"contains": 1.0, "latency": 350.0, "ttft": 5.0}
    assert reply.ok
    assert not reply.good


def test_metrics_check_leaves_a_metric_returning_none_out_of_scores() -> None:
    check = MetricsCheck([exact_match(), contains("x")])
    reply = make_reply("x", {})

    assert check(reply) is None
    assert reply.scores == {"contains": 1.0}
    assert "exact" not in reply.missed


def _broken(_record: Mapping[str, Any], _reply: Reply) -> float:
    raise RuntimeError("metric bug")


def test_metrics_check_records_a_raising_metric_as_metric_error_and_still_scores_the_others() -> None:
    check = MetricsCheck([Metric("broken", _broken), contains("refund")])
    reply = make_reply("no")

    error = check(reply)

    assert reply.metric_errors == {"broken": "RuntimeError: metric bug"}
    assert reply.scores == {"contains": 0.0}
    assert isinstance(error, MetricFailure)
    assert "broken" not in str(error)


def test_metrics_check_raising_metric_alone_returns_no_error() -> None:
    check = MetricsCheck([Metric("broken", _broken)])
    reply = make_reply("text")

    assert check(reply) is None
    assert reply.scores == {}
    assert reply.missed == []
    assert "broken" in reply.metric_errors


def test_metrics_check_raising_failure_condition_counts_as_metric_error() -> None:
    def condition(_record: Mapping[str, Any], _reply: Reply, _score: float) -> bool:
        raise ValueError("condition bug")

    check = MetricsCheck([Metric("odd", lambda _record, _reply: 1.0, condition)])
    reply = make_reply("text")

    assert check(reply) is None
    assert reply.metric_errors == {"odd": "ValueError: condition bug"}
    assert "odd" not in reply.scores


def test_metrics_check_logs_a_raising_metric_once_however_many_replies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    check = MetricsCheck([Metric("broken", _broken), contains("a")])
    replies = [make_reply("a") for _ in range(50)]

    with caplog.at_level(logging.ERROR, logger="wslocust.metrics"):
        for reply in replies:
            check(reply)

    assert all("broken" in reply.metric_errors for reply in replies)
    assert all(reply.scores == {"contains": 1.0} for reply in replies)
    logged = [record for record in caplog.records if "broken" in record.getMessage()]
    assert len(logged) == 1


def test_metrics_check_fills_the_reply_s_own_scores_never_the_empty_ones_replies_share() -> None:
    """A new reply's scores, misses and errors are one shared empty value: scoring a reply gives it
    its own, and a reply built after it starts empty still."""
    check = MetricsCheck([Metric("broken", _broken), contains("refund"), latency_objective(10)])
    scored, untouched = make_reply("refund"), make_reply("refund")

    check(scored)
    fresh = Reply(prompt="q", name="ask")

    assert scored.scores == {"contains": 1.0, "latency": 100.0}
    assert scored.missed == ["latency"]
    assert scored.metric_errors == {"broken": "RuntimeError: metric bug"}
    for reply in (untouched, fresh):
        assert (dict(reply.scores), list(reply.missed), dict(reply.metric_errors)) == ({}, [], {})
    assert (dict(fresh.record), dict(fresh.meta)) == ({}, {})


def test_a_second_metrics_check_adds_to_what_the_first_set() -> None:
    reply = make_reply("refund", total_time_ms=300.0)

    MetricsCheck([contains("refund"), Metric("broken", _broken)])(reply)
    MetricsCheck([latency_objective(200)])(reply)

    assert reply.scores == {"contains": 1.0, "latency": 300.0}
    assert reply.missed == ["latency"]
    assert reply.metric_errors == {"broken": "RuntimeError: metric bug"}


def test_metrics_check_with_duplicate_metric_names_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unique"):
        MetricsCheck([contains("a"), contains("b")])


def test_metrics_check_accepts_same_kind_under_different_names() -> None:
    check = MetricsCheck([contains("a", name="has_a"), contains("b", name="has_b")])
    reply = make_reply("a")

    assert isinstance(check(reply), MetricFailure)
    assert reply.scores == {"has_a": 1.0, "has_b": 0.0}


def test_metrics_check_converts_integer_scores_to_float() -> None:
    check = MetricsCheck([Metric("words", lambda _record, reply: len(reply.text.split()))])
    reply = make_reply("a b c")

    check(reply)

    assert reply.scores == {"words": 3.0}
    assert isinstance(reply.scores["words"], float)


def test_metric_failure_is_a_reply_error_of_kind_metric_failure() -> None:
    error = MetricsCheck([contains("x")])(make_reply("y"))

    assert isinstance(error, MetricFailure)
    assert isinstance(error, ReplyError)
    assert error.kind == "metric_failure"


def test_a_blank_csv_cell_is_not_scored_by_field_metrics() -> None:
    """CSV datasets give "" for an empty cell: exact, contains and intent leave such records unscored."""
    from wslocust.metrics import contains, exact_match, intent_accuracy

    reply = Reply(prompt="q", name="n", text="anything", meta={"intent": "billing"})
    record = {"Answer": "", "Expected": "", "Intent": ""}
    assert exact_match("Answer").function(record, reply) is None
    assert contains(field="Expected").function(record, reply) is None
    assert intent_accuracy("Intent").function(record, reply) is None
