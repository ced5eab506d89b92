"""``python -m wslocust.demo``: run the demo chatbot (see :mod:`wslocust.demo.server`)."""

from __future__ import annotations

import sys

from .server import main

sys.exit(main())
