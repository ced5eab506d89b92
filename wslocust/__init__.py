"""wslocust: load-test chatbots that talk over WebSocket, with Locust.

The public API is re-exported here, lazily (PEP 562): ``import wslocust.wire`` pulls in neither
gevent nor Locust, while ``from wslocust import ChatbotUser`` loads what the user class needs.

Under Locust (a locustfile imports wslocust after Locust has started), importing the package also
registers the plugin's command-line options and event hooks (:mod:`wslocust.plugin`); so does
reaching any of the Locust-facing names below, and ``import wslocust.plugin`` does it explicitly.
"""

from __future__ import annotations

import importlib as _importlib
import sys as _sys
from typing import TYPE_CHECKING as _TYPE_CHECKING

if _TYPE_CHECKING:
    from typing import Any

    from .client import CONNECT_REQUEST_TYPE, REQUEST_TYPE, ChatClient
    from .datasets import Dataset, PromptRecord, load_prompts
    from .errors import (
        BotError,
        ConfigurationError,
        ConnectError,
        ConnectionClosed,
        DatasetError,
        HandshakeRejected,
        MetricFailure,
        ProtocolError,
        ReplyError,
        ReplyTimeout,
        SessionRefused,
        WsLocustError,
    )
    from .metrics import Metric
    from .users import ChatbotUser, WebSocketUser
    from .wire.protocols import (
        END,
        Answer,
        ApiGatewayProtocol,
        Chunk,
        End,
        Event,
        Failure,
        JsonProtocol,
        Message,
        OpenAIRealtimeProtocol,
        PlainProtocol,
        Protocol,
        RasaProtocol,
        SocketIOProtocol,
    )
    from .wire.reply import Reply

_ERRORS = (
    "BotError",
    "ConfigurationError",
    "ConnectError",
    "ConnectionClosed",
    "DatasetError",
    "HandshakeRejected",
    "MetricFailure",
    "ProtocolError",
    "ReplyError",
    "ReplyTimeout",
    "SessionRefused",
    "WsLocustError",
)
_PROTOCOLS = (
    "END",
    "Answer",
    "ApiGatewayProtocol",
    "Chunk",
    "End",
    "Event",
    "Failure",
    "JsonProtocol",
    "Message",
    "OpenAIRealtimeProtocol",
    "PlainProtocol",
    "Protocol",
    "RasaProtocol",
    "SocketIOProtocol",
)
_LOCUST_FACING = {
    "CONNECT_REQUEST_TYPE": "client",
    "REQUEST_TYPE": "client",
    "ChatClient": "client",
    "ChatbotUser": "users",
    "WebSocketUser": "users",
}
"""Names whose modules run under Locust: reaching one registers the plugin too."""

_HOMES: dict[str, str] = {
    **dict.fromkeys(_ERRORS, "errors"),
    **dict.fromkeys(_PROTOCOLS, "wire.protocols"),
    **_LOCUST_FACING,
    "Dataset": "datasets",
    "PromptRecord": "datasets",
    "load_prompts": "datasets",
    "Metric": "metrics",
    "Reply": "wire.reply",
}
"""Each public name and the module (under ``wslocust``) that defines it."""

__all__ = [
    "CONNECT_REQUEST_TYPE",
    "END",
    "REQUEST_TYPE",
    "Answer",
    "ApiGatewayProtocol",
    "BotError",
    "ChatClient",
    "ChatbotUser",
    "Chunk",
    "ConfigurationError",
    "ConnectError",
    "ConnectionClosed",
    "Dataset",
    "DatasetError",
    "End",
    "Event",
    "Failure",
    "HandshakeRejected",
    "JsonProtocol",
    "Message",
    "Metric",
    "MetricFailure",
    "OpenAIRealtimeProtocol",
    "PlainProtocol",
    "PromptRecord",
    "Protocol",
    "ProtocolError",
    "RasaProtocol",
    "Reply",
    "ReplyError",
    "ReplyTimeout",
    "SessionRefused",
    "SocketIOProtocol",
    "WebSocketUser",
    "WsLocustError",
    "load_prompts",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wslocust' has no attribute {name!r}")
    if name in _LOCUST_FACING:
        _importlib.import_module(".plugin", __name__)
    value = getattr(_importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if "locust" in _sys.modules:  # a locustfile being loaded by Locust: the plugin's options must be there
    _importlib.import_module(".plugin", __name__)
