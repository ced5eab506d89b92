"""The sans-I/O core: bytes and strings in, events out. Imports no gevent, no Locust, no socket.

- :mod:`.frames`: RFC 6455 framing (encode a message; read frames from received bytes).
- :mod:`.protocols`: one module per wire dialect: a prompt to messages, messages to reply events.
- :mod:`.reply`: :class:`~wslocust.wire.reply.Reply`, what one round trip measured.
"""

from __future__ import annotations

__all__: list[str] = []
