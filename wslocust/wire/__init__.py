"""The sans-I/O core: bytes and strings in, events out. Imports no gevent, no Locust, no socket.

- :mod:`.frames`: RFC 6455 framing (encode a message; read frames from received bytes).
- :mod:`.deflate`: permessage-deflate (RFC 7692): the offer, the server's answer checked, messages
  inflated within a size limit and deflated, the compressed connection's frame reader.
- :mod:`.protocols`: one module per wire dialect: a prompt to messages, messages to reply events.
- :mod:`.reply`: :class:`~wslocust.wire.reply.Reply`, what one round trip measured.
- :mod:`.connection`: a connection's policy: received bytes to the reply and to actions (answer a
  ping, close, drop a push).
- :mod:`.handshake`: the handshake's URL, headers, ``--connect-to`` address and redirect policy.
"""

from __future__ import annotations

__all__: list[str] = []
