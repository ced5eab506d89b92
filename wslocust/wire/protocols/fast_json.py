"""The JSON protocols' per-message hot path: a message parsed, and a dotted path or a condition's
test compiled once into the few dictionary look-ups it takes.

A streamed reply costs one parse a chunk, so ``json.loads``'s Python layers (``loads``, ``decode``,
``raw_decode`` and two whitespace matches around the C scanner) cost as much as the parse of a
short message itself. :func:`loads` calls the C scanner directly and falls back to ``json.loads``
for whatever it does not take whole (leading or trailing whitespace, ``bytes``, an error), so it
returns and raises exactly what ``json.loads`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["getter", "loads", "scan_once"]

scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
"""The C scanner beneath ``json.loads``: ``(value, end)`` of the JSON value at an index of a ``str``;
``StopIteration`` or ``ValueError`` when none starts there."""
_scan_once = scan_once
_json_loads = json.loads


def loads(message: str | bytes) -> Any:
    """``json.loads(message)``, faster for a message that is one JSON value without whitespace around it.

    Raises:
        ValueError: the message is not JSON (``json.JSONDecodeError``, as ``json.loads`` raises).
    """
    if type(message) is str:
        try:
            document, end = _scan_once(message, 0)
        except (StopIteration, ValueError):
            return _json_loads(message)  # raises json.loads's own error
        if end == len(message):
            return document
    return _json_loads(message)


def getter(path: str, general: Callable[[Any, str], Any]) -> Callable[[Any], Any]:
    """The value at a dotted ``path`` of a document, as ``general(document, path)`` gives it.

    A path of one segment (``text``, ``type``: most) becomes one ``dict.get``; any other keeps
    ``general``.
    """
    if "." in path:
        return lambda document: general(document, path)

    def get(document: Any) -> Any:
        if type(document) is dict:
            return document.get(path)
        return general(document, path)

    return get
