"""A real Socket.IO v4 server (python-socketio's AsyncServer under uvicorn) for the tests: run as
``python -m tests.socketio_server [options]``; it prints ``listening on PORT`` once it listens on
127.0.0.1:0.

Every ``user_uttered`` (``ask`` with --ack) is answered after ``--delay-ms`` as ``--mode`` says:

- ``one``: one ``bot_uttered`` ``{"text": "echo: MESSAGE", "delay_ms": D}`` (D: the delay as it
  was, measured from the prompt's arrival to the reply's emit);
- ``chunks``: ``--chunks`` ``bot_uttered`` events ``--gap-ms`` apart, then ``bot_done`` (with --end)
  or nothing (a quiet period ends it);
- ``ack``: ``--chunks`` ``bot_uttered`` events, then the ack ``["echo: MESSAGE"]``;
- ``binary``: a binary event ``file`` first, then one ``bot_uttered``;
- ``disconnect``: the server leaves the namespace instead of answering;
- ``rasa``: Rasa's socketio channel: ``session_request`` is confirmed with ``session_confirm``;
  ``user_uttered`` needs the session id when --session-persistence is set (else it is ignored, as
  Rasa does); the reply goes to the session's room.

``--namespace`` is the only namespace served; ``--token`` makes the connect require
``{"token": TOKEN}``. ``--ping-interval-ms`` makes Engine.IO ping that often and drop a client that
does not pong within ``--ping-timeout-ms``; each client dropped that way is said on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from typing import Any

import socketio
import uvicorn


def build(options: argparse.Namespace) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        ping_interval=options.ping_interval_ms / 1000.0,
        ping_timeout=options.ping_timeout_ms / 1000.0,
        cors_allowed_origins="*",
    )
    namespace = options.namespace
    delay_s = options.delay_ms / 1000.0

    @sio.on("connect", namespace=namespace)  # type: ignore[misc]
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if options.token is not None and (not isinstance(auth, dict) or auth.get("token") != options.token):
            raise socketio.exceptions.ConnectionRefusedError("Not authorized")

    @sio.on("disconnect", namespace=namespace)  # type: ignore[misc]
    async def disconnect(sid: str, reason: Any = None) -> None:
        print(f"disconnected: {reason}", file=sys.stderr, flush=True)

    @sio.on("session_request", namespace=namespace)  # type: ignore[misc]
    async def session_request(sid: str, data: Any) -> None:
        session_id = (data or {}).get("session_id") or "server-made"
        if options.session_persistence:
            await sio.enter_room(sid, session_id, namespace=namespace)
        await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)

    async def answer(sid: str, data: Any) -> Any:
        message = data.get("message") if isinstance(data, dict) else data
        room = sid
        if options.mode == "rasa" and options.session_persistence:
            if not isinstance(data, dict) or not data.get("session_id"):
                return None  # Rasa warns and drops it
            room = data["session_id"]
        received = time.perf_counter()
        await asyncio.sleep(delay_s)
        if options.mode == "disconnect":
            await sio.disconnect(sid, namespace=namespace)
            return None
        if options.mode == "binary":
            await sio.emit("file", {"name": "a.bin", "data": b"\x00\x01\x02"}, room=room, namespace=namespace)
        if options.mode in ("chunks", "ack"):
            for number in range(options.chunks):
                if number:
                    await asyncio.sleep(options.gap_ms / 1000.0)
                await sio.emit("bot_uttered", {"text": f"part{number} "}, room=room, namespace=namespace)
            if options.mode == "ack":
                return f"echo: {message}"
            if options.end:
                await sio.emit("bot_done", {"text": ""}, room=room, namespace=namespace)
            return None
        # The delay injected, as it was (a sleep overshoots): the client's latency must match it.
        delay_ms = (time.perf_counter() - received) * 1000.0
        reply = {"text": f"echo: {message}", "delay_ms": delay_ms}
        await sio.emit("bot_uttered", reply, room=room, namespace=namespace)
        return None

    @sio.on("user_uttered", namespace=namespace)  # type: ignore[misc]
    async def user_uttered(sid: str, data: Any) -> None:
        await answer(sid, data)

    @sio.on("ask", namespace=namespace)  # type: ignore[misc]
    async def ask(sid: str, data: Any) -> Any:
        return await answer(sid, data)

    return sio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--mode", default="one", choices=["one", "chunks", "ack", "binary", "disconnect", "rasa"]
    )
    parser.add_argument("--namespace", default="/")
    parser.add_argument("--token")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--gap-ms", type=float, default=20.0)
    parser.add_argument("--end", action="store_true")
    parser.add_argument("--session-persistence", action="store_true")
    parser.add_argument("--ping-interval-ms", type=float, default=25000.0)
    parser.add_argument("--ping-timeout-ms", type=float, default=20000.0)
    parser.add_argument("--path", default="socket.io")
    options = parser.parse_args()
    app = socketio.ASGIApp(build(options), socketio_path=options.path)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(f"listening on {listener.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", ws="websockets-sansio", lifespan="off")
    asyncio.run(uvicorn.Server(config).serve(sockets=[listener]))


if __name__ == "__main__":
    main()
