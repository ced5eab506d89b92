"""A plain connection between replies: pings answered by the hub's read, the rest left to a greenlet."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from wslocust.idle import read_in_hub
from wslocust.wire.connection import Close, Connection, Send
from wslocust.wire.frames import OP_CLOSE, OP_PING, OP_PONG, FrameReader
from wslocust.wire.protocols import PlainProtocol

from .conftest import server_frame


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected pair: the client's non-blocking end, and the server's."""
    client, server = socket.socketpair()
    client.setblocking(False)
    yield client, server
    client.close()
    server.close()


def _buffer() -> memoryview:
    return memoryview(bytearray(64 * 1024))


def test_a_ping_is_answered_with_its_pong_and_nothing_is_left(pair) -> None:
    client, server = pair
    server.sendall(server_frame(OP_PING, b"are you there"))
    assert read_in_hub(client, _buffer(), Connection(PlainProtocol()).receive) == (1, [])
    reader = FrameReader(accept_masked=True)
    assert reader.feed(server.recv(4096)) == [(OP_PONG, b"are you there")]


def test_nothing_to_read_is_nothing_to_do(pair) -> None:
    client, _ = pair
    assert read_in_hub(client, _buffer(), Connection(PlainProtocol()).receive) == (0, [])


def test_a_close_is_left_to_a_greenlet(pair) -> None:
    client, server = pair
    server.sendall(server_frame(OP_CLOSE, (1001).to_bytes(2, "big")))
    connection = Connection(PlainProtocol())
    assert read_in_hub(client, _buffer(), connection.receive) == (0, [Close(1000)])
    assert connection.received_close == 1001


def test_a_pong_the_socket_cannot_take_is_left_to_a_greenlet_whole(pair) -> None:
    client, server = pair
    while True:  # fill the client's send buffer: the server reads nothing
        try:
            client.send(b"x" * 65536)
        except BlockingIOError:
            break
    server.sendall(server_frame(OP_PING, b"hi"))
    pongs, left = read_in_hub(client, _buffer(), Connection(PlainProtocol()).receive) or (0, [])
    assert pongs == 1
    assert len(left) == 1
    assert type(left[0]) is Send
    assert FrameReader(accept_masked=True).feed(left[0].frame) == [(OP_PONG, b"hi")]


def test_a_connection_the_server_closed_is_reported_lost(pair) -> None:
    client, server = pair
    server.close()
    assert read_in_hub(client, _buffer(), Connection(PlainProtocol()).receive) is None
