"""Kept for code written against earlier releases: the protocols live in :mod:`wslocust.wire.protocols`."""

from __future__ import annotations

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
