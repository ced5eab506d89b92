"""Kept for code written against earlier releases: the protocols live in :mod:`wslocust.wire.protocols`.

Its modules answer to their old names too (``from wslocust.protocols.base import Protocol``, as the
old package's docstring suggested for writing one's own protocol).
"""

from __future__ import annotations

import sys as _sys

from .wire.protocols import (
    END,
    PROTOCOLS,
    ApiGatewayProtocol,
    Chunk,
    Condition,
    End,
    Event,
    Failure,
    JsonProtocol,
    JsonTemplate,
    Message,
    OpenAIRealtimeProtocol,
    PlainProtocol,
    Protocol,
    get_path,
    get_protocol,
)
from .wire.protocols import apigw as _apigw
from .wire.protocols import base as _base
from .wire.protocols import json_messages as _json_messages
from .wire.protocols import openai_realtime as _openai_realtime
from .wire.protocols import plain as _plain

__all__ = [
    "END",
    "PROTOCOLS",
    "ApiGatewayProtocol",
    "Chunk",
    "Condition",
    "End",
    "Event",
    "Failure",
    "JsonProtocol",
    "JsonTemplate",
    "Message",
    "OpenAIRealtimeProtocol",
    "PlainProtocol",
    "Protocol",
    "get_path",
    "get_protocol",
]

for _module in (_apigw, _base, _json_messages, _openai_realtime, _plain):
    _sys.modules.setdefault(f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}", _module)
