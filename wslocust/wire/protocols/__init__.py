"""Protocols: how prompts and replies are framed, socket-free.

Built in: ``plain``, ``json``, ``apigw``, ``openai-realtime``, ``socketio``, ``rasa``, and for voice
``twilio`` and ``binary-stt``. See :mod:`.base` to write your own.
"""

from __future__ import annotations

from .apigw import ApiGatewayProtocol
from .base import (
    END,
    PROTOCOLS,
    Answer,
    AudioOut,
    Chunk,
    End,
    Event,
    Failure,
    Message,
    Protocol,
    SpeechEnded,
    Transcript,
    get_protocol,
)
from .binary_stt import BinarySttProtocol
from .json_messages import Condition, JsonProtocol, JsonTemplate, get_path
from .openai_realtime import OpenAIRealtimeProtocol
from .plain import PlainProtocol
from .socketio import RasaProtocol, SocketIOProtocol
from .twilio import TwilioProtocol

__all__ = [
    "END",
    "PROTOCOLS",
    "Answer",
    "ApiGatewayProtocol",
    "AudioOut",
    "BinarySttProtocol",
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
    "RasaProtocol",
    "SocketIOProtocol",
    "SpeechEnded",
    "Transcript",
    "TwilioProtocol",
    "get_path",
    "get_protocol",
]
