"""The demo bot's Socket.IO side: Socket.IO v4 over Engine.IO v4 (WebSocket transport), and Rasa's
``socketio`` channel on top of it.

A handshake to ``/socket.io/?EIO=4&transport=websocket`` (any path when the bot is held to
``--protocol socketio`` or ``rasa``) gets an Engine.IO session: the open packet, a ping (``2``) every
``--eio-ping-interval-ms`` and a close when its pong (``3``) is later than ``--eio-ping-timeout-ms``,
as real servers do. On it, Socket.IO namespace connects (``40``, ``40/chat,{auth}``) are answered
``40{"sid": ...}`` or refused ``44{"message": ...}`` (an unknown namespace, or an auth payload
without the ``--require-auth-token``), and prompts are events:

- ``socketio``: ``42["user_uttered", {"message": prompt}]`` is answered with ONE
  ``bot_uttered`` ``{"text": answer}`` (Rasa-like); sent with an ack id (``42<id>[...]``), the answer
  streams as ``--chunks`` ``bot_uttered`` ``{"text": piece}`` events and ends with the ack
  ``43<id>[{"text": answer, "intent": ...}]``; with ``--socketio-end-event done``, it streams so
  and ends with ``42["done", {"intent": ...}]``. A bot error ends the reply all the same: the ack
  or the end event is ``{"error": ...}``, the one reply event ``{"text": "ERROR: ...", "error": ...}``.
- ``rasa``: ``session_request`` ``{"session_id": id}`` is confirmed with ``session_confirm`` (the id),
  and ``user_uttered`` ``{"message", "session_id"}`` gets one ``bot_uttered`` ``{"text": answer}``;
  with ``--rasa-session-persistence`` a message without a ``session_id`` is ignored, as Rasa does.
- ``auto`` (the path said Socket.IO): both of the above, without session persistence.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import ProtocolError
from ..values import BadValue, argument_type, milliseconds
from ..wire import socketio as sio

__all__ = [
    "ENGINEIO_PROTOCOLS",
    "SocketIOConversation",
    "SocketIOSettings",
    "Stream",
    "add_socketio_arguments",
    "refuse_engineio_request",
    "settings_from_options",
    "socketio_options_error",
    "speaks_engineio",
]

ENGINEIO_PROTOCOLS = ("socketio", "rasa")
"""The bot's ``--protocol`` choices that speak Engine.IO on every path."""

ENGINEIO_PATH = "/socket.io/"
"""The path Socket.IO clients connect to by default; ``--protocol auto`` speaks Engine.IO there."""

_BOT_ERROR = "model overloaded, try again"
_BOT_ERROR_TEXT = "ERROR: the bot could not answer"
"""A bot error's reply text, as the ``plain`` dialect's: the reply ends, its grading fails it."""


@dataclass(frozen=True)
class SocketIOSettings:
    """How the bot speaks Socket.IO: heartbeat, namespaces, auth, event names, Rasa sessions."""

    ping_interval_ms: float = 25000.0
    ping_timeout_ms: float = 20000.0
    max_payload: int = 1_000_000
    namespace: str = "/"
    require_auth_token: str | None = None
    event: str = "user_uttered"
    reply_event: str = "bot_uttered"
    end_event: str = ""
    session_persistence: bool = False


def speaks_engineio(path: str, protocol: str) -> bool:
    """Whether a handshake to ``path`` gets an Engine.IO session from a bot held to ``protocol``."""
    if protocol in ENGINEIO_PROTOCOLS:
        return True
    return protocol == "auto" and urlsplit(path).path.rstrip("/") + "/" == ENGINEIO_PATH


def refuse_engineio_request(connection: ServerConnection, request: Request) -> Response | None:
    """Answer HTTP 400 to an Engine.IO handshake this bot cannot serve, as Engine.IO servers do.

    Their error bodies: ``{"code": 0, "message": "Transport unknown"}``,
    ``{"code": 5, "message": "Unsupported protocol version"}``; this bot adds what it expected.
    """
    query = parse_qs(urlsplit(request.path).query)
    version = query.get("EIO", [""])[0]
    transport = query.get("transport", [""])[0]
    if version != "4":
        code, message = 5, f"Unsupported protocol version: EIO={version or '(none)'}, this bot speaks EIO=4"
    elif transport != "websocket":
        code, message = 0, f"Transport unknown: {transport or '(none)'}, this bot speaks transport=websocket"
    else:
        return None
    response = connection.respond(HTTPStatus.BAD_REQUEST, json.dumps({"code": code, "message": message}))
    response.headers["Content-Type"] = "application/json"
    return response


def _namespace(value: object, name: str = "") -> str:
    text = str(value)
    if not text.startswith("/") or "," in text:
        raise BadValue(name, value, "a namespace starting with / and without a comma (/chat)")
    return text


