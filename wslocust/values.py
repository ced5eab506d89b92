"""Option values: one parser for each kind of value wslocust reads (numbers, durations, rates, counts, flags).

A value comes from the command line or a config file (a string), from the web UI's form (a string,
or whatever Locust made of it with ``type(current_value)(text)``), or from a locustfile's class
attribute (a number). Each parser takes the value and the name to blame (``--reply-timeout``, or
``SupportBotUser.reply_timeout_s`` for a class attribute) and returns the value checked, or raises
:class:`BadValue` naming it and quoting the value: NaN, infinities, negatives, and zero where it
means nothing, are refused. :func:`argument_type` makes an argparse ``type=`` of a parser, so a bad
command line stops before anything starts; the start-up check runs the same parsers on what the
web UI or a locustfile gives.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = [
    "DURATION_FORMS",
    "BadValue",
    "argument_type",
    "choice",
    "count",
    "flag",
    "fraction",
    "http_url",
    "integer",
    "milliseconds",
    "number",
    "port",
    "seconds",
    "seconds_range",
]

DURATION_FORMS = "seconds, or a number with an s, m or h suffix: 90, 90s, 2m, 1h30m"
"""The forms :func:`seconds` reads, for help texts and messages."""

_NUMBER = r"\d+(?:\.\d+)?"
_DURATION_RE = re.compile(rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?(?:(?P<s>{_NUMBER})s)?")
_FRACTION_FORMS = "a fraction from 0 to 1 (0.99) or a percentage from 0% to 100% (99%)"
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class BadValue(ConfigurationError, ValueError):
    """A value that is not what its option or setting takes (a :class:`ConfigurationError`, and a
    ``ValueError`` for code that validates values the Python way)."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        shown = f"{name} must be" if name else "must be"
        super().__init__(f"{shown} {expected}, got {value!r}")
        self.name = name
        self.expected = expected


def _finite(value: object, name: str, expected: str) -> float:
    """A finite float from a number or a string holding one, else :class:`BadValue`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BadValue(name, value, expected)
    try:
        result = float(value.strip() if isinstance(value, str) else value)
    except (ValueError, OverflowError):
        raise BadValue(name, value, expected) from None
    if not math.isfinite(result):
        raise BadValue(name, value, expected)
    return result


def _bounds_text(what: str, minimum: float | None, positive: bool, maximum: float | None) -> str:
    if positive:
        low = " above 0"
    elif minimum is not None:
        low = f" from {minimum:g}"
    else:
        low = ""
    high = f" to {maximum:g}" if maximum is not None else ""
    if maximum is not None and not low:
        high = f" up to {maximum:g}"
    return f"{what}{low}{high}"


def number(
    value: object,
    name: str = "",
    *,
    minimum: float | None = 0.0,
    positive: bool = False,
    maximum: float | None = None,
    what: str = "a number",
) -> float:
    """Parse a finite number, by default 0 or more.

    Args:
        value: A number, or a string holding one.
        name: The option or setting to blame.
        minimum: The least value allowed (None: any).
        positive: Refuse 0 and below.
        maximum: The greatest value allowed (None: any).
        what: What the value is, for the message (``a number of ms``).

    Raises:
        BadValue: not a finite number within the bounds.
    """
    expected = _bounds_text(what, minimum, positive, maximum)
    result = _finite(value, name, expected)
    too_low = result <= 0 if positive else minimum is not None and result < minimum
    if too_low or (maximum is not None and result > maximum):
        raise BadValue(name, value, expected)
    return result


def milliseconds(value: object, name: str = "", *, positive: bool = False) -> float:
    """Parse a time in milliseconds: a finite number, 0 or more (above 0 with ``positive``).

    Raises:
        BadValue: not a finite number of ms within the bounds.
    """
    return number(value, name, positive=positive, what="a number of ms")


def seconds(value: object, name: str = "", *, positive: bool = True) -> float:
    """Parse a duration in seconds: a number, or ``90s``, ``2m``, ``1h30m``, ``2.5m``.

    Args:
        value: A number of seconds, or a string in one of :data:`DURATION_FORMS`.
        name: The option or setting to blame.
        positive: Refuse 0 (a timeout of 0 would mean none); else 0 is allowed.

    Raises:
        BadValue: not a duration, negative, infinite or NaN, or 0 when ``positive``.
    """
    expected = f"a duration {'above 0' if positive else 'of 0 or more'} ({DURATION_FORMS})"
    if isinstance(value, str) and not re.fullmatch(r"\s*[-+]?" + _NUMBER + r"\s*", value):
        match = _DURATION_RE.fullmatch(value.strip().lower())
        if match is None or not any(match.groups()):
            raise BadValue(name, value, expected)
        hours, minutes, secs = (float(part) if part else 0.0 for part in match.group("h", "m", "s"))
        result = hours * 3600 + minutes * 60 + secs
    else:
        result = _finite(value, name, expected)
    if result < 0 or (positive and result == 0) or not math.isfinite(result):
        raise BadValue(name, value, expected)
    return result


def seconds_range(value: object, name: str = "") -> tuple[float, float]:
    """Parse ``N`` or ``MIN-MAX`` seconds (each 0 or more, MIN not above MAX), e.g. a think time.

    Raises:
        BadValue: not one of the two forms.
    """
    expected = "N or MIN-MAX seconds, each 0 or more (0.5, 1-3)"
    if isinstance(value, int | float) and not isinstance(value, bool):
        single = number(value, name, what="a number of seconds")
        return single, single
    if not isinstance(value, str):
        raise BadValue(name, value, expected)
    low_text, dash, high_text = value.strip().partition("-")
    try:
        low = seconds(low_text, name, positive=False)
        high = seconds(high_text, name, positive=False) if dash else low
    except BadValue:
        raise BadValue(name, value, expected) from None
    if high < low:
        raise BadValue(name, value, expected)
    return low, high


def fraction(value: object, name: str = "") -> float:
    """Parse a share: a fraction from 0 to 1 (``0.95``) or a percentage (``95%``).

    A number above 1 without ``%`` (``95``) is refused rather than guessed.

    Raises:
        BadValue: neither form, or out of range.
    """
    text = value.strip() if isinstance(value, str) else value
    try:
        if isinstance(text, str) and text.endswith("%"):
            percent = number(text[:-1], name, maximum=100.0)
            return round(percent / 100.0, 12)  # 99.9% is 0.999, not 0.9990000000000001
        return number(value, name, maximum=1.0)
    except BadValue:
        raise BadValue(name, value, _FRACTION_FORMS) from None


def integer(value: object, name: str = "", *, what: str = "a whole number") -> int:
    """Parse a whole number (an int, an integral float, or a string of digits with a sign).

    Raises:
        BadValue: not a whole number.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise BadValue(name, value, what)


