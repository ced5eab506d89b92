"""wslocust's benchmarks: what the load generator itself costs, holds and reports.

    npm ci --prefix benchmarks            # once: the Node target's `ws` (run.py does it when missing)
    .venv/bin/python benchmarks/run.py    # every benchmark, 3 runs each, medians; ~15 minutes

It starts its own targets on 127.0.0.1 (``benchmarks/target_server.js``: Node with the ``ws``
package, one process, on the other core) and, for each figure, one Locust process
(``benchmarks/loadgen.py``: Locust in-process, wslocust's plugin and recorder on) whose own CPU time
and memory are measured, so the figures are of the load generator alone. It prints a table and
writes everything (machine, settings, each run, medians) as JSON to ``benchmarks/results/``.

Figures:
    efficiency   client CPU µs a round trip: ChatbotUser (plain protocol, 50 users, no wait) against
                 an echo target, and in the same run the naive reference (benchmarks/naive_user.py)
    compression  the same round trip over compressed connections (``--compression deflate``; the
                 target compresses every echo), beside the uncompressed one measured in the same run,
                 and the compression codec's own CPU a round trip, without I/O
    streaming    client CPU µs a chunk, replies of 100 chunks (json protocol), sent at once and
                 1 ms apart
    connections  idle users holding connections (the target pings every 20 s; pings answered):
                 how many one process holds and its resident memory a connection
    fidelity     1,000 users paced so the Locust process stays near 50% CPU, against a target that
                 injects a time to first chunk and gaps: reported p50/p99 of time to first chunk and
                 total time, beside a raw websocket-client loop measuring the same target meanwhile
    per_chunk    client CPU µs a chunk beside the naive streaming user (benchmarks/naive_user.py) in
                 the same run, for openai-realtime, json and apigw streams, 50 chunks a reply 2 ms
                 apart (one wake-up a chunk) and all at once (one read), on ws:// and wss://; for
                 ws:// chunks 2 ms apart, the floor too (``FloorStreamingUser``: a block read by the
                 watcher's callback and counted, nothing parsed: what one wake-up and one read cost).
                 ``--cases "ws json paced,ws apigw paced"`` runs only these cases (scheme, protocol,
                 pace)
    efficiency_wss  the efficiency figure over TLS: ChatbotUser and the naive user against a wss://
                 echo target; and where its floor is: ChatbotUser's round trip on ws:// in the same
                 run plus TLS's own work a round trip (records encrypted and decrypted in memory)
    fidelity_wss the fidelity figure over TLS: the raw loops are websocket-client over TLS
    users_per_core  ChatbotUsers against a target paced like an LLM chat bot (first token after
                 300 ms, 150-250 tokens 20-40 ms apart, seeded), thinking 5-15 s between replies:
                 users added until the Locust process uses 70% of a core, then the users held,
                 chunks a second, CPU a chunk, and time to first chunk and total time beside raw
                 websocket-client loops measuring the same target meanwhile

``wss://`` targets use a self-signed certificate made at run time (``openssl``); the clients do
not check it (``--insecure``).

Without ``--only``, the first five figures (``make bench``); the others are run by name.

Options: ``--only efficiency,streaming``, ``--runs N``, ``--cases "ws json paced"`` (per_chunk's
cases to run), ``--quick`` (about a second a figure, for the
smoke test), ``--connections 15000,19800``, ``--json PATH``, ``--retries N`` (runs again a disturbed
run this many times at most; 3), ``--quiet-wait S`` (waits for a quiet machine before a run; 120).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from processes import (
    HERE,
    ROOT,
    Reference,
    Target,
    busy_cpu_s,
    ensure_node,
    run_loadgen,
)  # fmt: skip

FIGURES = (
    "efficiency", "compression", "streaming", "connections", "fidelity",
    "per_chunk", "efficiency_wss", "fidelity_wss", "users_per_core",
)  # fmt: skip
DEFAULT_FIGURES = FIGURES[:5]
"""What a run measures unless ``--only`` names figures: the streaming, TLS and users-per-core figures
add half an hour at three runs each, so they are run by name."""
SHAPES = ("openai-realtime", "json", "apigw")
"""The streams of the per-chunk figure: the protocol the users speak (the target's shape follows)."""
REFERENCE_OVERRUN_S = 3.0
"""How long the raw reference loops, started as the Locust process's warm-up begins, run past the
warm-up and the window: they must still be running when the window closes."""


@dataclass
class Settings:
    """Sizes and durations of one benchmark session."""

    runs: int = 3
    warmup_s: float = 2.0
    duration_s: float = 10.0
    users: int = 50
    chunks: int = 100
    paced_gap_ms: float = 1.0
    connections: list[int] = field(default_factory=lambda: [15_000, 19_800])
    connections_hold_s: float = 30.0
    ping_s: float = 20.0
    spawn_rate: float = 1000.0
    tls_spawn_rate: float = 200.0
    """Users started a second on wss:// (each a TLS handshake: a millisecond of CPU either side)."""
    fidelity_users: int = 1000
    fidelity_ttft_ms: float = 20.0
    fidelity_gap_ms: float = 5.0
    fidelity_chunks: int = 10
    fidelity_cpu: float = 0.5
    fidelity_duration_s: float = 30.0
    fidelity_tune_rounds: int = 8
    tune_window_s: float = 3.0
    reference_alone_s: float = 10.0
    codec_round_trips: int = 100_000
    reference_loops: int = 8
    """Raw reference loops beside the fidelity figures' Locust process (about 15 replies a second
    each against the streaming target, 2% of a core): see :func:`fidelity`."""
    quiet_cores: float = 0.3
    """A run during which other processes used more CPU than this (in cores, over any half second of
    a measured window) is disturbed."""
    quiet_wait_s: float = 120.0
    """Before each run, wait up to this long for other processes to leave the machine alone."""
    retries: int = 3
    """Runs again a disturbed run, this many times at most."""
    chunk_cases: list[tuple[str, str, str]] = field(
        default_factory=lambda: [
            (scheme, shape, pace)
            for scheme in ("ws", "wss")
            for shape in SHAPES
            for pace in ("paced", "burst")
        ]
    )
    """The per-chunk figure's cases: scheme, protocol, and chunks paced or in one burst."""
    chunk_users: int = 50
    chunk_count: int = 50
    chunk_gap_ms: float = 2.0
    chunk_warmup_s: float = 1.0
    chunk_duration_s: float = 6.0
    llm_cpu: float = 0.7
    """The users-per-core figure's CPU share of one core to reach."""
    llm_first_users: int = 2000
    llm_max_users: int = 19_800
    """The ramp's ceiling: each user is a connection, an open file of the Locust process and of the
    target (20,000 a process here)."""
    llm_rounds: int = 4
    llm_spawn_rate: float = 500.0
    llm_settle_s: float = 16.0
    """A round's wait after its users start: each user's first prompt comes a random part of a cycle
    (up to the longest think time) after it starts, so the round's CPU is measured once all ask."""
    llm_round_window_s: float = 8.0
    llm_duration_s: float = 30.0
    llm_ttft_ms: float = 300.0
    llm_tokens: str = "150-250"
    llm_gaps_ms: str = "20-40"
    llm_think_s: str = "5-15"
    llm_reference_loops: int = 16
    """Raw loops beside the load: each gets a reply every ~6 s, so 16 give ~75 replies in 30 s (their
    p99 is their second slowest: the times beyond the target's, which vary little, are the ones to
    read)."""

    @classmethod
    def quick(cls) -> Settings:
        """About a second a figure: keeps the benchmarks working (the smoke test), measures nothing."""
        return cls(runs=1, warmup_s=0.3, duration_s=1.0, users=10, connections=[200], connections_hold_s=2.5,
                   ping_s=1.0, spawn_rate=500.0, fidelity_users=50, fidelity_duration_s=1.5,
                   fidelity_tune_rounds=1, tune_window_s=1.0, reference_alone_s=1.0, quiet_wait_s=0.0,
                   retries=0, codec_round_trips=2_000,
                   chunk_cases=[("wss", "openai-realtime", "paced")],
                   chunk_users=10, chunk_count=10, chunk_warmup_s=0.3, chunk_duration_s=1.0,
                   llm_first_users=20, llm_max_users=40, llm_rounds=1, llm_settle_s=0.5,
                   llm_round_window_s=0.5, llm_duration_s=1.5, llm_ttft_ms=20.0, llm_tokens="3-5",
                   llm_gaps_ms="2-4", llm_think_s="0.05-0.1", llm_reference_loops=2)  # fmt: skip


def wait_for_quiet(settings: Settings) -> float:
    """Wait (bounded) until the machine is idle but for a little, as between our runs; return the wait."""
    started = time.monotonic()
    while time.monotonic() - started < settings.quiet_wait_s:
        busy = busy_cpu_s()
        time.sleep(1.0)
        if busy_cpu_s() - busy < settings.quiet_cores / 2:
            break
    return time.monotonic() - started


def other_load(result: Any) -> float:
    """The most CPU (in cores) that other processes used in any half second of a run's windows."""
    if not isinstance(result, dict):
        return 0.0
    found = [float(result.get("other_load_peak_cores") or 0.0)]
    found += [other_load(value) for value in result.values() if isinstance(value, dict)]
    return max(found)


def measure(name: str, node: str, settings: Settings, run: int) -> dict[str, Any]:
    """One run of a figure, run again (a bounded number of times) when other processes disturbed it."""
    for attempt in range(settings.retries + 1):
        waited = wait_for_quiet(settings) if settings.quiet_wait_s else 0.0
        result = BENCHMARKS[name](node, settings, run)
        result["quiet_wait_s"] = round(waited, 1)
        result["attempt"] = attempt + 1
        result["other_load_max"] = other_load(result)
        if result["other_load_max"] <= settings.quiet_cores:
            break
        print(f"{name}: other processes used {result['other_load_max']:.2f} cores meanwhile: disturbed"
              + ("; again" if attempt < settings.retries else ""), file=sys.stderr, flush=True)  # fmt: skip
    return result


# -- the figures --------------------------------------------------------------------------------------


def efficiency(node: str, settings: Settings, run: int, tls: bool = False) -> dict[str, Any]:
    """ChatbotUser and the naive reference, one after the other against one echo target (over TLS
    with ``tls``)."""
    common = ["--users", str(settings.users), "--spawn-rate", str(settings.spawn_rate),
              "--warmup", str(settings.warmup_s), "--duration", str(settings.duration_s)]  # fmt: skip
    timeout = settings.warmup_s + settings.duration_s + 120
    results: dict[str, Any] = {}
    order = ["wslocust", "naive"] if run % 2 == 0 else ["naive", "wslocust"]  # drifts cancel
    with Target(node, "--mode", "echo", tls=tls) as target:
        for user in order:
            extra = ["--protocol", "plain"] if user == "wslocust" else []
            results[user] = run_loadgen(["--user", user, *common, *extra], target, timeout)
    ours, naive = results["wslocust"]["us_per_round_trip"], results["naive"]["us_per_round_trip"]
    results["relative_to_naive"] = ours / naive if ours and naive else None
    if tls:  # where the floor is: the same round trip without TLS, plus TLS's own work
        with Target(node, "--mode", "echo") as target:
            results["wslocust_ws"] = run_loadgen(
                ["--user", "wslocust", *common, "--protocol", "plain"], target, timeout
            )
        plain = results["wslocust_ws"]["us_per_round_trip"]
        records = results["tls_records_us_per_round_trip"] = tls_records_us_per_round_trip(
            settings.codec_round_trips
        )
        results["floor_relative_to_naive"] = (plain + records) / naive if plain and naive else None
    return results


def tls_records_us_per_round_trip(round_trips: int) -> float:
    """TLS's own CPU a round trip, without I/O or Python around it: the prompt's frame written to
    an ``ssl.SSLObject`` and its record read from the outgoing memory BIO, the echo's record
    written to the incoming one and read (decrypted) into a buffer, as a ``wss://`` round trip does
    on the lean path (the echo's records made beforehand by an in-memory server, untimed).
    """
    import ssl

    from processes import certificate

    from wslocust.wire.frames import OP_TEXT, encode_frame

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(*certificate())
    client_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client_context.check_hostname = False
    client_context.verify_mode = ssl.CERT_NONE
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(client_in, client_out, server_hostname="localhost")
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(8):  # the handshake, in memory
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    prompt = encode_frame(OP_TEXT, b"What are your opening hours?", mask=True)
    echoes = []
    for _ in range(round_trips):
        server.write(encode_frame(OP_TEXT, b"What are your opening hours?", mask=False))
        echoes.append(server_out.read())
    buffer = memoryview(bytearray(256 * 1024))
    started = time.process_time()
    for echo in echoes:
        client.write(prompt)
        client_out.read()
        client_in.write(echo)
        client.read(len(buffer), buffer)
    return (time.process_time() - started) * 1e6 / round_trips


def compression(node: str, settings: Settings, run: int) -> dict[str, Any]:
    """ChatbotUser's round trip uncompressed and with permessage-deflate, one after the other, each
    against its echo target (the compressed one compresses every message, however short)."""
    common = ["--user", "wslocust", "--protocol", "plain", "--users", str(settings.users),
              "--spawn-rate", str(settings.spawn_rate), "--warmup", str(settings.warmup_s),
              "--duration", str(settings.duration_s)]  # fmt: skip
    timeout = settings.warmup_s + settings.duration_s + 120
    results: dict[str, Any] = {}
    order = ["none", "deflate"] if run % 2 == 0 else ["deflate", "none"]  # drifts cancel
    for name in order:
        with Target(node, "--mode", "echo", "--deflate", "1" if name == "deflate" else "0") as target:
            results[name] = run_loadgen([*common, "--compression", name], target, timeout)
    plain, deflated = results["none"]["us_per_round_trip"], results["deflate"]["us_per_round_trip"]
    results["relative_to_uncompressed"] = deflated / plain if plain and deflated else None
    results["codec_us_per_round_trip"] = codec_us_per_round_trip(settings.codec_round_trips)
    return results


def codec_us_per_round_trip(round_trips: int) -> float:
    """The permessage-deflate codec's own CPU a round trip, without I/O: a prompt of the dataset
    deflated as the client sends it, and its echo inflated as the client reads it (compressed
    beforehand by zlib, as a server would, untimed), context taken over from message to message.

    On a compressed connection the target's own compression can limit the rate before the client's
    CPU does; this figure is the client's added work whatever the rate.
    """
    import zlib

    from wslocust.wire.deflate import DeflateParameters
    from wslocust.wire.frames import DEFAULT_MAX_MESSAGE_BYTES

    lines = (ROOT / "datasets" / "support_bot.jsonl").read_text(encoding="utf-8").splitlines()
    prompts = [json.loads(line)["Question"].encode() for line in lines if line.strip()]
    messages = [prompts[index % len(prompts)] for index in range(round_trips)]
    server = zlib.compressobj(wbits=-15)
    echoes = [(server.compress(message) + server.flush(zlib.Z_SYNC_FLUSH))[:-4] for message in messages]
    agreed = DeflateParameters()
    deflate, inflate = agreed.deflater().deflate, agreed.inflater().inflate
    started = time.process_time()
    for message, echo in zip(messages, echoes, strict=True):
        deflate(message)
        inflate(echo, DEFAULT_MAX_MESSAGE_BYTES)
    return (time.process_time() - started) * 1e6 / round_trips


def streaming(node: str, settings: Settings, run: int) -> dict[str, Any]:
    """Replies of 100 chunks: all at once (one burst a reply) and 1 ms apart (one wake-up a chunk)."""
    common = ["--user", "wslocust", "--protocol", "json", "--users", str(settings.users),
              "--spawn-rate", str(settings.spawn_rate), "--warmup", str(settings.warmup_s),
              "--duration", str(settings.duration_s)]  # fmt: skip
    timeout = settings.warmup_s + settings.duration_s + 120
    results: dict[str, Any] = {}
    for name, gap in (("burst", 0.0), ("paced", settings.paced_gap_ms)):
        args = ["--mode", "stream", "--chunks", str(settings.chunks), "--gap-ms", str(gap)]
        with Target(node, *args) as target:
            results[name] = run_loadgen(common, target, timeout)
    return results


def connections(node: str, settings: Settings, run: int) -> dict[str, Any]:
    """Idle users: every connection open, pinged by the target and answering, and the memory used."""
    results: dict[str, Any] = {}
    for count in settings.connections:
        with Target(node, "--mode", "echo", "--ping-s", str(settings.ping_s)) as target:
            args = ["--user", "idle", "--users", str(count), "--spawn-rate", str(settings.spawn_rate),
                    "--warmup", "0", "--duration", str(settings.connections_hold_s),
                    "--start-timeout", str(30 + 2 * count / settings.spawn_rate)]  # fmt: skip
            result = run_loadgen(args, target, timeout_s=settings.connections_hold_s + 120 + 3 * count / 1000)
            result["held"] = min(result["connected"], result["server"]["connections"])
            result["ping_s"] = settings.ping_s
            results[str(count)] = result
    return results


def fidelity(node: str, settings: Settings, run: int, tls: bool = False) -> dict[str, Any]:
    """1,000 paced users and raw websocket-client loops measuring one streaming target together (over
    TLS with ``tls``).

    The loops, each its own process, start as the Locust process's warm-up begins and run past its
    window; the replies of theirs that ended within the window are pooled (``processes.Reference``),
    as the Locust process records the replies that end within it. Started when the window opened,
    their start (an interpreter, imports, a connection and its TLS handshake each) and their exit
    fell in the window and measured nothing: on 2 cores they took the CPU from the Locust process
    and the target for a few hundred ms at either end, and the replies of ours in flight then, about
    1% of the window's, were its p99. In two instrumented wss:// runs so started, the time to first
    chunk's p99 of the replies of the window's first second was 125 and 161 ms, against 23-46 ms in
    the seconds after it; with the loops started before the window, the first second was as the rest.

    A loop gets a reply every cycle of the target (about 15 a second here), and the Locust process's
    p99 is of some 55,000 replies: the reference's p99 is the comparison's noise. Drawn from ours,
    a p99 of 1,344 replies (three loops) spanned 3-4 ms (90% of draws) in a lightly disturbed run, of
    4,000 replies 1.8-2 ms: eight loops (about 3,500 replies, 2% of a core each) cut the noise of
    three by about 40%, at a cost the machine carries beside the Locust process and the target.
    """
    args = ["--mode", "stream", "--chunks", str(settings.fidelity_chunks), "--ttft-ms",
            str(settings.fidelity_ttft_ms), "--gap-ms", str(settings.fidelity_gap_ms)]  # fmt: skip
    reply_ms = settings.fidelity_ttft_ms + settings.fidelity_gap_ms * (settings.fidelity_chunks - 1)
    with Target(node, *args, tls=tls) as target:
        alone = Reference(target.url, settings.reference_alone_s, settings.reference_loops)
        reference_alone, _ = alone.finish()
        first_think_ms = max(settings.fidelity_users * 0.1 - reply_ms, 10.0)  # ~10,000 replies/s
        spawn_rate = settings.tls_spawn_rate if tls else max(settings.spawn_rate, settings.fidelity_users)
        load = ["--user", "paced", "--protocol", "json", "--users", str(settings.fidelity_users),
                "--spawn-rate", str(spawn_rate),
                "--cpu-target", str(settings.fidelity_cpu), "--think-ms", str(first_think_ms),
                "--tune-rounds", str(settings.fidelity_tune_rounds),
                "--tune-window", str(settings.tune_window_s), "--warmup", str(settings.warmup_s),
                "--duration", str(settings.fidelity_duration_s)]  # fmt: skip
        reference_s = settings.warmup_s + settings.fidelity_duration_s + REFERENCE_OVERRUN_S
        result = run_loadgen(
            load,
            target,
            settings.fidelity_duration_s + 180,
            beside=lambda: Reference(target.url, reference_s, settings.reference_loops),
        )
    result["reference_alone"] = reference_alone
    reference = result["reference"]
    for key in ("ttft_p50_ms", "ttft_p99_ms", "total_p50_ms", "total_p99_ms"):
        mine, theirs = result.get(key), reference.get(key)
        result[f"{key}_difference"] = None if mine is None or theirs is None else mine - theirs
    return result


def per_chunk(node: str, settings: Settings, run: int) -> dict[str, Any]:
    """For each case (scheme, protocol, pace): wslocust's CPU a chunk and the naive streaming user's,
    one after the other against one target, and their ratio."""
    common = ["--users", str(settings.chunk_users), "--spawn-rate", str(settings.spawn_rate),
              "--warmup", str(settings.chunk_warmup_s),
              "--duration", str(settings.chunk_duration_s)]  # fmt: skip
    timeout = settings.chunk_warmup_s + settings.chunk_duration_s + 120
    order = ["wslocust", "naive-stream"] if run % 2 == 0 else ["naive-stream", "wslocust"]  # drifts cancel
    results: dict[str, Any] = {}
    for scheme, protocol, pace in settings.chunk_cases:
        # ws:// chunks one a wake-up: the floor too (read, not parsed), between the two
        users = [order[0], "floor", order[1]] if (scheme, pace) == ("ws", "paced") else order
        shape = "openai-realtime" if protocol == "openai-realtime" else "json"
        gap = settings.chunk_gap_ms if pace == "paced" else 0.0
        args = [
            "--mode",
            "stream",
            "--shape",
            shape,
            "--chunks",
            str(settings.chunk_count),
            "--gap-ms",
            str(gap),
        ]
        case: dict[str, Any] = {}
        with Target(node, *args, tls=scheme == "wss") as target:
            for user in users:
                case[user] = run_loadgen(["--user", user, "--protocol", protocol, *common], target, timeout)
        ours, naive = case["wslocust"]["us_per_chunk"], case["naive-stream"]["us_per_chunk"]
        case["relative_to_naive"] = ours / naive if ours and naive else None
        if "floor" in case:
            floor = case["floor"]["us_per_chunk"]
            case["floor_relative_to_naive"] = floor / naive if floor and naive else None
        results[f"{scheme} {protocol} {pace}"] = case
    return results


def _mean(bounds: str) -> float:
    """The middle of ``LOW-HIGH`` (a uniform draw's mean)."""
    low, _, high = bounds.partition("-")
    return (float(low) + float(high or low)) / 2


def paced_chunks_per_user_s(settings: Settings) -> float:
    """Chunks a second one user gets from the LLM-paced target on average when it keeps its pace:
    a reply's tokens over its cycle (first token, the gaps between tokens, then the think time)."""
    tokens = _mean(settings.llm_tokens)
    cycle_s = (
        settings.llm_ttft_ms / 1000
        + (tokens - 1) * _mean(settings.llm_gaps_ms) / 1000
        + _mean(settings.llm_think_s)
    )
    return tokens / cycle_s


def users_per_core(node: str, settings: Settings, run: int) -> dict[str, Any]:
    """ChatbotUsers against the LLM-paced target, added until the Locust process uses
    ``settings.llm_cpu`` of a core; then a window measured beside raw websocket-client loops."""
    target_args = ["--mode", "llm", "--ttft-ms", str(settings.llm_ttft_ms), "--tokens", settings.llm_tokens,
                   "--gaps-ms", settings.llm_gaps_ms, "--seed", str(run + 1)]  # fmt: skip
    load = ["--user", "llm", "--protocol", "json", "--users", str(settings.llm_first_users),
            "--spawn-rate", str(settings.llm_spawn_rate), "--think-time", settings.llm_think_s,
            "--cpu-target", str(settings.llm_cpu), "--max-users", str(settings.llm_max_users),
            "--ramp-rounds", str(settings.llm_rounds), "--settle", str(settings.llm_settle_s),
            "--tune-window", str(settings.llm_round_window_s), "--warmup", str(settings.warmup_s),
            "--duration", str(settings.llm_duration_s),
            "--start-timeout", str(30 + 2 * settings.llm_max_users / settings.llm_spawn_rate)]  # fmt: skip
    ramp_s = settings.llm_rounds * (
        settings.llm_settle_s + settings.llm_round_window_s + settings.llm_max_users / settings.spawn_rate
    )
    with Target(node, *target_args) as target:
        result = run_loadgen(
            load,
            target,
            ramp_s + settings.llm_duration_s + 300,
            beside=lambda: Reference(
                target.url,
                settings.warmup_s + settings.llm_duration_s + REFERENCE_OVERRUN_S,
                settings.llm_reference_loops,
            ),
        )
    reference = result["reference"]
    for key in ("ttft_p50_ms", "ttft_p99_ms", "ttft_beyond_target_p50_ms", "ttft_beyond_target_p99_ms",
                "total_beyond_target_p50_ms", "total_beyond_target_p99_ms"):  # fmt: skip
        mine, theirs = result.get(key), reference.get(key)
        result[f"{key}_difference"] = None if mine is None or theirs is None else mine - theirs
    share, users, per_chunk_us = result.get("cpu_share"), result.get("connected"), result.get("us_per_chunk")
    result["chunks_per_user_s"] = paced_chunks_per_user_s(settings)
    if result.get("ramp_ended") == "reached" and share and users:
        result["users_at_cpu"] = users * settings.llm_cpu / share
    elif per_chunk_us:
        # Stopped short (the target too late, the file limit): the users the CPU share would hold
        # at the bot's own pace, from the CPU a chunk measured (a late target sends fewer chunks a
        # user, so the CPU a user measured would flatter). The table says it is extrapolated.
        result["users_at_cpu"] = settings.llm_cpu / (per_chunk_us * 1e-6 * result["chunks_per_user_s"])
    else:
        result["users_at_cpu"] = None
    result["users_per_core"] = (
        None if result["users_at_cpu"] is None else result["users_at_cpu"] / settings.llm_cpu
    )
    result["reached"] = 1 if result.get("ramp_ended") == "reached" else 0
    window = result.get("server_window") or {}  # the target's counts over the window
    sent, late_count = window.get("chunks"), window.get("late_count")
    result["server_us_per_chunk"] = window.get("cpu_s", 0.0) * 1e6 / sent if sent else None
    result["server_late_mean_ms"] = window.get("late_sum_ms", 0.0) / late_count if late_count else None
    result["needs"] = needs(settings, per_chunk_us, result["server_us_per_chunk"])
    return result


def needs(
    settings: Settings, us_per_chunk: float | None, server_us_per_chunk: float | None
) -> dict[str, Any]:
    """What :data:`USERS_PER_CORE` users at the bot's own pace need: their chunks a second, and the
    cores the Locust process and the target would use at the CPU a chunk each was measured at."""
    chunks_per_s = USERS_PER_CORE * paced_chunks_per_user_s(settings)
    return {
        "users": USERS_PER_CORE,
        "chunks_per_s": chunks_per_s,
        "locust_cores": None if us_per_chunk is None else chunks_per_s * us_per_chunk * 1e-6,
        "target_cores": None if server_us_per_chunk is None else chunks_per_s * server_us_per_chunk * 1e-6,
    }


BENCHMARKS: dict[str, Callable[[str, Settings, int], dict[str, Any]]] = {
    "efficiency": efficiency,
    "compression": compression,
    "streaming": streaming,
    "connections": connections,
    "fidelity": fidelity,
    "per_chunk": per_chunk,
    "efficiency_wss": lambda node, settings, run: efficiency(node, settings, run, tls=True),
    "fidelity_wss": lambda node, settings, run: fidelity(node, settings, run, tls=True),
    "users_per_core": users_per_core,
}


# -- reporting ----------------------------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number found at the same place in each run (nested dicts)."""
    merged: dict[str, Any] = {}
    for key, first in runs[0].items():
        values = [run.get(key) for run in runs]
        if isinstance(first, dict):
            merged[key] = median_of([value for value in values if isinstance(value, dict)])
        elif isinstance(first, int | float) and not isinstance(first, bool):
            numbers = [value for value in values if isinstance(value, int | float)]
            merged[key] = statistics.median(numbers) if numbers else None
    return merged


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())  # fmt: skip
    versions: dict[str, Any] = {"python": platform.python_version()}
    for package in ("locust", "gevent", "greenlet", "websocket-client"):
        try:
            from importlib.metadata import version

            versions[package] = version(package)
        except Exception:
            versions[package] = None
    node = shutil.which("node")
    if node:
        versions["node"] = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    ws_package = HERE / "node_modules" / "ws" / "package.json"
    if ws_package.is_file():
        versions["ws"] = json.loads(ws_package.read_text())["version"]
    memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal")))  # fmt: skip
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kb / 1024**2, 1),
        "kernel": platform.release(),
        "open_files_limit": resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        "ephemeral_ports": Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split(),
        "versions": versions,
    }


