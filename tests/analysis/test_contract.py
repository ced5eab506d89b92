"""analysis/ reads exactly what wslocust writes: the chat CSVs' columns and keys (generated from the
table of figures, wslocust/outputs/figures.py), the JSON summary's sections, and the error kinds.

analysis/ imports no wslocust; these tests import both.
"""

from __future__ import annotations

import inspect

import pytest

import wslocust.errors
from analysis.classify import WSLOCUST_KINDS, ErrorKind, classify_kind
from analysis.histograms import FIELDS
from analysis.load import CHAT_HISTOGRAMS_SUFFIX, CHAT_HISTORY_SUFFIX, COLUMNS, METRIC_PARTS, SUMMARY_SECTIONS
from wslocust.outputs import HISTORY_COLUMNS, STATS_COLUMNS, metric_columns
from wslocust.outputs.csv_files import HISTOGRAMS_SUFFIX, HISTORY_SUFFIX
from wslocust.outputs.figures import CHAT_HISTORY, CHAT_STATS, FIGURES, summary_paths
from wslocust.outputs.histograms import HISTOGRAMS

WSLOCUST_ERRORS = [
    error
    for _, error in inspect.getmembers(wslocust.errors, inspect.isclass)
    if issubclass(error, wslocust.errors.WsLocustError)
]


@pytest.mark.parametrize(("file", "header"), [(CHAT_STATS, STATS_COLUMNS), (CHAT_HISTORY, HISTORY_COLUMNS)])
def test_analysis_reads_the_chat_columns_wslocust_writes_in_their_order(file: str, header: list[str]) -> None:
    assert list(COLUMNS[file]) == header


@pytest.mark.parametrize("file", [CHAT_STATS, CHAT_HISTORY])
def test_analysis_keys_each_chat_column_by_its_figures_one_key(file: str) -> None:
    """The key analysis gives a column is the figure's key: the web UI's too."""
    keys = {figure.title: figure.key for figure in FIGURES if file in figure.files}
    assert COLUMNS[file] == keys


def test_analysis_reads_every_metric_column_wslocust_writes() -> None:
    assert [f"intent {part}" for part in METRIC_PARTS] == metric_columns(["intent"])


def test_analysis_reads_the_histograms_file_wslocust_writes_and_its_fields() -> None:
    assert (CHAT_HISTORY_SUFFIX, CHAT_HISTOGRAMS_SUFFIX) == (HISTORY_SUFFIX, HISTOGRAMS_SUFFIX)
    assert tuple(HISTOGRAMS) == FIELDS


def test_the_summary_sections_analysis_reads_are_in_the_table_of_what_wslocust_writes() -> None:
    assert set(SUMMARY_SECTIONS) <= summary_paths()


def test_every_error_kind_wslocust_writes_is_one_analysis_knows_with_its_class() -> None:
    assert {error.kind: error.__name__ for error in WSLOCUST_ERRORS} == WSLOCUST_KINDS


def test_no_error_kind_analysis_expects_is_missing_from_wslocust() -> None:
    for kind, name in WSLOCUST_KINDS.items():
        assert getattr(wslocust.errors, name).kind == kind, name


@pytest.mark.parametrize("error", [e for e in WSLOCUST_ERRORS if e is not wslocust.errors.WsLocustError])
def test_every_wslocust_error_but_an_unreadable_reply_is_the_clients_or_the_servers(error: type) -> None:
    """ProtocolError stays unexpected on purpose (docs/analysis.md): the bot or the test broke it."""
    expected = ErrorKind.UNEXPECTED if error is wslocust.errors.ProtocolError else ErrorKind.SERVER
    if issubclass(error, wslocust.errors.ConfigurationError | wslocust.errors.OpenFileLimitReached):
        expected = ErrorKind.CLIENT  # the test's own fault, or its load generator's limit
    assert classify_kind(error.kind, "message") == expected
