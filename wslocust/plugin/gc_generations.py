"""The garbage collector's oldest generation, collected rarely while the users run."""

from __future__ import annotations

import gc
from typing import Any

__all__ = ["FULL_COLLECTION_AFTER", "rare_full_collections_while_running"]

FULL_COLLECTION_AFTER = 1000
"""Collections of the middle generation between two full collections while the users run
(Python's default: 10)."""


def rare_full_collections_while_running(events: Any, after: int = FULL_COLLECTION_AFTER) -> None:
    """Once every user runs, let a full collection come only after ``after`` collections of the
    middle generation (minutes, not seconds); Python's thresholds come back when the test stops.

    A streamed reply lives for seconds (an LLM-paced one 5-8 s) and its objects (the reply, its
    chunk times, the read callback's closure) outlive the two young collections, so they reach the
    oldest generation: with thousands of users that generation holds every reply in flight, and
    Python's default (a full collection every ten middle ones, once a quarter as many objects as
    survived the last were added) walked it every ~10 s: 65-140 ms a collection at 2,000 streaming
    users, stalling every user and measured by every reply in flight. The objects still die by
    reference counting when their reply ends; only cyclic garbage waits longer for its collection.
    The frozen objects (:func:`~wslocust.plugin.gc_freeze.freeze_gc_while_running`) are not walked
    either way.
    """
    before: list[tuple[int, int, int]] = []

    def on_spawning_complete(**_: Any) -> None:
        if not before:
            before.append(gc.get_threshold())
        youngest, middle, _oldest = before[0]
        gc.set_threshold(youngest, middle, after)

    def restore(**_: Any) -> None:
        if before:
            gc.set_threshold(*before.pop())

    events.spawning_complete.add_listener(on_spawning_complete)
    events.test_stop.add_listener(restore)
