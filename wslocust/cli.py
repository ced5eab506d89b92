"""The ``wslocust`` command: Locust, with the wslocust plugin loaded before Locust reads its options.

Locust prints ``--help`` before it imports a locustfile, so ``locust -f locustfiles/chatbot.py --help``
cannot list the options a plugin adds. ``wslocust`` loads the plugin first: ``wslocust --help`` lists
every wslocust option with its help, default and choices, and ``wslocust -f locustfiles/chatbot.py ...``
runs exactly as ``locust -f locustfiles/chatbot.py ...`` does. Its help and error messages name it
``wslocust``, not ``locust``.
"""

from __future__ import annotations

import locust
from locust.main import main as locust_main

import re
from typing import Any

import wslocust.plugin  # noqa: F401  (registers the options and event hooks)

__all__ = ["main"]

_COMMAND = re.compile(r"(?m)(^Usage: |^    )locust\b")
"""Where Locust's help names its command: the usage line and the examples."""


def _name_the_command(parser: Any, **_: Any) -> None:
    parser.prog = "wslocust"
    parser.description = _COMMAND.sub(r"\1wslocust", parser.description or "")
    parser.epilog = _COMMAND.sub(r"\1wslocust", parser.epilog or "")


def main() -> None:
    """Run Locust's command line (``sys.argv``) with the plugin loaded."""
    locust.events.init_command_line_parser.add_listener(_name_the_command)
    locust_main()


if __name__ == "__main__":
    main()
