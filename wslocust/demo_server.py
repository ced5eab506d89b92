"""Kept for scripts written against earlier releases: the demo bot lives in :mod:`wslocust.demo.server`
(``python -m wslocust.demo``; ``python -m wslocust.demo_server`` still works)."""

from __future__ import annotations

import sys

from .demo.process import DemoProcess
from .demo.server import DEFAULT_DATASET, PROTOCOL_CHOICES, Behaviour, Knowledge, main, run_server

__all__ = [
    "DEFAULT_DATASET",
    "PROTOCOL_CHOICES",
    "Behaviour",
    "DemoProcess",
    "Knowledge",
    "main",
    "run_server",
]

if __name__ == "__main__":
    sys.exit(main())
