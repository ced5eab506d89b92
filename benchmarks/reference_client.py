"""The fidelity reference: one raw websocket-client loop, no Locust, no gevent, its own process.

It asks the streaming target one prompt after another for ``--duration`` seconds and measures, as
wslocust does, from the send to the arrival of the first chunk (time to first chunk) and to the
arrival of the end message (total time). When the end message says when the target sent the
first chunk and the end (``first_ms``, ``end_ms``: the llm target's), it also keeps each reply's
times beyond those. It prints one JSON line: every reply's sample, with the time it ended
(``time.monotonic()``: the system's monotonic clock, shared by every process), and its CPU time.
``run.py`` starts the loops before the Locust process's window opens and pools the samples of the
replies that ended within it (see ``processes.Reference``). A ``wss://`` URL is reached
without checking the certificate (the benchmarks' is self-signed).

    .venv/bin/python benchmarks/reference_client.py --url ws://127.0.0.1:PORT --duration 30
"""

from __future__ import annotations

import argparse
import json
import resource
import ssl
import time
from typing import Any

import websocket

PROMPT = json.dumps({"type": "prompt", "prompt": "What are your opening hours?"})


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--max-replies", type=int, default=1_000_000)
    args = parser.parse_args()
    sslopt: dict[str, Any] = {"cert_reqs": ssl.CERT_NONE} if args.url.startswith("wss:") else {}
    ws = websocket.create_connection(args.url, timeout=30, enable_multithread=False, sslopt=sslopt)
    perf_counter = time.perf_counter
    # Each reply: when it ended (time.monotonic()), its time to first chunk, its total time, and
    # their times beyond the target's (None where the reply or the target gave none).
    samples: list[tuple[float, float | None, float, float | None, float | None]] = []
    end = perf_counter() + args.duration
    while perf_counter() < end and len(samples) < args.max_replies:
        start = perf_counter()
        ws.send(PROMPT)
        first = None
        while True:
            message = ws.recv()
            now = perf_counter()
            event = json.loads(message)
            kind = event.get("type")
            if kind == "chunk" and first is None:
                first = now
            elif kind == "end":
                break
        ended = time.monotonic()
        ttft_ms = None if first is None else (first - start) * 1000.0
        total_ms = (now - start) * 1000.0
        ttft_beyond_ms = ttft_ms - event["first_ms"] if ttft_ms is not None and "first_ms" in event else None
        total_beyond_ms = total_ms - event["end_ms"] if "end_ms" in event else None
        samples.append((ended, ttft_ms, total_ms, ttft_beyond_ms, total_beyond_ms))
    ws.close()
    print(
        json.dumps(
            {
                "samples": samples,
                "replies": len(samples),
                "cpu_s": resource.getrusage(resource.RUSAGE_SELF).ru_utime
                + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
