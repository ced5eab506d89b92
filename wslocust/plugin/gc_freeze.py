"""The garbage collector's freeze while the users run."""

from __future__ import annotations

import gc
from typing import Any

import gevent

__all__ = ["freeze_gc_while_running"]


def freeze_gc_while_running(events: Any, again_after_s: float = 5.0) -> None:
    """Once every user runs, keep the objects that exist then out of Python's full collections.

    With a thousand users a Locust process holds some 100,000 objects, and a full (generation 2)
    collection walks them all, stalling every user for tens of milliseconds every few seconds: the
    replies in flight then measure the stall (a p99 milliseconds too high). ``gc.freeze()`` moves
    them to the permanent generation (no copy, no pause); objects freed by reference counting are
    still freed at once. Users open their connections as they start, just after spawning completes,
    so the objects are frozen again ``again_after_s`` later (a thousand connections left out made
    full collections of 12 ms). The freeze is lifted when the test stops, so stopped users are
    collected, unless something froze objects before us (Locust does before forking
    ``--processes``, to share memory): unfreezing cannot tell theirs from ours.
    """
    frozen_before: list[int] = []
    pending: list[gevent.Greenlet] = []

    def freeze() -> None:
        if not frozen_before:
            frozen_before.append(gc.get_freeze_count())
        gc.freeze()

    def cancel() -> None:
        for greenlet in pending:
            greenlet.kill(block=False)
        pending.clear()

    def on_spawning_complete(**_: Any) -> None:
        freeze()
        cancel()
        pending.append(gevent.spawn_later(again_after_s, freeze))

    def unfreeze(**_: Any) -> None:
        cancel()
        if frozen_before == [0]:
            gc.unfreeze()
        frozen_before.clear()

    events.spawning_complete.add_listener(on_spawning_complete)
    events.test_stop.add_listener(unfreeze)
