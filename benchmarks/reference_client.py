"""The fidelity reference: one raw websocket-client loop, no Locust, no gevent, its own process.

It asks the streaming target one prompt after another for ``--duration`` seconds and measures, as
wslocust does, from the send to the arrival of the first chunk (time to first chunk) and to the
arrival of the end message (total time). It prints one JSON line: every sample of both, their count
and its CPU time (``run.py`` pools the samples of several loops and takes their percentiles).

    .venv/bin/python benchmarks/reference_client.py --url ws://127.0.0.1:PORT --duration 30
"""

from __future__ import annotations

import argparse
import json
import resource
import time

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
    ws = websocket.create_connection(args.url, timeout=30, enable_multithread=False)
    perf_counter = time.perf_counter
    ttft_ms: list[float] = []
    total_ms: list[float] = []
    end = perf_counter() + args.duration
    while perf_counter() < end and len(total_ms) < args.max_replies:
        start = perf_counter()
        ws.send(PROMPT)
        first = None
        while True:
            message = ws.recv()
            now = perf_counter()
            kind = json.loads(message).get("type")
            if kind == "chunk" and first is None:
                first = now
            elif kind == "end":
                break
        if first is not None:
            ttft_ms.append((first - start) * 1000.0)
        total_ms.append((now - start) * 1000.0)
    ws.close()
    print(
        json.dumps(
            {
                "ttft_ms": ttft_ms,
                "total_ms": total_ms,
                "replies": len(total_ms),
                "cpu_s": resource.getrusage(resource.RUSAGE_SELF).ru_utime
                + resource.getrusage(resource.RUSAGE_SELF).ru_stime,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
