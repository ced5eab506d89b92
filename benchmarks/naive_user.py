"""The naive references: minimal Locust users on websocket-client, what a load generator costs
without wslocust's I/O path.

``NaiveWebSocketUser`` sends a prompt, waits for one reply (``send`` then ``recv``) and fires one
request event a round trip. ``NaiveStreamingUser`` sends a prompt in a stream's shape, then reads
its events one ``recv`` at a time (``json.loads``, the event's type: a chunk's text kept, the end
ends it) and fires one request event a reply. Both take ``wss://`` hosts without checking the
target's certificate (the benchmarks' is self-signed, made at run time).
"""

from __future__ import annotations

from locust import User, task

import json
import ssl
import time
from typing import Any, ClassVar

import websocket

__all__ = ["FloorStreamingUser", "NaiveStreamingUser", "NaiveWebSocketUser", "connect"]


def connect(url: str) -> websocket.WebSocket:
    """A websocket-client connection; over TLS, the certificate is not checked."""
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_NONE} if url.startswith("wss:") else {}
    return websocket.create_connection(url, enable_multithread=False, sslopt=options)


class NaiveWebSocketUser(User):
    """One websocket-client connection; each task sends a prompt and waits for one reply."""

    abstract = True  # the benchmark names it; Locust's CLI must not pick it up by itself
    prompt = "What are your opening hours?"

    def on_start(self) -> None:
        self.ws = connect(str(self.host))

    def on_stop(self) -> None:
        self.ws.close()

    @task
    def ask(self) -> None:
        started_at = time.time()
        start = time.perf_counter()
        self.ws.send(self.prompt)
        reply = self.ws.recv()
        self.environment.events.request.fire(
            request_type="WS", name="naive", response_time=(time.perf_counter() - start) * 1000.0,
            response_length=len(reply), exception=None, context={}, start_time=started_at, url=None,
        )  # fmt: skip


# A stream's shape: the prompt's messages, and the event types of a chunk (its text's key), the end
# and an error.
PROMPT = "What are your opening hours?"
SHAPES: dict[str, dict[str, Any]] = {
    "json": {
        "prompt": [json.dumps({"type": "prompt", "prompt": PROMPT})],
        "chunk": "chunk", "text": "text", "end": "end", "error": "error",
    },
    "apigw": {
        "prompt": [json.dumps({"action": "sendMessage", "data": {"prompt": PROMPT}})],
        "chunk": "chunk", "text": "text", "end": "end", "error": "error",
    },
    "openai-realtime": {
        "prompt": [
            json.dumps({"type": "conversation.item.create", "item": {"type": "message", "role": "user",
                        "content": [{"type": "input_text", "text": PROMPT}]}}),
            json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}}),
        ],
        "chunk": "response.output_text.delta", "text": "delta", "end": "response.done", "error": "error",
    },
}  # fmt: skip


class NaiveStreamingUser(User):
    """One websocket-client connection; each task sends a prompt in :attr:`shape`'s format and reads
    the streamed reply's events until its end, then fires one request event."""

    abstract = True
    shape = "json"
    chunks: ClassVar[int] = 0
    """Chunks read by every such user of this process (the benchmark's count)."""

    def on_start(self) -> None:
        self.ws = connect(str(self.host))
        found = SHAPES[self.shape]
        self.prompt_messages: list[str] = found["prompt"]
        self.types: tuple[str, str, str, str] = (found["chunk"], found["text"], found["end"], found["error"])

    def on_stop(self) -> None:
        self.ws.close()

    @task
    def ask(self) -> None:
        chunk_type, text_key, end_type, error_type = self.types
        started_at = time.time()
        start = time.perf_counter()
        for prompt in self.prompt_messages:
            self.ws.send(prompt)
        first: float | None = None
        texts: list[str] = []
        length = 0
        error: Exception | None = None
        while True:
            message = self.ws.recv()
            length += len(message)
            event = json.loads(message)
            kind = event.get("type")
            if kind == chunk_type:
                if first is None:
                    first = time.perf_counter()
                texts.append(event.get(text_key) or "")
            elif kind == end_type:
                break
            elif kind == error_type:
                error = RuntimeError(str(event))
                break
        now = time.perf_counter()
        NaiveStreamingUser.chunks += len(texts)
        self.environment.events.request.fire(
            request_type="WS", name="naive", response_time=(now - start) * 1000.0, response_length=length,
            exception=error, start_time=started_at, url=None,
            context={"time_to_first_chunk_ms": None if first is None else (first - start) * 1000.0,
                     "chunks": len(texts), "reply": "".join(texts)},
        )  # fmt: skip


class FloorStreamingUser(User):
    """The floor of a streamed chunk's cost on this machine: what one wake-up and one read cost with
    nothing parsed. A prompt in :attr:`shape`'s format goes out on the connection's OS socket; each
    block of the reply is read (``recvmsg_into`` with the kernel's receive time, as wslocust reads)
    by the connection's libev watcher's callback in the hub, and only searched for the chunk event's
    type (counted: blocks may hold several chunks on a busy machine) and the end event's; the user's
    greenlet is woken once, when a block holds the end, and fires one request event a reply. Its
    cost a chunk is what no client reading each chunk as it comes can go below."""

    abstract = True
    shape = "json"
    chunks: ClassVar[int] = 0
    """Chunk events read by every such user of this process (the benchmark's count)."""

    def on_start(self) -> None:
        import _socket
        import socket

        from gevent import get_hub

        self.ws = connect(str(self.host))
        sock: Any = self.ws.sock
        self.raw: _socket.socket = sock._sock  # gevent's wrapper's OS socket (non-blocking)
        self.raw.setsockopt(socket.SOL_SOCKET, 35, 1)  # SO_TIMESTAMPNS, as wslocust asks
        self.hub = get_hub()
        self.watcher = self.hub.loop.io(self.raw.fileno(), 1)
        found = SHAPES[self.shape]
        self.prompt_frames = [websocket.ABNF.create_frame(text, websocket.ABNF.OPCODE_TEXT).format()
                              for text in found["prompt"]]  # fmt: skip
        self.end_marker = f'"type":"{found["end"]}"'.encode()
        self.chunk_marker = f'"type":"{found["chunk"]}"'.encode()
        self.buffer = bytearray(65536)

    def on_stop(self) -> None:
        self.watcher.close()
        self.ws.close()

    @task
    def ask(self) -> None:
        from gevent._waiter import Waiter

        started_at = time.time()
        start = time.perf_counter()
        for frame in self.prompt_frames:
            self.raw.send(frame)
        waiter: Waiter[Any] = Waiter()
        buffer = self.buffer
        buffers = [memoryview(buffer)]
        end_marker, chunk_marker = self.end_marker, self.chunk_marker
        recvmsg_into = self.raw.recvmsg_into
        length = 0

        def readable() -> None:
            nonlocal length
            try:
                size, _stamps, _flags, _address = recvmsg_into(buffers, 64)
            except BlockingIOError:
                return
            FloorStreamingUser.chunks += buffer.count(chunk_marker, 0, size)
            length += size
            if not size or buffer.find(end_marker, 0, size) >= 0:
                self.watcher.stop()
                waiter.switch(None)

        self.watcher.start(readable)
        waiter.get()
        self.environment.events.request.fire(
            request_type="WS", name="floor", response_time=(time.perf_counter() - start) * 1000.0,
            response_length=length, exception=None, context={}, start_time=started_at, url=None,
        )  # fmt: skip
