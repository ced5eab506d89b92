"""Source addresses: parsed and checked once, then one a connection in turn, in every process."""

from __future__ import annotations

import os
import socket
import subprocess
from collections import Counter

import pytest

from wslocust.client import ChatClient
from wslocust.errors import ConfigurationError, ConnectError
from wslocust.source_addresses import (
    MOST_SOURCE_ADDRESSES,
    SourceAddresses,
    SourceAddressFailure,
    check_bindable,
    check_families,
    dial,
    parse_source_addresses,
    rotation,
)
from wslocust.wire.protocols import PlainProtocol

from .conftest import ROOT, UNIT, RawServer, locust_command, processes
from .test_client import _echo_plain
from .test_locust_run import assert_one_clear_error


def test_addresses_and_inclusive_ranges_are_listed_in_order_each_once() -> None:
    parsed = parse_source_addresses("127.0.0.2-127.0.0.4, 127.0.0.9,127.0.0.3", "--source-address")
    assert parsed == ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.9")


def test_a_class_attribute_may_list_addresses_and_the_web_ui_separates_them_with_semicolons() -> None:
    assert parse_source_addresses(["127.0.0.2", "127.0.0.5-127.0.0.6"], "User.source_addresses") == (
        "127.0.0.2", "127.0.0.5", "127.0.0.6",
    )  # fmt: skip
    assert parse_source_addresses("127.0.0.2; 127.0.0.3", "--source-address") == ("127.0.0.2", "127.0.0.3")


def test_ipv6_ranges_stay_ipv6() -> None:
    assert parse_source_addresses("::1", "--source-address") == ("::1",)
    assert parse_source_addresses("fd00::1-fd00::3", "x") == ("fd00::1", "fd00::2", "fd00::3")


