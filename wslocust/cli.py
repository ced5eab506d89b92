"""The ``wslocust`` command: Locust, with the wslocust plugin loaded before Locust reads its options.

Locust prints ``--help`` before it imports a locustfile, so ``locust -f locustfiles/chatbot.py --help``
cannot list the options a plugin adds. ``wslocust`` loads the plugin first: ``wslocust --help`` lists
every wslocust option with its help, default and choices, and ``wslocust -f locustfiles/chatbot.py ...``
runs exactly as ``locust -f locustfiles/chatbot.py ...`` does.
"""

from __future__ import annotations

from locust.main import main as locust_main

import wslocust.plugin  # noqa: F401  (registers the options and event hooks)

__all__ = ["main"]


def main() -> None:
    """Run Locust's command line (``sys.argv``) with the plugin loaded."""
    locust_main()


if __name__ == "__main__":
    main()
