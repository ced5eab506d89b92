"""A websockets (asyncio) server whose permessage-deflate settings a test chooses: the real peer of the
compressed-connection tests, run in a subprocess.

    python tests/websockets_server.py --deflate '{"server_no_context_takeover": true}'
    python tests/websockets_server.py --no-compression

It prints ``listening on ws://127.0.0.1:PORT`` and answers each text message with one text message
(the ``plain`` protocol's reply): ``big N`` with N bytes of compressible text, ``fragments N`` with
the same text sent in fragments of 1,000 characters; anything else with a JSON document holding the
prompt and the permessage-deflate parameters the server agreed (``null`` when none), so a test sees
that the prompt arrived whole and that both sides agree. It stops when its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.extensions.permessage_deflate import PerMessageDeflate, ServerPerMessageDeflateFactory

FILLER = "Refunds are processed within five to seven business days of the return. "


def filler(size: int) -> str:
    return (FILLER * (size // len(FILLER) + 1))[:size]


def agreed(connection: ServerConnection) -> dict[str, Any] | None:
    """The parameters as the server agreed them, named from the client's side (as RFC 7692 names them)."""
    for extension in connection.protocol.extensions:
        if isinstance(extension, PerMessageDeflate):
            return {
                "server_no_context_takeover": extension.local_no_context_takeover,
                "client_no_context_takeover": extension.remote_no_context_takeover,
                "server_max_window_bits": extension.local_max_window_bits,
                "client_max_window_bits": extension.remote_max_window_bits,
            }
    return None


async def answer(connection: ServerConnection) -> None:
    async for message in connection:
        assert isinstance(message, str)
        word, _, size = message.partition(" ")
        if word == "big":
            await connection.send(filler(int(size)))
        elif word == "fragments":
            text = filler(int(size))
            await connection.send([text[start : start + 1000] for start in range(0, len(text), 1000)])
        else:
            await connection.send(json.dumps({"prompt": message, "deflate": agreed(connection)}))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deflate", default="{}", help="ServerPerMessageDeflateFactory's arguments, JSON")
    parser.add_argument("--no-compression", action="store_true", help="decline permessage-deflate")
    options = parser.parse_args()
    extensions = (
        None if options.no_compression else [ServerPerMessageDeflateFactory(**json.loads(options.deflate))]
    )
    async with serve(
        answer, "127.0.0.1", 0, extensions=extensions, compression=None, max_size=None
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
