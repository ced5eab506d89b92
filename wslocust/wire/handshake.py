"""The opening handshake's policy, socket-free: which URL, headers and address, which redirects.

- :func:`check_url`: a ``ws://`` or ``wss://`` URL that can be dialled (quoted without its secrets).
- :func:`expand_env` and :func:`check_wire_text`: ``${VAR}`` read from the environment, and nothing
  that could add a header or a line to the handshake (CR, LF).
- :func:`parse_connect_to`: the ``--connect-to`` address to dial instead of the URL's.
- :func:`handshake_url`: the URL with the extra query appended at connect time.
- :func:`redirect_target`: a redirect of the upgrade is followed only within the URL's origin, so
  headers and query (secrets) go to no other host.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from urllib.parse import quote, urljoin, urlsplit

from ..errors import ConfigurationError, HandshakeRejected

__all__ = [
    "MAX_REDIRECTS",
    "REDIRECT_STATUSES",
    "check_headers",
    "check_url",
    "check_wire_text",
    "dial_address",
    "expand_env",
    "handshake_url",
    "parse_connect_to",
    "provide_variable",
    "redirect_target",
]

REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))
"""The HTTP statuses of a redirect."""

MAX_REDIRECTS = 3
"""Redirects of one upgrade that ``follow_redirects`` follows (within the URL's origin)."""

_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}  # a Location may name the HTTP equivalent
_ENV_REFERENCE = re.compile(r"\$\{(\w+)\}")
_LINE_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters but tab
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")  # and space, tab: they end the request line's target


_PROVIDED: dict[str, Callable[[], str]] = {}


def provide_variable(name: str, value: Callable[[], str] | None) -> None:
    """Give ``${name}`` from ``value()`` at each expansion instead of the environment (the process's
    token as ``${TOKEN}``: read when a connection opens, so a refreshed token is used); None stops."""
    if value is None:
        _PROVIDED.pop(name, None)
    else:
        _PROVIDED[name] = value


def expand_env(
    text: str, what: str = "the value", *, in_url: bool = False, escape: Callable[[str], str] | None = None
) -> str:
    """Replace ``${NAME}`` references with environment variables, so secrets stay off command lines.

    Each value is written for where it goes: ``in_url`` (the query string) percent-encoded, every
    character but letters, digits and ``-._~`` (a token holding ``&``, ``=``, ``+``, ``#`` or a
    space is sent as that one value, and adds no parameter); else through ``escape`` when given (say,
    a JSON string's escaping), else as it is (a header's value). The result is checked with
    :func:`check_wire_text`: a variable holding ``\\r\\n`` must not add a header or a line to the
    handshake (control characters are refused, in the query too, rather than encoded: a token never
    holds one, a mistaken value does).

    Raises:
        ConfigurationError: a referenced variable is not set (names the variable, never a value), or
            the expanded text holds a control character (or, ``in_url``, a space outside a value).
    """
    if in_url:
        escape = _url_value

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        provided = _PROVIDED.get(name)
        if provided is not None:
            found = provided()
        elif name in os.environ:
            found = os.environ[name]
        else:
            raise ConfigurationError(f"environment variable {name} is referenced but not set")
        return found if escape is None else escape(found)

    return check_wire_text(_ENV_REFERENCE.sub(value, text), what, in_url=in_url)


_CONTROL_CHARACTERS = "".join(map(chr, (*range(0x20), 0x7F)))


def _url_value(value: str) -> str:
    """``value`` percent-encoded for a query string (UTF-8), its control characters left as they are
    for :func:`check_wire_text` to refuse."""
    return quote(value, safe=_CONTROL_CHARACTERS)


def check_wire_text(text: str, what: str, *, in_url: bool = False) -> str:
    """Return ``text`` if it may go into the handshake as is: no control character but tab (CR and LF
    would end the line and start another), and, ``in_url`` (the query), no space or tab either.

    Raises:
        ConfigurationError: it may not (names ``what``, never the value: it may be a secret).
    """
    forbidden = _URL_FORBIDDEN if in_url else _LINE_FORBIDDEN
    if forbidden.search(text):
        kind = "a space or control character" if in_url else "a control character (CR, LF, ...)"
        raise ConfigurationError(f"{what} holds {kind}: refused, not sent (the value is not shown)")
    return text


