"""A completed reply's report: the client's checks run on it, then its one ``WS`` request event.

One place for what every read loop does with a reply it completed (a prompt's round trip in
:mod:`wslocust.client`, a reply read beside others in :mod:`wslocust.inflight`), so the event's
fields are the same whichever loop read it.
"""

from __future__ import annotations

from locust.env import Environment

from collections.abc import Sequence

from .wire.reply import REQUEST_TYPE, Check, Reply

__all__ = ["report_reply"]


def report_reply(environment: Environment, checks: Sequence[Check], reply: Reply) -> None:
    """Run ``checks`` on ``reply`` until one fails it (none run on a failed reply), then fire its
    ``WS`` request event: the whole reply's time, its bytes, its error, and in ``context`` its time
    to first chunk, chunk count and text; ``response`` is the reply itself."""
    for check in checks:
        if reply.error is not None:
            break
        reply.error = check(reply)
    environment.events.request.fire(
        request_type=REQUEST_TYPE,
        name=reply.name,
        response_time=reply.total_time_ms,
        response_length=reply.bytes,
        exception=reply.error,
        context={
            "time_to_first_chunk_ms": reply.time_to_first_chunk_ms,
            "chunks": reply.chunks,
            "reply": reply.text,
        },
        response=reply,
        start_time=reply.started_at,
        url=None,
    )