def _event(value: object, name: str = "") -> str:
    text = str(value)
    if not text.strip() or text in sio.RESERVED_EVENTS:
        raise BadValue(name, value, "an event name not reserved by Socket.IO (connect, disconnect...)")
    return text


def socketio_options_error(options: argparse.Namespace) -> str | None:
    """What makes the parsed Socket.IO options unable to end a reply, or None."""
    end = options.socketio_end_event
    for option, name in (
        ("--socketio-reply-event", options.socketio_reply_event),
        ("--socketio-event", options.socketio_event),
    ):
        if end is not None and end == name:
            return f"--socketio-end-event {end!r} is also the {option}: a reply could never end"
    return None


def add_socketio_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bot's Socket.IO options to its command line."""
    group = parser.add_argument_group("Socket.IO and Rasa (--protocol socketio or rasa; auto on /socket.io/)")
    _ms = argument_type(milliseconds, positive=True)
    group.add_argument(
        "--eio-ping-interval-ms", type=_ms, default=25000.0, help="Engine.IO ping interval (default 25000)"
    )
    group.add_argument(
        "--eio-ping-timeout-ms",
        type=_ms,
        default=20000.0,
        help="close the session when a pong is this late (default 20000)",
    )
    group.add_argument(
        "--socketio-namespace",
        type=argument_type(_namespace),
        default="/",
        help="a namespace accepted besides / (others are refused with 44)",
    )
    group.add_argument(
        "--require-auth-token",
        default=None,
        help='the connect auth payload must be {"token": THIS}, else 44 (default: no auth)',
    )
    event = argument_type(_event)
    group.add_argument(
        "--socketio-event", type=event, default="user_uttered", help="prompt event (default user_uttered)"
    )
    group.add_argument(
        "--socketio-reply-event", type=event, default="bot_uttered", help="reply event (default bot_uttered)"
    )
    group.add_argument(
        "--socketio-end-event",
        type=event,
        default=None,
        help="socketio: stream each answer as reply events ended by this event (default: one reply event)",
    )
    group.add_argument(
        "--rasa-session-persistence",
        action="store_true",
        help="rasa: ignore messages without a session_id, as Rasa's session_persistence: true",
    )


def settings_from_options(options: argparse.Namespace) -> SocketIOSettings:
    """The :class:`SocketIOSettings` of a parsed command line."""
    return SocketIOSettings(
        ping_interval_ms=options.eio_ping_interval_ms,
        ping_timeout_ms=options.eio_ping_timeout_ms,
        namespace=options.socketio_namespace,
        require_auth_token=options.require_auth_token,
        event=options.socketio_event,
        reply_event=options.socketio_reply_event,
        end_event=options.socketio_end_event or "",
        session_persistence=options.rasa_session_persistence,
    )


Stream = Callable[[str, Callable[[str], Awaitable[None]]], Awaitable[tuple[str, str, bool]]]
"""The bot's answering: ``stream(prompt, send_piece)`` waits out the timing, hands each piece to
``send_piece``, injects the faults, and returns (intent, answer, ok)."""


class _Counts(Protocol):
    ignored: int