def check_url(url: str, name: str = "host") -> None:
    """Check that ``url`` is a ``ws://`` or ``wss://`` URL with a host and a port that can be dialled.

    Args:
        url: the URL.
        name: where it came from, for the message (``--host``, ``SupportBotUser.host``).

    Raises:
        ConfigurationError: it is not (the message quotes it).
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # reads the whole netloc: a broken [v6] or port raises here
    except ValueError as error:
        raise ConfigurationError(f"{name} {_shown_url(url)!r}: {error}") from None
    if port == 0:
        raise ConfigurationError(f"{name} {_shown_url(url)!r}: port 0 cannot be dialled")
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigurationError(f"host must be a ws:// or wss:// URL, got {_shown_url(url)!r}")


def _shown_url(url: str) -> str:
    """``url`` as a message may quote it: user info, query string and fragment (which may hold a
    token) replaced by ``***``, by text alone (the URL may not parse)."""
    shown, query_mark, _ = url.partition("?")
    shown, fragment_mark, _ = shown.partition("#")
    scheme, separator, rest = shown.rpartition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    shown = scheme + separator + authority + slash + path
    return shown + ("?***" if query_mark else "") + ("#***" if fragment_mark and not query_mark else "")


def check_headers(headers: Sequence[str]) -> list[str]:
    """Return the handshake headers as a list, if each reads ``Name: value``.

    Raises:
        ConfigurationError: one does not (its value is not shown: it may be a secret).
    """
    for header in headers:
        if ":" not in header:
            raise ConfigurationError("a --header must read 'Name: value' (the value is not shown)")
    return list(headers)


def dial_address(url: str, connect_to: str | None = None) -> tuple[str, int]:
    """The (host, port) to dial for ``url``: ``connect_to``'s when given (its port defaulting to the
    URL's), else the URL's; the port defaults to 443 for ``wss://``, 80 for ``ws://``.

    Raises:
        ConfigurationError: ``connect_to`` cannot be read (see :func:`parse_connect_to`).
    """
    parts = urlsplit(url)
    default_port = parts.port or (443 if parts.scheme == "wss" else 80)
    return parse_connect_to(connect_to, default_port) if connect_to else (parts.hostname or "", default_port)


_HOST = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_.])?")
"""A host name (letters, digits, hyphens, underscores, dots), or an IPv4 address."""


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse_connect_to(spec: str, default_port: int) -> tuple[str, int]:
    """Parse ``host``, ``host:port`` or ``[v6]:port`` into a (host, port) to dial.

    Raises:
        ConfigurationError: no host, a host that is neither a name nor an IP address (a URL, a
            space), or a port that is empty or not a number from 1 to 65535.
    """
    spec = spec.strip()
    colon = False
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        colon, port_text = rest.startswith(":"), rest[1:]
    elif spec.count(":") == 1:
        host, _, port_text = spec.partition(":")
        colon = True
    else:
        host, port_text = spec, ""
    if not host:
        raise ConfigurationError(f"--connect-to {spec!r} names no host")
    if not _is_ip_address(host) and (spec.startswith("[") or not _HOST.fullmatch(host)):  # [] hold IPv6
        raise ConfigurationError(
            f"--connect-to {spec!r}: give HOST[:PORT], a host name or an IP address"
            + (" (not a URL)" if "://" in spec else "")
        )
    if not port_text and not colon:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigurationError(f"--connect-to {spec!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def handshake_url(url: str, query: str | None) -> str:
    """``url`` with ``query`` appended, its ``${VAR}``s expanded and percent-encoded, as the upgrade asks.

    Raises:
        ConfigurationError: the query names an unset variable or holds a space or control character.
    """
    if not query:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{expand_env(query, 'the query', in_url=True)}"


def redirect_target(url: str, status: int, location: str | None, *, follow_redirects: bool) -> str:
    """The URL a redirect of the upgrade of ``url`` leads to, when it may be followed.

    Args:
        url: the URL whose upgrade was redirected (its origin is the only one redirects may stay in).
        status: the redirect's HTTP status.
        location: its ``Location`` header, None when it has none.
        follow_redirects: the user allows redirects within the origin.

    Raises:
        HandshakeRejected: it may not (no Location, not ``follow_redirects``, or another origin);
            the message names the Location's origin, never its path or query.
    """
    if not location:
        raise HandshakeRejected(status, message=f"handshake redirected (HTTP {status}) with no Location")
    target = urljoin(url, location.strip())
    scheme, separator, rest = target.partition(":")
    target = _WEBSOCKET_SCHEMES.get(scheme.lower(), scheme) + separator + rest
    where = f"handshake redirected (HTTP {status}) to {_origin_text(target)}; not followed"
    if _origin(target) != _origin(url):
        raise HandshakeRejected(status, message=f"{where}: another origin than the URL's")
    if not follow_redirects:
        raise HandshakeRejected(status, message=f"{where}: give --follow-redirects")
    return target


def _origin(url: str) -> tuple[str, str, int] | None:
    """The (scheme, host, port) of a ws:// or wss:// URL, None when it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("ws", "wss") or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or (443 if scheme == "wss" else 80)


def _origin_text(url: str) -> str:
    """A URL's origin as ``scheme://host:port``: never its user, path or query (they may hold secrets)."""
    origin = _origin(url)
    if origin is None:
        return "a URL that is not ws:// or wss://"
    scheme, host, port = origin
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"
