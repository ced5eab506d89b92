"""The analysis's one error: an input it cannot use."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(Exception):
    """An input that cannot be used; the message is one line that names the culprit."""
