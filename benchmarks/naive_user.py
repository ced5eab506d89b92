"""The naive reference: a minimal Locust user that does websocket-client ``send`` then ``recv`` and
fires one request event a round trip: what a load generator costs without wslocust's I/O path."""

from __future__ import annotations

from locust import User, task

import time

import websocket


class NaiveWebSocketUser(User):
    """One websocket-client connection; each task sends a prompt and waits for one reply."""

    abstract = True  # the benchmark names it; Locust's CLI must not pick it up by itself
    prompt = "What are your opening hours?"

    def on_start(self) -> None:
        self.ws = websocket.create_connection(str(self.host), enable_multithread=False)

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
