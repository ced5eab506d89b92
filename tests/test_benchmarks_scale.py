"""benchmarks/scale.py's arithmetic and memory reading (the runs themselves take minutes: see
docs/performance.md, *Connections across processes*)."""

from __future__ import annotations

import os
import sys

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))

import scale


def _limits() -> dict[str, int]:
    return {
        "connections_a_process": 19_900,
        "open_files_hard": 20_000,
        "ephemeral_ports_an_address": 28_232,
        "source_addresses": 10,
        "memory_available_bytes": 22_000_000_000,
    }


def test_100000_connections_take_6_processes_4_addresses_and_their_memory_and_pongs() -> None:
    lines = scale.arithmetic(100_000, _limits(), 20.0)
    assert "need 6 Locust processes" in lines[0]
    assert "need 4 source addresses" in lines[1]
    assert "about 1.34 GB in Locust" in lines[2]
    assert "costs 0.07 of a core" in lines[3]


def test_memory_is_read_as_rss_pss_and_uss_and_unique_is_never_more_than_resident() -> None:
    memory = scale.memory_bytes([os.getpid()])
    assert 0 < memory["uss"] <= memory["pss"] <= memory["rss"]
