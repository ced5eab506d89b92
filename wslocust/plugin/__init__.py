"""The Locust plugin: the only code that touches Locust's runner, parser and web UI.

Importing it registers wslocust's command-line options and event hooks (:mod:`.listeners`).
"""

from __future__ import annotations

from . import listeners as _listeners  # noqa: F401  (registers the options and event hooks)

__all__: list[str] = []
