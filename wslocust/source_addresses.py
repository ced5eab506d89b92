"""Local source addresses: more connections to one target than one address's ephemeral ports allow.

A TCP connection is named by its two ends, so one local address reaches one target ``host:port``
through at most as many connections as it has ephemeral ports (``net.ipv4.ip_local_port_range``:
32768-60999, some 28,000 on Linux by default). ``--source-address 127.0.0.2-127.0.0.40,127.0.0.50``
(or a user class's ``source_addresses``) names the local addresses to dial from; each new connection
binds the next one, round robin, before it connects.

The addresses are read once: a malformed one, one this host cannot bind (not one of its own), one
the kernel binds but dials from another (multicast, broadcast, unspecified), a range written
backwards or wider than :data:`MOST_SOURCE_ADDRESSES` is refused at start-up naming the option.
Each process cycles through every address from its own starting point (its process id), so several
processes (``--processes``, workers) spread their connections over all of them; the kernel hands
out the ports of each address across processes, so N addresses give about N times 28,000
connections to one target whatever the number of processes. On loopback every 127.x.y.z address is
local (Linux), so ``127.0.0.2-127.0.0.40`` needs no setup; elsewhere add the addresses to an
interface first (``ip addr add 10.0.0.11/24 dev eth0``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Sequence
from functools import cache
from typing import Any

from .errors import ConfigurationError
from .values import BadValue

__all__ = [
    "MOST_SOURCE_ADDRESSES",
    "NO_SOURCE_ADDRESS",
    "SourceAddressFailure",
    "SourceAddresses",
    "check_bindable",
    "check_families",
    "dial",
    "keep_this_hosts",
    "parse_source_addresses",
    "rotation",
    "this_hosts",
]

MOST_SOURCE_ADDRESSES = 4096
"""The most addresses a ``--source-address`` list may name: 4,096 addresses of 28,000 ports is beyond any one
host's memory (a wider range is a typing mistake, such as ``127.0.0.2-127.0.255.255``)."""

_FORMS = "local IP addresses and ranges, comma-separated (127.0.0.2-127.0.0.40,127.0.0.50)"

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def _address(text: str, name: str, item: str) -> _Address:
    """The address ``text``, one end of ``item`` (named whole in the error: ``'127.0.0.2-'``)."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise BadValue(name, item.strip(), _FORMS) from None


def parse_source_addresses(value: object, name: str) -> tuple[str, ...]:
    """The addresses of ``value`` in order, each once: ``A``, ``A-B`` (inclusive) or a list of them.

    Only the form is checked here (:func:`check_bindable` asks the kernel); the result is what
    :func:`rotation` takes.

    Raises:
        BadValue: an item is empty (the whole value is shown) or not an IP address, a range mixes
            IPv4 and IPv6 or runs backwards, an address is multicast, broadcast or unspecified (a
            socket binds it, then connects from another), or there are more than
            :data:`MOST_SOURCE_ADDRESSES` addresses.
    """
    texts = [str(item) for item in value] if isinstance(value, list | tuple) else [str(value)]
    items = [item for text in texts for item in re.split(r"[,;]", text)]  # the web UI shows a list with ;
    if any(not item.strip() for item in items):
        raise BadValue(name, value, f"{_FORMS}, none empty")
    return _parse(tuple(items), name)


@cache
def _parse(items: tuple[str, ...], name: str) -> tuple[str, ...]:
    addresses: dict[str, None] = {}
    for item in items:
        first_text, dash, last_text = item.partition("-")
        first = _address(first_text, name, item)
        last = _address(last_text, name, item) if dash else first
        if first.version != last.version:
            raise BadValue(name, item.strip(), "a range within one family, IPv4 or IPv6")
        if int(last) < int(first):
            raise BadValue(name, item.strip(), "a range from the lower address to the higher")
        if int(last) - int(first) + len(addresses) >= MOST_SOURCE_ADDRESSES:
            raise BadValue(name, item.strip(), f"at most {MOST_SOURCE_ADDRESSES:,} addresses in all")
        for number in range(int(first), int(last) + 1):
            address = type(first)(number)
            unusable = _not_a_source(address)
            if unusable:
                raise BadValue(
                    name,
                    item.strip(),
                    f"unicast addresses ({address} is {unusable}: connections would leave from another)",
                )
            addresses[str(address)] = None
    return tuple(addresses)


def _not_a_source(address: _Address) -> str | None:
    """What ``address`` is when a socket binds it but the kernel dials from another, else None."""
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address == _BROADCAST:
        return "the broadcast address"
    return None


def check_bindable(addresses: Sequence[str], name: str) -> None:
    """Bind a socket to each address (any port) and let it go: each must be one of this host's.

    Raises:
        BadValue: an address cannot be bound here; the message names it and the kernel's reason.
    """
    for address in addresses:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((address, 0))
            except OSError as error:
                raise BadValue(
                    name,
                    address,
                    f"an address of this host ({error.strerror or error}: add it to an interface)",
                ) from None


class SourceAddresses:
    """The addresses a process dials from, in turn: :meth:`next` gives the one for the next connection.

    Each process starts at its own place in the list (its process id modulo the list's length), and
    a process forked after the first call starts afresh.
    """

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = tuple(addresses)
        self._pid = -1
        self._next = 0

    def next(self) -> tuple[str, int] | None:
        """``(address, 0)`` for ``socket.create_connection``'s ``source_address``, or None for none."""
        if not self.addresses:
            return None
        pid = os.getpid()
        if pid != self._pid:
            self._pid, self._next = pid, pid % len(self.addresses)
        address = self.addresses[self._next]
        self._next = (self._next + 1) % len(self.addresses)
        return (address, 0)


NO_SOURCE_ADDRESS = SourceAddresses(())
"""Connections dial from the address the kernel picks."""


class SourceAddressFailure(OSError):
    """A connection could not leave from its source address: the address could not be bound, or the
    target has no address of its family. Not a name that does not resolve (``socket.gaierror``),
    which is what the socket module raises when the families differ."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"source address {address}: {reason}")
        self.address = address


_FAMILIES = {socket.AF_INET: "IPv4", socket.AF_INET6: "IPv6", None: "neither IPv4 nor IPv6"}


@cache
def _literal_family(host: str) -> socket.AddressFamily | None:
    """The address family of an IP literal (``127.0.0.1``, ``::1``), None for a name to resolve."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return None


def dial(address: tuple[str, int], timeout_s: float, source: tuple[str, int] | None) -> socket.socket:
    """A TCP connection to ``address`` from ``source`` (``socket.create_connection``'s arguments).

    An IP literal is dialled at once: ``create_connection`` would ask ``getaddrinfo`` first, which
    gevent runs in its thread pool, a thread hop a connection (and, while thousands of users start,
    thousands of greenlets queued for the pool's threads). A host name is resolved, and its
    addresses of the source's family are dialled in turn, as ``create_connection`` does.

    Raises:
        SourceAddressFailure: ``source`` could not be bound, or is of another family than the target.
        OSError: the connection failed (``socket.gaierror`` when the name does not resolve).
    """
    family = _literal_family(address[0])
    if family is None:
        return _dial_name(address, timeout_s, source)
    return _connect(family, address, timeout_s, source, address[0])


def _connect(
    family: socket.AddressFamily,
    target: tuple[Any, ...],
    timeout_s: float,
    source: tuple[str, int] | None,
    host: str,
) -> socket.socket:
    """A connection to the socket address ``target`` (an address of ``host``) from ``source``."""
    if source is not None and _literal_family(source[0]) != family:
        source_family = _FAMILIES[_literal_family(source[0])]
        raise SourceAddressFailure(source[0], f"{source_family}, and {host} is {_FAMILIES[family]}")
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout_s)
        if source is not None:
            try:
                sock.bind(source)
            except OSError as error:  # not a name to resolve, whatever socket's error class says
                raise SourceAddressFailure(source[0], error.strerror or str(error)) from None
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    return sock