@pytest.mark.parametrize(
    ("value", "culprit", "reason"),
    [
        ("127.0.0.x", "'127.0.0.x'", "local IP addresses and ranges"),
        ("127.0.0.2,,127.0.0.3", "'127.0.0.2,,127.0.0.3'", "none empty"),
        ("127.0.0.2,", "'127.0.0.2,'", "none empty"),
        ("127.0.0.2-", "'127.0.0.2-'", "local IP addresses and ranges"),
        ("-127.0.0.2", "'-127.0.0.2'", "local IP addresses and ranges"),
        ("127.0.0.9-127.0.0.2", "'127.0.0.9-127.0.0.2'", "from the lower address to the higher"),
        ("127.0.0.2-127.0.255.255", "'127.0.0.2-127.0.255.255'", f"at most {MOST_SOURCE_ADDRESSES:,}"),
        ("127.0.0.2-::1", "'127.0.0.2-::1'", "within one family"),
    ],
)
def test_a_malformed_list_is_refused_naming_the_option_and_the_item(
    value: str, culprit: str, reason: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_source_addresses(value, "--source-address")
    message = str(caught.value)
    assert message.startswith("--source-address must be")
    assert culprit in message
    assert reason in message


def test_an_empty_item_of_a_class_attributes_list_is_refused_showing_the_list() -> None:
    with pytest.raises(ConfigurationError, match=r"none empty, got \['127\.0\.0\.2', ' '\]"):
        parse_source_addresses(["127.0.0.2", " "], "User.source_addresses")


@pytest.mark.parametrize(
    ("value", "address", "kind"),
    [
        ("224.0.0.1", "224.0.0.1", "a multicast address"),
        ("255.255.255.255", "255.255.255.255", "the broadcast address"),
        ("0.0.0.0", "0.0.0.0", "the unspecified address"),
        ("::", "::", "the unspecified address"),
        ("ff02::1", "ff02::1", "a multicast address"),
        ("223.255.255.254-224.0.0.1", "224.0.0.0", "a multicast address"),
    ],
)
def test_an_address_the_kernel_would_not_dial_from_is_refused_naming_the_item(
    value: str, address: str, kind: str
) -> None:
    """A multicast, broadcast or unspecified address binds, then connections leave from another."""
    with pytest.raises(ConfigurationError) as caught:
        parse_source_addresses(f"127.0.0.2,{value}", "--source-address")
    assert str(caught.value) == (
        f"--source-address must be unicast addresses ({address} is {kind}: connections would leave "
        f"from another), got {value!r}"
    )


def test_an_address_this_host_does_not_have_is_refused_naming_it() -> None:
    check_bindable(("127.0.0.2", "127.0.0.40"), "--source-address")  # every 127.x address is local
    with pytest.raises(
        ConfigurationError, match=r"--source-address must be an address of this host .*'192\.0\.2\.1'"
    ):
        check_bindable(("127.0.0.2", "192.0.2.1"), "--source-address")  # TEST-NET-1: nobody's


def test_a_process_hands_out_every_address_in_turn_from_its_own_start() -> None:
    addresses = SourceAddresses(("127.0.0.2", "127.0.0.3", "127.0.0.4"))
    handed = [addresses.next() for _ in range(6)]
    start = os.getpid() % 3
    expected = [(f"127.0.0.{2 + (start + i) % 3}", 0) for i in range(6)]
    assert handed == expected
    assert SourceAddresses(()).next() is None  # the kernel picks


def test_users_dialling_from_the_same_addresses_share_one_rotation() -> None:
    assert rotation(("127.0.0.2", "127.0.0.3")) is rotation(("127.0.0.2", "127.0.0.3"))


def _recording_peers(peers: list[str]):  # type: ignore[no-untyped-def]
    def handler(sock: socket.socket, headers: dict[str, str]) -> None:
        peers.append(sock.getpeername()[0])
        try:
            _echo_plain(sock, headers)
        except ConnectionResetError:  # a user stopped at the run's end
            return

    return handler


def test_each_connection_binds_the_next_source_address_before_connecting(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    peers: list[str] = []
    server: RawServer = raw_server(_recording_peers(peers))
    shared = SourceAddresses(("127.0.0.2", "127.0.0.3"))
    clients = [ChatClient(environment, f"ws://127.0.0.1:{server.port}", PlainProtocol()) for _ in range(4)]
    for client in clients:
        client.dial_from = shared
        assert client.ask("hello?").ok
    assert Counter(peers) == {"127.0.0.2": 2, "127.0.0.3": 2}
    assert peers[0] != peers[1]  # round robin per connection


@pytest.mark.slow
def test_a_run_over_two_processes_dials_from_every_source_address(raw_server) -> None:
    peers: list[str] = []
    server: RawServer = raw_server(_recording_peers(peers))
    result = subprocess.run(
        locust_command(
            "--headless", "-u", "6", "-r", "100", "-t", "2s", "--host", f"ws://127.0.0.1:{server.port}",
            "--protocol", "plain", "--think-time", "0.2", "--source-address", "127.0.0.2-127.0.0.4",
            "--exit-code-on-error", "0", *processes(2),
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert len(peers) >= 6  # a connection a user at least
    assert set(peers) == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


@pytest.mark.slow
def test_a_range_written_backwards_stops_the_run_at_start_up() -> None:
    result = subprocess.run(
        locust_command("--headless", "-u", "1", "-t", "2s", "--source-address", "127.0.0.9-127.0.0.2"),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert_one_clear_error(result, "--source-address", "'127.0.0.9-127.0.0.2'", "lower address to the higher")


def test_an_ip_literal_is_dialled_from_the_source_address_given() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sock = dial(listener.getsockname(), 2 * UNIT, ("127.0.0.3", 0))
        accepted, peer = listener.accept()
        accepted.close()
        sock.close()
    assert peer[0] == "127.0.0.3"


def test_a_host_name_is_resolved_and_dialled() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sock = dial(("localhost", listener.getsockname()[1]), 2 * UNIT, None)
        accepted, _ = listener.accept()
        accepted.close()
        assert sock.getpeername()[1] == listener.getsockname()[1]
        sock.close()


def test_a_refused_connection_raises_and_leaves_no_socket_open() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused
        open_before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(ConnectionRefusedError):
            dial(("127.0.0.1", port), 2 * UNIT, None)
        assert len(os.listdir("/proc/self/fd")) == open_before


def _names_ipv4_only(host: str) -> None:
    families = {info[0] for info in socket.getaddrinfo(host, 80, 0, socket.SOCK_STREAM)}
    if families != {socket.AF_INET}:
        pytest.skip(f"{host} resolves to IPv6 here too")


@pytest.mark.parametrize(
    ("addresses", "targets", "culprit"),
    [
        (("::1",), ("127.0.0.1",), "::1 is IPv6 and the target 127.0.0.1 is IPv4"),
        (("127.0.0.2",), ("localhost", "::1"), "127.0.0.2 is IPv4 and the target ::1 is IPv6"),
        (("127.0.0.2", "::1"), ("127.0.0.1",), "::1 is IPv6 and the target 127.0.0.1 is IPv4"),
    ],
)
def test_a_source_address_of_another_family_than_an_ip_target_is_refused_naming_both(
    addresses: tuple[str, ...], targets: tuple[str, ...], culprit: str
) -> None:
    """No connection to an IPv4 address can leave from an IPv6 one: each would fail as it dials."""
    with pytest.raises(ConfigurationError) as caught:
        check_families(addresses, targets, "--source-address")
    assert str(caught.value).startswith(f"--source-address: {culprit}")


def test_a_host_name_target_or_a_matching_family_passes_the_family_check() -> None:
    check_families(("::1", "127.0.0.2"), ("localhost",), "--source-address")  # resolved as it dials
    check_families(("127.0.0.2",), ("127.0.0.1",), "--source-address")
    check_families((), ("127.0.0.1",), "--source-address")


def test_a_source_address_of_another_family_than_an_ip_target_fails_the_dial_naming_it() -> None:
    with pytest.raises(SourceAddressFailure, match=r"^source address ::1: IPv6, and 127\.0\.0\.1 is IPv4$"):
        dial(("127.0.0.1", 9), 2 * UNIT, ("::1", 0))


def test_a_host_name_with_no_address_of_the_sources_family_fails_the_dial_naming_the_source() -> None:
    _names_ipv4_only("localhost")
    with pytest.raises(
        SourceAddressFailure, match=r"^source address ::1: IPv6, and localhost has no IPv6 address$"
    ):
        dial(("localhost", 9), 2 * UNIT, ("::1", 0))


def test_a_source_address_that_cannot_be_used_for_a_host_name_fails_the_connect_naming_it(
    recorded_env, raw_server
) -> None:
    """Not "cannot resolve host 'localhost'" (the socket module's gaierror): the address is named."""
    _names_ipv4_only("localhost")
    environment, recorded = recorded_env
    server: RawServer = raw_server(_echo_plain)
    client = ChatClient(environment, f"ws://localhost:{server.port}", PlainProtocol())
    client.dial_from = SourceAddresses(("::1",))
    assert not client.connect()
    client.dial_from = SourceAddresses(("192.0.2.1",))  # TEST-NET-1: nobody's, so it cannot be bound
    assert not client.connect()
    first, second = (event["exception"] for event in recorded.of("CONNECT"))
    assert isinstance(first, ConnectError)
    assert str(first) == (
        f"cannot dial localhost:{server.port} from source address ::1: IPv6, and localhost has no IPv6 "
        "address"
    )
    assert str(second).startswith(f"cannot dial localhost:{server.port} from source address 192.0.2.1: ")
