"""Notebook-free analysis of Locust's CSV output: summarize, plot, compare, report.

Run ``python -m analysis --help`` (or ``wslocust-analysis --help`` once installed). The package
reads only CSV files; it never imports wslocust. The CSV contract is in :mod:`analysis.load`.
"""

from __future__ import annotations

__all__: list[str] = []