def _dial_name(address: tuple[str, int], timeout_s: float, source: tuple[str, int] | None) -> socket.socket:
    """``create_connection``'s loop over a host name's addresses, skipping those of another family than
    ``source``'s (binding it to them fails with ``gaierror``, read as a name that does not resolve)."""
    host, port = address
    wanted = None if source is None else _literal_family(source[0])
    failure: OSError | None = None
    for family, _, _, _, target in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        if wanted is not None and family != wanted:
            continue
        try:
            return _connect(family, target, timeout_s, source, host)
        except SourceAddressFailure:
            raise  # the same source would fail the name's other addresses
        except OSError as error:
            failure = error
    if failure is not None or source is None:  # getaddrinfo returns an address or raises
        raise failure or OSError(f"{host} has no address")
    source_family = _FAMILIES[wanted]
    raise SourceAddressFailure(source[0], f"{source_family}, and {host} has no {source_family} address")


def check_families(addresses: Sequence[str], targets: Sequence[str], name: str) -> None:
    """Each target that is an IP literal must be of the family of every address: a connection from an
    IPv6 address to an IPv4 one cannot be made. A host name is resolved as it is dialled.

    Raises:
        ConfigurationError: an address and an IP target are of different families; names both.
    """
    for target in targets:
        family = _literal_family(target)
        if family is None:
            continue
        for address in addresses:
            if _literal_family(address) != family:
                raise ConfigurationError(
                    f"{name}: {address} is {_FAMILIES[_literal_family(address)]} and the target {target} is "
                    f"{_FAMILIES[family]}: a connection leaves from an address of its target's family"
                )


_this_hosts: list[tuple[str, ...]] = []


def keep_this_hosts(addresses: tuple[str, ...]) -> None:
    """Dial from ``addresses`` whatever the master sends: a worker's own ``--source-address`` (the
    master sends its options to every worker, and each host has addresses of its own)."""
    _this_hosts[:] = [addresses]


def this_hosts() -> tuple[str, ...] | None:
    """The addresses kept by :func:`keep_this_hosts`, or None to follow the options."""
    return _this_hosts[0] if _this_hosts else None


@cache
def rotation(addresses: tuple[str, ...]) -> SourceAddresses:
    """The one :class:`SourceAddresses` of this process for ``addresses``, shared by every user that
    dials from them (round robin per connection across users, not per user)."""
    return SourceAddresses(addresses) if addresses else NO_SOURCE_ADDRESS