class SocketIOConversation:
    """One Engine.IO session: its heartbeat, its namespaces, and the prompts emitted on them.

    The connection is read all the time (pongs arrive mid-reply); prompts are answered one after
    the other, in the order they came, by one task.

    Args:
        connection: the WebSocket connection.
        stream: how the bot answers a prompt (its timing and faults).
        protocol: the bot's ``--protocol``: ``socketio``, ``rasa``, or ``auto`` (both).
        settings: the Socket.IO options.
        counts: the bot's counters (prompts ignored are counted).
    """

    def __init__(
        self,
        connection: ServerConnection,
        stream: Stream,
        protocol: str,
        settings: SocketIOSettings,
        counts: _Counts,
    ) -> None:
        self.connection = connection
        self.stream = stream
        self.protocol = protocol
        self.settings = settings
        self.counts = counts
        self.connected: set[str] = set()
        self.pong = asyncio.Event()
        self.prompts: asyncio.Queue[tuple[sio.Packet, str]] = asyncio.Queue()

    async def run(self) -> None:
        settings = self.settings
        await self.connection.send(
            sio.encode_open(
                secrets.token_urlsafe(15),
                round(settings.ping_interval_ms),
                round(settings.ping_timeout_ms),
                settings.max_payload,
            )
        )
        tasks = [asyncio.create_task(self._heartbeat()), asyncio.create_task(self._answer_in_turn())]
        try:
            async for message in self.connection:
                await self._receive(message)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _heartbeat(self) -> None:
        """Ping every interval; close the session when a pong is later than the timeout."""
        while True:
            await asyncio.sleep(self.settings.ping_interval_ms / 1000.0)
            self.pong.clear()
            await self.connection.send(sio.PING)
            try:
                await asyncio.wait_for(self.pong.wait(), self.settings.ping_timeout_ms / 1000.0)
            except TimeoutError:
                await self.connection.close(1000, "ping timeout")
                return

    async def _receive(self, message: str | bytes) -> None:
        if isinstance(message, bytes):  # a binary packet's attachment: this bot takes no binary prompts
            return
        try:
            kind, data = sio.decode_engineio(message)
            packet = sio.decode_packet(data) if kind == sio.MESSAGE else None
        except ProtocolError:
            await self.connection.close(1003, "malformed Engine.IO or Socket.IO packet")
            return
        if kind == sio.PONG:
            self.pong.set()
        elif kind == sio.CLOSE:
            await self.connection.close()
        elif packet is not None:
            await self._on_packet(packet)

    async def _on_packet(self, packet: sio.Packet) -> None:
        if packet.type == sio.CONNECT:
            await self._connect(packet)
        elif packet.type == sio.DISCONNECT:
            self.connected.discard(packet.namespace)
        # As servers do, events on a namespace not connected are dropped.
        elif packet.type == sio.EVENT and packet.event and packet.namespace in self.connected:
            await self._on_event(packet, packet.event, (packet.args or [None])[0])

    async def _connect(self, packet: sio.Packet) -> None:
        settings = self.settings
        if packet.namespace not in ("/", settings.namespace):
            await self.connection.send(sio.encode_connect_error("Invalid namespace", packet.namespace))
            return
        token = packet.data.get("token") if isinstance(packet.data, dict) else None
        if settings.require_auth_token is not None and token != settings.require_auth_token:
            await self.connection.send(
                sio.encode_connect_error("Connection rejected by server", packet.namespace)
            )
            return
        self.connected.add(packet.namespace)
        await self.connection.send(sio.encode_connect(packet.namespace, {"sid": secrets.token_urlsafe(15)}))

    async def _on_event(self, packet: sio.Packet, name: str, payload: Any) -> None:
        protocol = self.protocol
        if name == "session_request" and protocol != "socketio":
            asked = payload.get("session_id") if isinstance(payload, dict) else None
            session_id = str(asked) if asked else secrets.token_hex(16)
            await self._emit(packet.namespace, "session_confirm", session_id)
        elif name == self.settings.event:
            persistent = protocol == "rasa" and self.settings.session_persistence
            if persistent and not (isinstance(payload, dict) and payload.get("session_id")):
                self.counts.ignored += 1  # Rasa warns and drops it: no reply ever comes
                return
            self.prompts.put_nowait((packet, _prompt_of(payload)))

    async def _answer_in_turn(self) -> None:
        while True:
            packet, prompt = await self.prompts.get()
            streamed = self.protocol != "rasa" and (packet.id is not None or self.settings.end_event)
            with contextlib.suppress(ConnectionClosed):
                if streamed:
                    await self._answer_streamed(packet, prompt)
                else:
                    await self._answer_whole(packet, prompt)

    async def _answer_streamed(self, packet: sio.Packet, prompt: str) -> None:
        """Stream the answer as reply events, then acknowledge the prompt with the whole answer (when
        it asked for an ack), else emit the end event ``{"intent": ...}``."""

        async def send(piece: str) -> None:
            await self._emit(packet.namespace, self.settings.reply_event, {"text": piece})

        intent, answer, ok = await self.stream(prompt, send)
        last = {"intent": intent} if ok else {"error": _BOT_ERROR}
        if packet.id is not None:
            result = {"text": answer, **last} if ok else last
            await self.connection.send(sio.encode_ack(packet.id, result, namespace=packet.namespace))
        else:
            await self._emit(packet.namespace, self.settings.end_event, last)

    async def _answer_whole(self, packet: sio.Packet, prompt: str) -> None:
        """Emit the answer as one reply event (as Rasa does), after the whole stream's time."""

        async def collect(piece: str) -> None:
            pieces.append(piece)

        pieces: list[str] = []
        _, _, ok = await self.stream(prompt, collect)
        reply = {"text": "".join(pieces)} if ok else {"text": _BOT_ERROR_TEXT, "error": _BOT_ERROR}
        await self._emit(packet.namespace, self.settings.reply_event, reply)
        if packet.id is not None:  # Rasa's handler returns nothing: an empty ack
            await self.connection.send(sio.encode_ack(packet.id, namespace=packet.namespace))

    async def _emit(self, namespace: str, event: str, payload: Any) -> None:
        await self.connection.send(sio.encode_event(event, payload, namespace=namespace))


def _prompt_of(payload: Any) -> str:
    """The prompt of an event's payload: its ``message`` (Rasa), ``text`` or ``prompt``, or the string."""
    if isinstance(payload, dict):
        for key in ("message", "text", "prompt"):
            if isinstance(payload.get(key), str):
                return str(payload[key])
        return ""
    return payload if isinstance(payload, str) else ""
