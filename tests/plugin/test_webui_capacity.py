"""The web UI's charts data carries a running capacity search's verdict and levels (the Chatbot tab)."""

from __future__ import annotations

from locust.stats import RequestStats

from types import SimpleNamespace

from wslocust.load.shapes.capacity import CapacityShape
from wslocust.plugin.webui import chart_data
from wslocust.stats import ChatStats


def recorder_with(shape: object) -> SimpleNamespace:
    return SimpleNamespace(
        environment=SimpleNamespace(shape_class=shape, stats=RequestStats()),
        history_rows=[],
        started_at=None,
        stats=ChatStats(),
    )


def test_the_charts_data_carries_the_capacity_searchs_verdict() -> None:
    shape = CapacityShape(over="users", start=2, slos=("e2e:500",))
    shape.search = None
    data = chart_data(recorder_with(shape))  # type: ignore[arg-type]
    assert data["capacity"] == shape.capacity_section()
    assert data["capacity"]["message"].startswith("No capacity found")
    assert data["capacity"]["levels"] == []


def test_without_a_capacity_search_the_charts_data_has_none() -> None:
    assert chart_data(recorder_with(None))["capacity"] is None  # type: ignore[arg-type]
