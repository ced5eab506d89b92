"""wslocust: load-test chatbots that talk over WebSocket, with Locust.

Importing the package registers its command-line options and event hooks with Locust (see
:mod:`wslocust.options`). The public API is re-exported here.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching before anything touches a socket)

from . import options as _options  # noqa: F401  (registers the plugin's hooks)
from .client import CONNECT_REQUEST_TYPE, REQUEST_TYPE, ChatClient, Reply
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
    WsLocustError,
)
from .metrics import Metric
from .protocols import (
    END,
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
)
from .users import ChatbotUser, WebSocketUser

__all__ = [
    "CONNECT_REQUEST_TYPE",
    "END",
    "REQUEST_TYPE",
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
    "Reply",
    "ReplyError",
    "ReplyTimeout",
    "WebSocketUser",
    "WsLocustError",
    "load_prompts",
]
