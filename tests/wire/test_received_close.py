"""The close code a server sent is kept on its connection (the client counts connections by it)."""

from __future__ import annotations

import pytest

from wslocust.wire.connection import Close, Connection
from wslocust.wire.frames import OP_CLOSE
from wslocust.wire.protocols import PlainProtocol
from wslocust.wire.reply import Reply

from ..conftest import server_frame


@pytest.mark.parametrize(("payload", "code"), [((1001).to_bytes(2, "big") + b"bye", 1001), (b"", 1005)])
def test_the_servers_close_code_is_kept_mid_reply_or_between_replies(payload: bytes, code: int) -> None:
    for awaiting in (True, False):
        connection = Connection(PlainProtocol())
        assert connection.received_close is None
        if awaiting:
            connection.start(Reply(prompt="hello", name="ask"))
        assert connection.receive(server_frame(OP_CLOSE, payload), 1.0) == [Close(1000)]
        assert connection.received_close == code


def test_a_connection_the_client_fails_has_no_servers_close_code() -> None:
    connection = Connection(PlainProtocol())
    connection.start(Reply(prompt="hello", name="ask"))
    assert connection.receive(server_frame(OP_CLOSE, (999).to_bytes(2, "big")), 1.0) == [Close(1002)]
    assert connection.received_close is None
