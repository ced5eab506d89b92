"""The shipped Grafana dashboard reads only series wslocust exports."""

from __future__ import annotations

import json
import re

from wslocust.outputs.prometheus import SERIES

from ..conftest import ROOT

DASHBOARD = ROOT / "docs" / "grafana" / "wslocust.json"
_SERIES_NAME = re.compile(r"\bwslocust_[a-z0-9_]+")
_HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")


def exported(name: str) -> bool:
    """Whether ``name`` is a series of SERIES, or a part of one of its histograms."""
    return name in SERIES or any(
        name.endswith(part)
        and name[: -len(part)] in SERIES
        and SERIES[name[: -len(part)]].startswith("histogram")
        for part in _HISTOGRAM_PARTS
    )


def test_every_expression_of_every_panel_names_only_exported_series() -> None:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    expressions = [target["expr"] for panel in panels for target in panel["targets"]]
    assert expressions
    for expression in expressions:
        names = _SERIES_NAME.findall(expression)
        assert names, expression
        assert all(exported(name) for name in names), expression


def test_every_exported_series_has_a_panel() -> None:
    text = DASHBOARD.read_text()
    missing = [name for name in SERIES if name not in text]
    assert not missing
