"""The analysis's one error, an input it cannot use, and the reading of JSON-lines files that raises it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["InputError", "read_json_lines"]


class InputError(Exception):
    """An input that cannot be used; the message is one line that names the culprit."""


def read_json_lines(path: Path, what: str, take: Callable[[Any], None]) -> None:
    """Hand each JSON value of a JSON-lines file to ``take``, skipping blank lines.

    Args:
        path: the file.
        what: what a line holds, for the message (``"a failed reply"``).
        take: reads one line's value; a ``ValueError``, ``TypeError``, ``KeyError`` or
            ``AttributeError`` it raises means the line is not ``what``.

    Raises:
        InputError: a line that is not JSON or not ``what`` (named with its number), a file that is
            not UTF-8 or cannot be read.
    """
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream, start=1):
                if not line.strip():
                    continue
                try:
                    take(json.loads(line))
                except (ValueError, TypeError, KeyError, AttributeError) as error:
                    raise InputError(f"{path}: line {number}: not {what} ({error})") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text ({error.reason})") from None
    except OSError as error:
        raise InputError(f"{path}: cannot read: {error.strerror}") from None