def count(value: object, name: str = "", *, minimum: int = 0, maximum: int | None = None) -> int:
    """Parse a count: a whole number, at least ``minimum`` (0 by default), at most ``maximum``.

    Raises:
        BadValue: not a whole number, below ``minimum`` or above ``maximum``.
    """
    expected = (
        f"a whole number of {minimum} or more"
        if maximum is None
        else f"a whole number from {minimum} to {maximum}"
    )
    result = integer(value, name, what=expected)
    if result < minimum or (maximum is not None and result > maximum):
        raise BadValue(name, value, expected)
    return result


def port(value: object, name: str = "", *, allow_zero: bool = False) -> int:
    """Parse a TCP port: a whole number from 1 to 65535 (from 0, a free port, with ``allow_zero``).

    Raises:
        BadValue: not a whole number in that range.
    """
    lowest = 0 if allow_zero else 1
    expected = f"a port number from {lowest} to 65535"
    result = integer(value, name, what=expected)
    if not lowest <= result <= 65535:
        raise BadValue(name, value, expected)
    return result


def http_url(value: object, name: str = "") -> str:
    """Parse an ``http://`` or ``https://`` URL with a host, and a port from 1 to 65535 if it has one (an
    OTLP/HTTP endpoint), kept as written. The message quotes it without its user info, query and
    fragment, which may hold a secret.

    Raises:
        BadValue: not such a URL.
    """
    expected = "an http:// or https:// URL with a host, e.g. http://127.0.0.1:4318/v1/metrics"
    if not isinstance(value, str):
        raise BadValue(name, value, expected)
    try:
        parts = urlsplit(value)
        dialled = parts.port != 0  # reads the whole authority: a broken [v6] or port raises here
    except ValueError:
        dialled = False
    else:
        dialled = dialled and parts.scheme in ("http", "https") and bool(parts.hostname)
    if not dialled or any(character.isspace() or ord(character) < 32 for character in value):
        raise BadValue(name, _without_secrets(value), expected)
    return value


def _without_secrets(url: str) -> str:
    """``url`` without user info, query and fragment, by its text alone (it may not parse)."""
    shown = url.partition("?")[0].partition("#")[0]
    scheme, separator, rest = shown.partition("://")
    if not separator:
        scheme, rest = "", shown
    authority, slash, path = rest.partition("/")
    return scheme + separator + authority.rpartition("@")[2] + slash + path


def choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Parse one of ``choices`` (exactly as written).

    Raises:
        BadValue: not one of them.
    """
    if isinstance(value, str) and value in choices:
        return value
    raise BadValue(name, value, "one of " + ", ".join(choices))


def flag(value: object, name: str = "") -> bool:
    """Parse a yes/no setting: a bool, or ``true``/``false`` (also yes/no, on/off, 1/0).

    Raises:
        BadValue: none of these.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadValue(name, value, "true or false")


def argument_type(parse: Callable[..., Any], **limits: Any) -> Callable[[str], Any]:
    """An argparse ``type=`` that parses with ``parse`` (one of this module's parsers) and ``limits``.

    argparse names the option in its error (``argument --reply-timeout: must be ...``) and exits 2.
    With ``keep_text=True`` the value is checked but kept as written (``2m`` stays ``2m`` in the web
    UI's form, which sends the field back as text).
    """
    keep_text = bool(limits.pop("keep_text", False))

    def parse_argument(text: str) -> Any:
        try:
            parsed = parse(text, "", **limits)
        except BadValue as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text if keep_text else parsed

    parse_argument.__name__ = parse.__name__  # argparse's "invalid <name> value" and the help's type
    return parse_argument
