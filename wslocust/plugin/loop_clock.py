"""The event loop's clock brought up to date when start-up ends, so that ``--run-time`` runs its length.

gevent's libev loop reads the clock once an iteration, and a timer started outside the loop's
callbacks counts from that reading. Locust arms the ``--run-time`` timer (``gevent.spawn_later`` in
``locust.main.start_automatic_run``) from the main greenlet just after the ``init`` event, and in a
headless run (or ``--autostart``) against a given ``--host`` the loop has not run since
``import locust`` made it: every second of start-up since then (imports, the locustfile, the
``init`` hooks: a few on a busy machine) was taken off the run, and a start-up longer than the run
ended it at once, before any user connected.
"""

from __future__ import annotations

from typing import Any

import gevent

__all__ = ["catch_up_with_the_clock"]


def catch_up_with_the_clock(**_: Any) -> None:
    """Read the clock into the event loop's idea of now (the ``init`` hook that runs last).

    Timers armed after this, by Locust or by anything else started from the main greenlet before
    the loop runs again, count from the moment start-up ended; nothing yields.
    """
    gevent.get_hub().loop.update_now()
