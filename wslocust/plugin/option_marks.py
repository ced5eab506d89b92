"""How an option joins Locust's parser: :func:`add_option`, with the marks Locust's web UI reads."""

from __future__ import annotations

from typing import Any

__all__ = ["add_option"]


def add_option(
    group: Any, *flags: str, include_in_web_ui: bool = True, is_secret: bool = False, **kwargs: Any
) -> None:
    """Add an option to a group, with the web-UI marks Locust's parser reads from its actions."""
    action = group.add_argument(*flags, **kwargs)
    action.include_in_web_ui = include_in_web_ui
    action.is_secret = is_secret
    action.is_required = False
    action.is_multiple = False
