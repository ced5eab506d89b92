"""The load-shape tests' fixtures."""

from __future__ import annotations

import pytest

from .support import FakeClock, fake_clock

__all__: list[str] = []


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock for the shapes' run time."""
    return fake_clock(monkeypatch)
