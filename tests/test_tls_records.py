"""``TlsSocket.decrypt``, the lean path's TLS: whatever the blocks the server's records arrive in (a
record a block, several, one split over blocks, full 16 KiB records, a record begun in a block
smaller than its plaintext), the plaintext comes out whole and in order, and TLS keeps no whole
record or plaintext between blocks. Both ends in memory (a server ``SSLObject`` over memory BIOs):
bytes only, no socket."""

from __future__ import annotations

import contextlib
import ssl

import pytest

from wslocust.sockets import RECEIVE_BYTES
from wslocust.tls import TlsSocket
from wslocust.tls_context import tls_context


class Peers:
    """A client TlsSocket and a server SSLObject, their handshake done in memory."""

    def __init__(self, server_context: ssl.SSLContext) -> None:
        self.client = TlsSocket(None, tls_context(False), "bot.test")  # type: ignore[arg-type]
        self.into_server, self.from_server = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.server = server_context.wrap_bio(self.into_server, self.from_server, server_side=True)
        client_done = server_done = False
        for _ in range(10):
            client_done = self._step(self.client.ssl_object.do_handshake)
            self.into_server.write(self.client._outgoing.read())
            server_done = self._step(self.server.do_handshake)
            self.client._take_in(self.from_server.read())
            if client_done and server_done:
                break
        assert client_done
        assert server_done
        self.buffer = memoryview(bytearray(RECEIVE_BYTES))
        # The server's session tickets (TLS 1.3 sends them after the handshake): read, no plaintext.
        self.held_nothing_whole()

    @staticmethod
    def _step(handshake: object) -> bool:
        try:
            handshake()  # type: ignore[operator]
        except ssl.SSLWantReadError:
            return False
        return True

    def records(self, *messages: bytes) -> bytes:
        """The server's records of ``messages`` (each written whole: one record a 16 KiB of it)."""
        for message in messages:
            self.server.write(message)
        return self.from_server.read()

    def decrypt_blocks(self, blocks: list[bytes]) -> list[bytes]:
        """Each block's plaintext, each block read into the hub's buffer as the lean path reads it."""
        out = []
        for block in blocks:
            self.buffer[: len(block)] = block
            out.append(self.client.decrypt(self.buffer, len(block)))
            self.held_nothing_whole()
        return out

    def held_nothing_whole(self) -> None:
        """TLS holds no plaintext and no whole record (a partial one may wait for its rest)."""
        assert self.client.ssl_object.pending() == 0
        assert self.client.decrypt(self.buffer, 0) == b""


@pytest.fixture
def peers(bot_tls_context: ssl.SSLContext) -> Peers:
    return Peers(bot_tls_context)


def split(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` cut into blocks of ``sizes`` in turn (the last block takes the rest)."""
    blocks, position, index = [], 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        blocks.append(data[position : position + size])
        position += size
        index += 1
    return blocks


MESSAGES = [b"a", b"hello there", b"x" * 200, b"y" * 16384, b"z" * 16385, b"w" * 40_000, b"v" * 5]


def test_a_record_a_block_is_read_whole(peers: Peers) -> None:
    for message in MESSAGES:
        assert peers.decrypt_blocks([peers.records(message)]) == [message]


def test_several_records_in_one_block_are_read_in_order(peers: Peers) -> None:
    assert peers.decrypt_blocks([peers.records(*MESSAGES)]) == [b"".join(MESSAGES)]


@pytest.mark.parametrize("sizes", [[1], [5], [6], [21], [22], [23], [100], [7, 300], [16_000], [16_406, 3]])
def test_records_cut_into_blocks_of_any_size_come_out_whole_and_in_order(
    peers: Peers, sizes: list[int]
) -> None:
    """A record begun in an earlier block whose plaintext is larger than the block that ends it included."""
    data = peers.records(*MESSAGES)
    assert b"".join(peers.decrypt_blocks(split(data, sizes))) == b"".join(MESSAGES)


def test_a_small_record_cut_at_every_byte_comes_out_whole(peers: Peers) -> None:
    for cut in range(1, 40):
        record = peers.records(b"a small reply, one record")
        first, second = peers.decrypt_blocks([record[:cut], record[cut:]])
        assert (first, second) == (b"", b"a small reply, one record"), cut


def test_a_block_that_ends_a_large_record_with_a_few_bytes_gives_its_whole_plaintext(peers: Peers) -> None:
    """The last block is shorter than the record's plaintext: its read asks for more than the block."""
    record = peers.records(b"q" * 3000)
    assert peers.decrypt_blocks([record[:-10], record[-10:]]) == [b"", b"q" * 3000]


def test_the_servers_close_notify_ends_the_plaintext(peers: Peers) -> None:
    peers.server.write(b"last words")
    with contextlib.suppress(ssl.SSLWantReadError):
        peers.server.unwrap()
    block = peers.from_server.read()
    peers.buffer[: len(block)] = block
    assert peers.client.decrypt(peers.buffer, len(block)) == b"last words"


def test_what_a_blocking_read_left_is_read_ahead_with_a_size_of_0(peers: Peers) -> None:
    """A blocking read of a few bytes (the upgrade's answer) leaves plaintext and records in TLS."""
    peers.client._take_in(peers.records(b"HTTP/1.1 101 ...\r\n\r\n", b"a ping"))
    assert peers.client.recv(4) == b"HTTP"
    assert peers.client.decrypt(peers.buffer, 0) == b"/1.1 101 ...\r\n\r\na ping"
    peers.held_nothing_whole()
