"""How load is offered: open-model arrivals (:mod:`.arrivals`) and load shapes (:mod:`.shapes`)."""

from __future__ import annotations

__all__: list[str] = []