NAIVE_US_WHERE_SET = 28.0
"""What the naive reference costs a round trip on the 2-core machine the efficiency target was set for."""


BURST_US_PER_CHUNK = 4.4
"""CPU a chunk of 100-chunk bursts before streaming was made cheaper: not to be exceeded."""
CHUNK_RELATIVE_TO_NAIVE = 0.25
"""CPU a chunk arriving one a wake-up, as a share of the naive streaming user's in the same run."""
WSS_RELATIVE_TO_NAIVE = 0.6
"""CPU a round trip on wss://, as a share of the naive user's over TLS in the same run."""
USERS_PER_CORE = 10_000
"""Users of an LLM-paced bot one process holds at the users-per-core figure's CPU share."""


def _number(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(
    medians: dict[str, Any], settings: Settings, runs_of: dict[str, list[dict[str, Any]]] | None = None
) -> str:
    """The figures as a Markdown table: medians of ``settings.runs`` runs (``runs_of``: each run, by
    figure, for what a median cannot say)."""
    runs_of = runs_of or {}
    runs = settings.runs
    rows: list[tuple[str, str, str, str]] = []

    def check(ok: bool | None) -> str:
        return "-" if ok is None else ("met" if ok else "NOT met")

    if "efficiency" in medians:
        for user, label in (("wslocust", f"ChatbotUser, plain, {settings.users} users, no wait"),
                            ("naive", "naive websocket-client user (reference)")):  # fmt: skip
            figure = medians["efficiency"].get(user, {})
            value = figure.get("us_per_round_trip")
            rows.append((f"CPU µs / round trip: {label}",
                         f"{_number(value, 2)} µs ({_number(figure.get('round_trips_per_s'), 0)} /s, "
                         f"client {_number(100 * (figure.get('cpu_share') or 0), 0)}% CPU, "
                         f"target {_number(100 * (figure.get('server_cpu_share') or 0), 0)}%)",
                         "≤ 20 µs" if user == "wslocust" else "",
                         check(None if value is None or user != "wslocust" else value <= 20.0)))  # fmt: skip
        # The target was set on a machine where the naive reference costs about 28 µs: the same
        # runs' ratio carries it to that machine, whatever this one's speed (a VM's varies by day).
        relative = medians["efficiency"].get("relative_to_naive")
        scaled = None if relative is None else relative * NAIVE_US_WHERE_SET
        rows.append(("CPU µs / round trip: ChatbotUser, scaled to where the reference costs "
                     f"{NAIVE_US_WHERE_SET:g} µs",
                     f"{_number(scaled, 2)} µs ({_number(relative, 3)} of the reference, in the same runs)",
                     "≤ 20 µs", check(None if scaled is None else scaled <= 20.0)))  # fmt: skip
    if "compression" in medians:
        figures = medians["compression"]
        for name, label in (("none", "uncompressed"), ("deflate", "permessage-deflate")):
            figure = figures.get(name, {})
            deflated = (figure.get("server") or {}).get("deflated")
            rows.append((f"CPU µs / round trip: ChatbotUser, plain, {settings.users} users, {label}",
                         f"{_number(figure.get('us_per_round_trip'), 2)} µs "
                         f"({_number(figure.get('round_trips_per_s'), 0)} /s, "
                         f"client {_number(100 * (figure.get('cpu_share') or 0), 0)}% CPU, "
                         f"target {_number(100 * (figure.get('server_cpu_share') or 0), 0)}%, "
                         f"{_number(deflated, 0)} compressed connections)", "", "-"))  # fmt: skip
        rows.append(("CPU a round trip: permessage-deflate over uncompressed, in the same runs",
                     f"{_number(figures.get('relative_to_uncompressed'), 2)} times", "", "-"))  # fmt: skip
        rows.append(("CPU µs / round trip: the permessage-deflate codec alone (a prompt deflated, "
                     "its echo inflated)", f"{_number(figures.get('codec_us_per_round_trip'), 2)} µs",
                     "", "-"))  # fmt: skip
    if "streaming" in medians:
        for name, label in (("burst", "sent at once"), ("paced", "1 ms apart")):
            figure = medians["streaming"].get(name, {})
            value = figure.get("us_per_chunk")
            burst = name == "burst"  # the burst case is not to be slower than it was (4.4 µs)
            rows.append((f"CPU µs / chunk: 100-chunk replies, {label}",
                         f"{_number(value, 2)} µs "
                         f"({_number(figure.get('us_per_round_trip'), 0)} µs a reply, "
                         f"{_number(figure.get('round_trips_per_s'), 0)} replies/s)",
                         f"≤ {BURST_US_PER_CHUNK} µs" if burst else "",
                         check(None if not burst or value is None
                               else value <= BURST_US_PER_CHUNK)))  # fmt: skip
    if "efficiency_wss" in medians:
        figures = medians["efficiency_wss"]
        for user, label in (("wslocust", f"ChatbotUser, plain, {settings.users} users, no wait"),
                            ("naive", "naive websocket-client user over TLS (reference)")):  # fmt: skip
            figure = figures.get(user, {})
            rows.append((f"CPU µs / round trip, wss://: {label}",
                         f"{_number(figure.get('us_per_round_trip'), 2)} µs "
                         f"({_number(figure.get('round_trips_per_s'), 0)} /s, "
                         f"client {_number(100 * (figure.get('cpu_share') or 0), 0)}% CPU, "
                         f"target {_number(100 * (figure.get('server_cpu_share') or 0), 0)}%)",
                         "", "-"))  # fmt: skip
        relative = figures.get("relative_to_naive")
        rows.append(("CPU a round trip, wss://: ChatbotUser over the naive user, in the same runs",
                     f"{_number(relative, 3)}", f"≤ {WSS_RELATIVE_TO_NAIVE}",
                     check(None if relative is None else relative <= WSS_RELATIVE_TO_NAIVE)))  # fmt: skip
        plain = figures.get("wslocust_ws", {}).get("us_per_round_trip")
        records = figures.get("tls_records_us_per_round_trip")
        floor = figures.get("floor_relative_to_naive")
        rows.append(("wss:// floor: ChatbotUser's ws:// round trip + TLS's own work (records "
                     "encrypted and decrypted in memory), over the naive user over TLS",
                     f"({_number(plain, 2)} + {_number(records, 2)} µs) / "
                     f"{_number(figures.get('naive', {}).get('us_per_round_trip'), 2)} µs = "
                     f"{_number(floor, 3)}", "", "-"))  # fmt: skip
    if "per_chunk" in medians:
        for case, figure in medians["per_chunk"].items():
            if not isinstance(figure, dict):
                continue  # the run's own notes (attempt, quiet wait)
            scheme, protocol, pace = case.split()
            ours, naive = figure.get("wslocust", {}), figure.get("naive-stream", {})
            relative = figure.get("relative_to_naive")
            paced = pace == "paced"
            how = f"{settings.chunk_gap_ms:g} ms apart" if paced else "at once"
            rows.append((f"CPU µs / chunk, {scheme}:// {protocol}, {settings.chunk_count} chunks {how}, "
                         f"{settings.chunk_users} users: wslocust vs naive user",
                         f"{_number(ours.get('us_per_chunk'), 2)} vs "
                         f"{_number(naive.get('us_per_chunk'), 2)} µs "
                         f"({_number(relative, 3)} of it; {_number(ours.get('chunks_per_s'), 0)} vs "
                         f"{_number(naive.get('chunks_per_s'), 0)} chunks/s, client "
                         f"{_number(100 * (ours.get('cpu_share') or 0), 0)}% vs "
                         f"{_number(100 * (naive.get('cpu_share') or 0), 0)}% CPU"
                         + (f"; floor {_number(figure['floor'].get('us_per_chunk'), 2)} µs, "
                            f"{_number(figure.get('floor_relative_to_naive'), 3)} of it"
                            if isinstance(figure.get("floor"), dict) else "") + ")",
                         f"≤ {CHUNK_RELATIVE_TO_NAIVE} of the naive user's" if paced else "",
                         check(None if not paced or relative is None
                               else relative <= CHUNK_RELATIVE_TO_NAIVE)))  # fmt: skip
    if "users_per_core" in medians:
        figure = medians["users_per_core"]
        reference = figure.get("reference", {})
        users, share = figure.get("connected"), figure.get("cpu_share")
        at_cpu = figure.get("users_at_cpu")
        runs_reached = [run.get("ramp_ended") for run in runs_of.get("users_per_core", [])]
        reached = bool(runs_reached) and all(ended == "reached" for ended in runs_reached)
        per_user = figure.get("chunks_per_user_s")
        formula = (f"{settings.llm_cpu:g} / ({_number(figure.get('us_per_chunk'), 2)} µs a chunk "
                   f"x {_number(per_user, 2)} chunks a user a second)")  # fmt: skip
        how = (
            "held"
            if reached
            else f"extrapolated: {formula}; the ramp ended: {', '.join(map(str, runs_reached))}"
        )
        server = figure.get("server") or {}
        rows.append(("users per core: ChatbotUsers against an LLM-paced bot (first token "
                     f"{settings.llm_ttft_ms:g} ms, {settings.llm_tokens} tokens {settings.llm_gaps_ms} ms "
                     f"apart, think {settings.llm_think_s} s), "
                     f"users held where the process uses {100 * settings.llm_cpu:g}% of a core",
                     f"{_number(at_cpu, 0)} users ({how}; {_number(users, 0)} users connected at "
                     f"{_number(100 * (share or 0), 0)}% CPU, "
                     f"{_number(figure.get('users_per_core'), 0)} a full core; "
                     f"{_number(figure.get('chunks_per_s'), 0)} chunks/s, "
                     f"{_number(figure.get('us_per_chunk'), 2)} µs a chunk; target "
                     f"{_number(100 * (figure.get('server_cpu_share') or 0), 0)}% CPU, "
                     f"{_number(figure.get('server_us_per_chunk'), 2)} µs a chunk, its timers "
                     f"{_number(figure.get('server_late_mean_ms'), 2)} ms late on average in the window, "
                     f"{_number(server.get('late_max_ms'), 0)} ms at most; load average "
                     f"{_number(figure.get('load_average'), 2)})",
                     f"≥ {USERS_PER_CORE:,}",
                     check(None if at_cpu is None else at_cpu >= USERS_PER_CORE)
                     + ("" if reached else " (extrapolated)")))  # fmt: skip
        need = figure.get("needs") or {}
        locust_cores, target_cores = need.get("locust_cores"), need.get("target_cores")
        both = None if locust_cores is None or target_cores is None else locust_cores + target_cores
        cores = os.cpu_count() or 1
        rows.append((f"users per core: what {USERS_PER_CORE:,} users need at the bot's pace "
                     f"({_number(per_user, 2)} chunks a user a second), at the CPU a chunk measured",
                     f"{_number(need.get('chunks_per_s'), 0)} chunks/s: the Locust process "
                     f"{_number(locust_cores, 2)} cores, the target {_number(target_cores, 2)} cores; "
                     f"together {_number(both, 2)} of this machine's {cores}",
                     f"Locust ≤ {settings.llm_cpu:g} core",
                     check(None if locust_cores is None else locust_cores <= settings.llm_cpu)))  # fmt: skip
        rows.append(("users per core: the Locust process's CPU a chunk, what of it is the kernel's and "
                     "the garbage collector's; the pure ACKs its connections sent a data segment read",
                     f"{_number(figure.get('us_per_chunk'), 2)} µs a chunk: system "
                     f"{_number(100 * (figure.get('sys_share_of_cpu') or 0), 0)}%, collections "
                     f"{_number(100 * (figure.get('gc_share_of_cpu') or 0), 1)}%; "
                     f"{_number(figure.get('acks_per_segment'), 2)} ACKs a segment "
                     f"({_number(figure.get('segments_received'), 0)} segments)", "", ""))  # fmt: skip
        for key, label in (("ttft_p50_ms", "TTFT p50"), ("ttft_p99_ms", "TTFT p99"),
                           ("ttft_beyond_target_p50_ms", "TTFT beyond the target's first chunk, p50"),
                           ("ttft_beyond_target_p99_ms", "TTFT beyond the target's first chunk, p99"),
                           ("total_beyond_target_p50_ms", "total beyond the target's end, p50"),
                           ("total_beyond_target_p99_ms", "total beyond the target's end, p99")):  # fmt: skip
            difference = figure.get(f"{key}_difference")
            rows.append((f"users per core, {label}: Locust ({_number(users, 0)} users) vs raw loops",
                         f"{_number(figure.get(key), 2)} vs {_number(reference.get(key), 2)} ms "
                         f"(Δ {_number(difference, 2)}; {_number(figure.get('replies_recorded'), 0)} vs "
                         f"{_number(reference.get('replies'), 0)} replies)", "within ±1 ms",
                         check(None if difference is None else abs(difference) <= 1.0)))  # fmt: skip
    if "connections" in medians:
        for count, figure in medians["connections"].items():
            if not isinstance(figure, dict):
                continue  # the run's own notes (attempt, quiet wait)
            per = figure.get("bytes_per_connection")
            held = figure.get("held")
            ok = None if per is None or held is None else (held >= int(count) and per <= 20_000)
            ping = _number(figure.get("ping_s"), 0)
            rows.append((f"connections held ({count} idle users, pinged every {ping} s)",
                         f"{_number(held, 0)} held, {_number(per / 1000 if per else None, 1)} KB each, "
                         f"{_number(figure.get('pings_answered'), 0)} pings answered",
                         "15,000 at ≤ 20 KB" if count == "15000" else "",
                         check(ok) if count == "15000" else "-"))  # fmt: skip
    for section, scheme in (("fidelity", ""), ("fidelity_wss", " wss://")):
        if section not in medians:
            continue
        figure = medians[section]
        reference = figure.get("reference", {})
        for key, label in (("ttft_p50_ms", "TTFT p50"), ("ttft_p99_ms", "TTFT p99"),
                           ("total_p50_ms", "total p50"), ("total_p99_ms", "total p99")):  # fmt: skip
            difference = figure.get(f"{key}_difference")
            rows.append((f"fidelity{scheme} {label}: Locust ({settings.fidelity_users:,} users, "
                         f"{_number(100 * (figure.get('cpu_share') or 0), 0)}% CPU) vs raw loop",
                         f"{_number(figure.get(key), 2)} vs {_number(reference.get(key), 2)} ms "
                         f"(Δ {_number(difference, 2)})", "within ±1 ms",
                         check(None if difference is None else abs(difference) <= 1.0)))  # fmt: skip
    header = f"| Figure | Median of {runs} run{'s' if runs > 1 else ''} | Target | |"
    lines = [header, "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", help="comma-separated figures (default: the first five): " + ",".join(FIGURES)
    )
    parser.add_argument("--runs", type=int, help="runs of each figure (default 3)")
    parser.add_argument("--quick", action="store_true", help="about a second a figure (smoke test)")
    parser.add_argument("--connections", help="idle connection counts, comma-separated")
    parser.add_argument(
        "--cases",
        help='per_chunk: only these cases, comma-separated "scheme protocol pace" '
        '(e.g. "ws json paced,ws apigw burst"; default: every one)',
    )
    parser.add_argument("--json", help="write the results here (default benchmarks/results/TIME.json)")
    parser.add_argument("--retries", type=int, help="runs again a disturbed run this many times at most (3)")
    parser.add_argument(
        "--quiet-wait", type=float, help="seconds to wait for a quiet machine before a run (120)"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    settings = Settings.quick() if args.quick else Settings()
    if args.runs:
        settings.runs = args.runs
    if args.retries is not None:
        settings.retries = args.retries
    if args.quiet_wait is not None:
        settings.quiet_wait_s = args.quiet_wait
    if args.connections:
        settings.connections = [int(count) for count in args.connections.split(",")]
    if args.cases:
        cases = [tuple(case.split()) for case in args.cases.split(",")]
        unknown_cases = [" ".join(case) for case in cases if case not in Settings().chunk_cases]
        if unknown_cases:
            parser.error(f"unknown cases: {', '.join(unknown_cases)} (scheme protocol pace: ws json paced)")
        settings.chunk_cases = [(case[0], case[1], case[2]) for case in cases]
    chosen = args.only.split(",") if args.only else list(DEFAULT_FIGURES)
    unknown = set(chosen) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {', '.join(sorted(unknown))}")
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the targets inherit it
    node = ensure_node()
    report: dict[str, Any] = {"machine": machine(), "settings": asdict(settings), "runs": {}, "medians": {}}
    path = Path(args.json) if args.json else HERE / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    started = time.monotonic()
    for name in chosen:
        runs = []
        for run in range(settings.runs):
            print(f"{name}: run {run + 1} of {settings.runs}", file=sys.stderr, flush=True)
            runs.append(measure(name, node, settings, run))
        report["runs"][name] = runs
        report["medians"][name] = median_of(runs)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")  # each figure as it ends
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    text = table(report["medians"], settings, report["runs"])
    disturbed = [f"{name} run {index + 1} ({run['other_load_max']:.2f} cores)"
                 for name, runs in report["runs"].items() for index, run in enumerate(runs)
                 if run["other_load_max"] > settings.quiet_cores]  # fmt: skip
    if disturbed:
        text += "\n\nDisturbed by other processes (figures unreliable): " + ", ".join(disturbed)
    report["table"] = text
    print(text)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
