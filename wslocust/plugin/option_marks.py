"""How an option joins Locust's parser: :func:`add_option`, with the marks Locust's web UI reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["add_option", "public_text"]


def add_option(
    group: Any,
    *flags: str,
    include_in_web_ui: bool = True,
    is_secret: bool = False,
    public: Callable[[str], str] | None = None,
    **kwargs: Any,
) -> None:
    """Add an option to a group, with the web-UI marks Locust's parser reads from its actions.

    ``public`` gives what of a value may be shown (a URL without its user info) where the value
    would be shown: the JSON summary's options, the web UI's form, the log.
    """
    action = group.add_argument(*flags, **kwargs)
    action.include_in_web_ui = include_in_web_ui
    action.is_secret = is_secret
    action.is_required = False
    action.is_multiple = False
    action.public = public


def public_text(action: Any, value: Any) -> Any:
    """What of an option's value may be shown: the value itself unless its option says otherwise."""
    public = getattr(action, "public", None)
    return public(value) if public is not None and isinstance(value, str) and value else value
