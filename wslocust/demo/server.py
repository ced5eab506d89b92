"""The demo chatbot: a real WebSocket server that answers from a dataset's intents.

It speaks every built-in protocol, recognising each request's shape (``--protocol auto``; a handshake
to ``/socket.io/`` speaks Socket.IO, see :mod:`wslocust.demo.socketio`) or held to one, and streams
its answers with a configurable time to first chunk, gap between chunks and chunk count. Faults can
be injected at a rate: bot errors, wrong answers, a close mid-reply, a reply that never ends, garbage.
It is the embedded default target of ``locustfiles/chatbot.py`` and the peer of the tests.

Run it::

    python -m wslocust.demo --port 8765 --protocol auto --ttft-ms 150 --itl-ms 20 --chunks 30

It prints ``listening on ws://HOST:PORT`` once it accepts connections (``--port 0`` picks a free
port). ``GET http://HOST:PORT/stats`` answers what it did so far, as JSON: connections, replies
started (prompts it began answering) and completed, wrong answers among them, errors, closes and
hangs injected, Socket.IO prompts ignored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import signal
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..values import argument_type, count, fraction, integer, milliseconds, port, seconds
from . import sessions
from .context import DialogueContext, known_records
from .inflight import answer_beside
from .socketio import (
    SocketIOConversation,
    SocketIOSettings,
    add_socketio_arguments,
    refuse_engineio_request,
    settings_from_options,
    socketio_options_error,
    speaks_engineio,
)
from .voice import VOICE_PROTOCOLS, VoiceConversation, VoiceSettings, add_voice_arguments, voice_settings

__all__ = [
    "DEFAULT_DATASET",
    "PROTOCOL_CHOICES",
    "Behaviour",
    "Knowledge",
    "main",
    "run_server",
]

DEFAULT_DATASET = Path(__file__).resolve().parent / "data" / "support_bot.jsonl"
"""The sample dataset, installed with the package (a clone's ``datasets/support_bot.jsonl`` links to it),
answered from when no ``--dataset`` is given."""

PROTOCOL_CHOICES = ("auto", "plain", "json", "apigw", "openai-realtime", "socketio", "rasa", *VOICE_PROTOCOLS)

_GENERIC = (
    "Thanks for your message. I can help with billing, refunds, orders, shipping, plans, roaming, "
    "technical problems and account security. Could you tell me a little more about what you need?"
)
_log = logging.getLogger("wslocust.demo")


@dataclass(frozen=True)
class Behaviour:
    """How the demo bot answers: timing and injected faults (rates are fractions of replies)."""

    protocol: str = "auto"
    ttft_ms: float = 150.0
    itl_ms: float = 20.0
    chunks: int = 10
    error_rate: float = 0.0
    wrong_rate: float = 0.0
    close_rate: float = 0.0
    hang_rate: float = 0.0
    garbage_rate: float = 0.0
    push_delay_ms: float | None = None
    require_header: str | None = None
    seed: int | None = None
    stall_every_s: float | None = None
    stall_ms: float = 1000.0
    degrade_after: int | None = None
    degrade_ms: float = 0.0
    socketio: SocketIOSettings = field(default_factory=SocketIOSettings)
    sessions: sessions.SessionSettings = field(default_factory=sessions.SessionSettings)
    voice: VoiceSettings = field(default_factory=VoiceSettings)


@dataclass
class Counts:
    """What the demo bot did, served as JSON at ``GET /stats`` (the server-side truth for tests).

    ``ignored`` counts Socket.IO prompts dropped unanswered (Rasa with session persistence: no
    ``session_id``).
    """

    connections: int = 0
    started: int = 0
    replies: int = 0
    wrong: int = 0
    errors: int = 0
    closes: int = 0
    hangs: int = 0
    ignored: int = 0
    streaming: int = 0
    """Replies being streamed right now, over every connection (``--degrade-after`` counts them)."""

    def as_json(self) -> str:
        return json.dumps(self.__dict__)


class Knowledge:
    """Answers by question, from a dataset of records with ``Question``/``Intent``/``Answer`` fields.

    Args:
        path: a ``.jsonl`` dataset; missing or None gives a bot that answers generically.
    """

    def __init__(self, path: Path | None) -> None:
        self.by_question: dict[str, tuple[str, str]] = {}
        self.by_intent: dict[str, list[str]] = defaultdict(list)
        if path is None or not path.is_file() or path.suffix != ".jsonl":
            return
        for record in known_records(path):  # a conversation's turns too
            question = record.get("Question") or record.get("question") or record.get("prompt")
            intent = str(record.get("Intent") or record.get("intent") or "general")
            answer = record.get("Answer") or record.get("answer")
            if not answer:
                keywords = record.get("Keywords") or []
                answer = f"About {intent}: " + ", ".join(map(str, keywords)) + "."
            if isinstance(question, str):
                self.by_question[question.strip()] = (intent, str(answer))
            self.by_intent[intent].append(str(answer))

    def answer(self, question: str, rng: random.Random, wrong: bool) -> tuple[str, str]:
        """Return (intent, answer) for a question; a wrong one answers another intent's question."""
        intent, answer = self.by_question.get(question.strip(), ("general", _GENERIC))
        if wrong:
            others = [name for name in self.by_intent if name != intent]
            if others:
                intent = rng.choice(others)
                return intent, rng.choice(self.by_intent[intent])
            return "general", _GENERIC
        return intent, answer


def split_chunks(text: str, count: int) -> list[str]:
    """Split ``text`` into exactly ``count`` non-empty pieces (fewer only when text is shorter)."""
    count = max(1, min(count, len(text))) if text else 1
    words = text.split(" ")
    if len(words) >= count:
        size, extra = divmod(len(words), count)
        pieces, start = [], 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            pieces.append(" ".join(words[start:end]) + (" " if end < len(words) else ""))
            start = end
        return pieces
    size, extra = divmod(len(text), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


async def _stall_pause(behaviour: Behaviour, loop: asyncio.AbstractEventLoop, origin: float) -> None:
    """Wait while the whole bot is stalled (the first ``stall_ms`` of every ``stall_every_s``)."""
    if not behaviour.stall_every_s:
        return
    into_cycle = (loop.time() - origin) % behaviour.stall_every_s
    if into_cycle < behaviour.stall_ms / 1000.0:
        await asyncio.sleep(behaviour.stall_ms / 1000.0 - into_cycle)


class Conversation:
    """One connection's dialogue: reads requests, streams answers."""

    _ids = itertools.count(1)
    origin = 0.0  # loop time the server started: stalls are counted from it

    def __init__(
        self, connection: ServerConnection, knowledge: Knowledge, behaviour: Behaviour, counts: Counts
    ) -> None:
        self.connection = connection
        self.counts = counts
        self.knowledge = knowledge
        self.behaviour = behaviour
        self.rng = random.Random(None if behaviour.seed is None else behaviour.seed + next(self._ids))
        self.connection_id = f"demo{next(self._ids):06d}="
        self.pending_realtime_text: str | None = None
        self.session_id: str | None = None  # the session mode's, sent in the welcome
        self.context = DialogueContext(knowledge)  # a follow-up is answered on the earlier topic
        self.voice = VoiceConversation(connection, behaviour.voice, behaviour.protocol, counts)

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    async def run(self) -> None:
        self.session_id, greeting = sessions.welcome(self.behaviour.sessions)
        if greeting is not None:
            await self._send_json(greeting)
        if self.behaviour.protocol == "openai-realtime":
            await self._send_json(
                {"type": "session.created", "session": {"id": f"sess_{self.connection_id}"}}
            )
        async for message in self.connection:
            voice = self.voice.takes(message)  # audio turns: wslocust.demo.voice
            if voice is not None:
                await self.voice.handle(voice)
                continue
            text = message if isinstance(message, str) else message.decode("utf-8", "replace")
            if not answer_beside(self, text):  # a prompt carrying its id is answered beside the others
                await self.handle(text)

    def _dialect(self, message: str) -> tuple[str, Any]:
        forced = self.behaviour.protocol
        if forced == "plain":
            return "plain", message
        try:
            document = json.loads(message)
        except ValueError:
            return ("plain", message) if forced == "auto" else ("invalid", message)
        if not isinstance(document, dict):
            return ("plain", message) if forced == "auto" else ("invalid", message)
        if forced != "auto":
            return forced, document
        if str(document.get("type", "")).startswith(("conversation.", "response.", "session.")):
            return "openai-realtime", document
        if "action" in document:
            return "apigw", document
        return "json", document

    async def handle(self, message: str) -> None:
        dialect, document = self._dialect(message)
        refused = isinstance(document, dict) and sessions.prompt_refusal(
            self.behaviour.sessions, document, self.session_id
        )
        if refused:
            await self._send_json({"type": "error", "message": refused})
            return
        if dialect == "plain":
            await self.answer_plain(message)
        elif dialect == "openai-realtime":
            await self.handle_realtime(document)
        elif dialect == "apigw":
            if document.get("action") != "sendMessage":
                await self._send_json(self._gateway_error("Forbidden"))
                return
            data = document.get("data")
            prompt = data.get("prompt") if isinstance(data, dict) else data
            await self.answer_json(str(prompt or ""), gateway=True)
        elif dialect == "json":
            await self.answer_json(str(document.get("prompt") or document.get("text") or ""), gateway=False)
        else:
            await self._send_json({"type": "error", "message": "request is not a JSON object"})

    def _gateway_error(self, message: str) -> dict[str, str]:
        return {
            "message": message,
            "connectionId": self.connection_id,
            "requestId": f"req{self.rng.getrandbits(32):08x}",
        }

    async def _send_json(self, document: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(document, ensure_ascii=False))

    async def stream(self, question: str, send_chunk: Any) -> tuple[str, str, bool]:
        """Wait out the timing and hand each chunk to ``send_chunk``; return (intent, answer, ok).

        ok is False when the injected fault was an error (the caller sends the error); a hang or a
        close never returns normally.
        """
        behaviour = self.behaviour
        self.counts.started += 1
        wrong = self._roll(behaviour.wrong_rate)
        intent, answer = self.context.answer(question, self.rng, wrong)
        fail = self._roll(behaviour.error_rate)
        hang = self._roll(behaviour.hang_rate)
        close = self._roll(behaviour.close_rate)
        pieces = split_chunks(answer, behaviour.chunks)
        loop = asyncio.get_running_loop()
        start = loop.time()
        # Past --degrade-after replies streaming at once, each reply slows by --degrade-ms per reply over.
        streaming = self.counts.streaming
        over = streaming + 1 - behaviour.degrade_after if behaviour.degrade_after is not None else 0
        slower_s = max(0, over) * behaviour.degrade_ms / 1000.0
        self.counts.streaming += 1
        try:
            return await self._send_pieces(
                pieces, start, slower_s, send_chunk, (intent, answer), (wrong, fail, hang, close)
            )
        finally:
            self.counts.streaming -= 1

    async def _send_pieces(
        self,
        pieces: list[str],
        start: float,
        slower_s: float,
        send_chunk: Any,
        said: tuple[str, str],
        faults: tuple[bool, bool, bool, bool],
    ) -> tuple[str, str, bool]:
        """Send the pieces on their schedule, injecting the rolled faults."""
        behaviour = self.behaviour
        loop = asyncio.get_running_loop()
        intent, answer = said
        wrong, fail, hang, close = faults
        if slower_s > 0:  # a bot drops a closed connection's work: its slowdown ends with the connection
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.connection.wait_closed(), slower_s)
                raise ConnectionClosed(None, None)
        for index, piece in enumerate(pieces):
            due = start + slower_s + (behaviour.ttft_ms + index * behaviour.itl_ms) / 1000.0
            await asyncio.sleep(max(0.0, due - loop.time()))
            await _stall_pause(behaviour, loop, Conversation.origin)
            if fail and index == 0:
                self.counts.errors += 1
                return intent, answer, False
            if close and index == len(pieces) // 2:
                self.counts.closes += 1
                await self.connection.close(1011, "demo: injected failure")
                raise ConnectionClosed(None, None)
            if self._roll(behaviour.garbage_rate):
                await self.connection.send("\x00garbage{")
            await send_chunk(piece)
        if hang:
            self.counts.hangs += 1
            await self.connection.wait_closed()  # no end while connected: the client's reply timeout fires
            raise ConnectionClosed(None, None)
        self.counts.replies += 1
        self.counts.wrong += wrong
        return intent, answer, True

    async def _push_later(self) -> None:
        if self.behaviour.push_delay_ms is None:
            return
        await asyncio.sleep(self.behaviour.push_delay_ms / 1000.0)
        with contextlib.suppress(ConnectionClosed):
            await self.connection.send(json.dumps({"type": "status", "text": "push: agents online 12"}))

    async def answer_plain(self, question: str) -> None:
        pieces: list[str] = []

        async def collect(piece: str) -> None:
            pieces.append(piece)

        _, _, ok = await self.stream(question, collect)
        await self.connection.send("".join(pieces) if ok else "ERROR: the bot could not answer")
        await self._push_later()

    async def answer_json(self, question: str, *, gateway: bool) -> None:
        async def send(piece: str) -> None:
            await self._send_json({"type": "chunk", "text": piece})

        intent, _, ok = await self.stream(question, send)
        if ok:
            await self._send_json({"type": "end", "intent": intent})
        elif gateway:
            await self._send_json(self._gateway_error("Internal server error"))
        else:
            await self._send_json({"type": "error", "message": "model overloaded, try again"})
        await self._push_later()

    async def handle_realtime(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "conversation.item.create":
            content = (event.get("item") or {}).get("content") or [{}]
            self.pending_realtime_text = str(content[0].get("text", ""))
            await self._send_json({"type": "conversation.item.created", "item": event.get("item")})
            return
        if kind != "response.create":
            await self._send_json(
                {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": f"unknown event {kind}"},
                }
            )
            return
        beta = "modalities" in (event.get("response") or {})
        delta_type = "response.text.delta" if beta else "response.output_text.delta"
        response_id = f"resp_{self.rng.getrandbits(48):012x}"
        await self._send_json(
            {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}
        )

        async def send(piece: str) -> None:
            await self._send_json({"type": delta_type, "response_id": response_id, "delta": piece})

        question, self.pending_realtime_text = self.pending_realtime_text or "", None
        intent, answer, ok = await self.stream(question, send)
        status = "completed" if ok else "failed"
        response: dict[str, Any] = {"id": response_id, "status": status, "metadata": {"intent": intent}}
        if ok:
            response["usage"] = {"output_tokens": len(answer.split())}
        else:
            response["status_details"] = {"type": "failed", "error": {"message": "demo: injected failure"}}
        await self._send_json({"type": "response.done", "response": response})
        await self._push_later()


def _process_request(behaviour: Behaviour, counts: Counts) -> Any:
    """Serve ``GET /stats``; refuse handshakes without the required header (HTTP 401)."""
    name, _, value = (behaviour.require_header or "").partition(":")
    name, value = name.strip(), value.strip()

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/stats":
            response = connection.respond(HTTPStatus.OK, counts.as_json() + "\n")
            response.headers["Content-Type"] = "application/json"
            return response
        if name and request.headers.get(name) != value:
            return connection.respond(HTTPStatus.UNAUTHORIZED, "missing or wrong credentials\n")
        secret = behaviour.sessions.token_secret
        token = sessions.request_token(request.path, request.headers.get("Authorization"))
        if secret is not None and (problem := sessions.token_problem(token, secret)):
            return connection.respond(HTTPStatus.UNAUTHORIZED, problem + "\n")
        if speaks_engineio(request.path, behaviour.protocol) and (
            refused := refuse_engineio_request(connection, request)
        ):
            return refused
        counts.connections += 1
        return None

    return process_request


async def run_server(
    host: str,
    port: int,
    knowledge: Knowledge,
    behaviour: Behaviour,
    *,
    ping_interval_s: float | None = 20.0,
    ping_timeout_s: float | None = 20.0,
    compression: str | None = "deflate",
) -> Server:
    """Start the demo bot; return the listening server (``server.sockets`` holds the address).

    With ``compression="deflate"`` it accepts permessage-deflate when a client offers it; None declines.
    """
    counts = Counts()
    Conversation.origin = asyncio.get_running_loop().time()

    async def converse(connection: ServerConnection) -> None:
        conversation = Conversation(connection, knowledge, behaviour, counts)
        assert connection.request is not None
        with contextlib.suppress(ConnectionClosed):
            if speaks_engineio(connection.request.path, behaviour.protocol):
                await SocketIOConversation(
                    connection, conversation.stream, behaviour.protocol, behaviour.socketio, counts
                ).run()
            else:
                await conversation.run()

    return await serve(
        converse,
        host,
        port,
        process_request=_process_request(behaviour, counts),
        ping_interval=ping_interval_s,
        ping_timeout=ping_timeout_s,
        max_size=1024 * 1024,
        compression=compression,
    )


_SHUTDOWN_WAIT_S = 2.0
"""Seconds a stopping server waits for its connections to close (a hung reply ends with its connection)."""


async def _stop_when_orphaned(stop: asyncio.Event) -> None:
    """Set ``stop`` once the parent process is gone (an embedded demo must not outlive its run)."""
    parent = os.getppid()
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    stop.set()


_ms = argument_type(milliseconds)
_s_or_0 = argument_type(seconds, positive=False)
_share = argument_type(fraction)
_port = argument_type(port, allow_zero=True)


def _parser() -> argparse.ArgumentParser:
    run_as_package = Path(sys.argv[0]).name == "__main__.py"  # python -m wslocust.demo
    parser = argparse.ArgumentParser(
        prog="python -m wslocust.demo" if run_as_package else None,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8765, help="port; 0 picks a free one (default 8765)")
    parser.add_argument("--protocol", choices=PROTOCOL_CHOICES, default="auto", help="dialect (default auto)")
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET, help="jsonl dataset to answer from")
    parser.add_argument("--ttft-ms", type=_ms, default=150.0, help="time to first chunk (default 150)")
    parser.add_argument("--itl-ms", type=_ms, default=20.0, help="gap between chunks (default 20)")
    parser.add_argument(
        "--chunks", type=argument_type(count, minimum=1), default=10, help="chunks a reply (default 10)"
    )
    parser.add_argument("--error-rate", type=_share, default=0.0, help="share of replies that are bot errors")
    parser.add_argument(
        "--wrong-rate", type=_share, default=0.0, help="share of replies answering another intent"
    )
    parser.add_argument(
        "--close-rate", type=_share, default=0.0, help="share of replies cut by a close (1011)"
    )
    parser.add_argument("--hang-rate", type=_share, default=0.0, help="share of replies that never end")
    parser.add_argument(
        "--garbage-rate", type=_share, default=0.0, help="share of chunks preceded by garbage"
    )
    parser.add_argument(
        "--push-delay-ms", type=_ms, default=None, help="push a status message this long after each reply"
    )
    parser.add_argument(
        "--require-header", default=None, help="'Name: value' a client must send, else HTTP 401"
    )
    parser.add_argument(
        "--ping-interval-s", type=_s_or_0, default=20.0, help="server pings (0 = none; default 20)"
    )
    parser.add_argument(
        "--ping-timeout-s", type=_s_or_0, default=20.0, help="drop a client whose pong is this late"
    )
    parser.add_argument(
        "--seed", type=argument_type(integer), default=None, help="seed of the fault injection"
    )
    parser.add_argument(
        "--stall-every-s",
        type=argument_type(seconds),
        default=None,
        help="stall the whole bot once every this many seconds",
    )
    parser.add_argument(
        "--stall-ms", type=_ms, default=1000.0, help="how long each stall lasts (default 1000)"
    )
    parser.add_argument(
        "--degrade-after",
        type=argument_type(count),
        default=None,
        help="slow down past this many replies streaming at once",
    )
    parser.add_argument(
        "--degrade-ms",
        type=_ms,
        default=50.0,
        help="added delay a reply per concurrent reply over the limit",
    )
    parser.add_argument(
        "--compression",
        choices=("deflate", "none"),
        default="deflate",
        help="deflate: accept permessage-deflate when a client offers it (default); none: decline it",
    )
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process ends")
    add_socketio_arguments(parser)
    sessions.add_session_arguments(parser)
    add_voice_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo bot until SIGINT or SIGTERM."""
    parser = _parser()
    options = parser.parse_args(argv)
    refused = socketio_options_error(options)
    if refused:
        parser.error(refused)
    logging.basicConfig(level=logging.WARNING, format="demo_server: %(message)s")
    behaviour = Behaviour(
        protocol=options.protocol,
        ttft_ms=options.ttft_ms,
        itl_ms=options.itl_ms,
        chunks=options.chunks,
        error_rate=options.error_rate,
        wrong_rate=options.wrong_rate,
        close_rate=options.close_rate,
        hang_rate=options.hang_rate,
        garbage_rate=options.garbage_rate,
        push_delay_ms=options.push_delay_ms,
        require_header=options.require_header,
        seed=options.seed,
        stall_every_s=options.stall_every_s,
        stall_ms=options.stall_ms,
        degrade_after=options.degrade_after,
        degrade_ms=options.degrade_ms,
        socketio=settings_from_options(options),
        sessions=sessions.session_settings(options),
        voice=voice_settings(options),
    )
    knowledge = Knowledge(options.dataset)

    async def serve_forever() -> None:
        try:
            server = await run_server(
                options.host,
                options.port,
                knowledge,
                behaviour,
                ping_interval_s=options.ping_interval_s or None,
                ping_timeout_s=options.ping_timeout_s or None,
                compression=None if options.compression == "none" else options.compression,
            )
        except OSError as error:
            print(
                f"demo_server: cannot listen on {options.host}:{options.port}: {error.strerror}",
                file=sys.stderr,
            )
            raise SystemExit(2) from None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on ws://{host}:{port}", flush=True)
        watchdog = loop.create_task(_stop_when_orphaned(stop)) if options.exit_with_parent else None
        await stop.wait()
        if watchdog is not None:
            watchdog.cancel()
        server.close()  # stops listening, closes every connection (1001), then waits for the handlers
        try:  # bounded: a client that does not answer the close would hold it for the close timeout
            await asyncio.wait_for(asyncio.shield(server.wait_closed()), _SHUTDOWN_WAIT_S)
        except TimeoutError:
            for connection in server.all_connections:  # open or closing
                connection.transport.abort()  # its handler, a hung reply too, ends with the connection
            await server.wait_closed()

    asyncio.run(serve_forever())
    return 0


if __name__ == "__main__":
    sys.exit(main())
