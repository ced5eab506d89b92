"""Socket.IO v4 packets over Engine.IO v4, socket-free: encode and decode, either side's.

Over the WebSocket transport every Engine.IO packet is one WebSocket message: a text message is
one type digit and its data (``0`` open, ``1`` close, ``2`` ping, ``3`` pong, ``4`` message,
``5`` upgrade, ``6`` noop); a binary message is the raw data of a message packet (in Socket.IO, an
attachment of the binary packet before it).

A Socket.IO packet travels in an Engine.IO message (``4``)::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]

    42["user_uttered",{"message":"hi"}]      EVENT on "/"
    42/chat,7["ask","hi"]                    EVENT on "/chat" asking for ack 7
    43/chat,7["fine"]                        ACK 7
    40{"token":"..."} / 40{"sid":"..."}      CONNECT: the client's auth / the server's answer
    44{"message":"Not authorized"}           CONNECT_ERROR
    451-["file",{"_placeholder":true,"num":0}]   BINARY_EVENT with one attachment to follow

:func:`decode_engineio` splits a message into its Engine.IO type and data, :func:`decode_packet` reads
a Socket.IO packet; :func:`encode_packet` (and :func:`encode_event`, :func:`encode_ack`,
:func:`encode_connect`, :func:`encode_connect_error`, :func:`encode_disconnect`, :func:`encode_open`)
build the message text a client or a server sends. A packet that cannot be read raises
:class:`~wslocust.errors.ProtocolError`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError

__all__ = [
    "ACK",
    "BINARY_ACK",
    "BINARY_EVENT",
    "CLOSE",
    "CONNECT",
    "CONNECT_ERROR",
    "DISCONNECT",
    "EVENT",
    "MESSAGE",
    "NOOP",
    "OPEN",
    "PING",
    "PONG",
    "RESERVED_EVENTS",
    "UPGRADE",
    "Packet",
    "decode_engineio",
    "decode_packet",
    "encode_ack",
    "encode_connect",
    "encode_connect_error",
    "encode_disconnect",
    "encode_event",
    "encode_open",
    "encode_packet",
    "fill_placeholders",
]

# Engine.IO v4 packet types: the first character of a text message.
OPEN = "0"
CLOSE = "1"
PING = "2"
PONG = "3"
MESSAGE = "4"
UPGRADE = "5"
NOOP = "6"
_ENGINEIO_TYPES = frozenset((OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP))

RESERVED_EVENTS = frozenset(("connect", "connect_error", "disconnect", "disconnecting", "newListener"))
"""Event names Socket.IO keeps for itself: a server never emits them as an application's event."""

# Socket.IO v5 (the protocol of Socket.IO v3 and v4) packet types.
CONNECT = 0
DISCONNECT = 1
EVENT = 2
ACK = 3
CONNECT_ERROR = 4
BINARY_EVENT = 5
BINARY_ACK = 6

_PREVIEW = 80


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet.

    Attributes:
        type: :data:`CONNECT`, :data:`DISCONNECT`, :data:`EVENT`, :data:`ACK`,
            :data:`CONNECT_ERROR`, :data:`BINARY_EVENT` or :data:`BINARY_ACK`.
        namespace: the namespace, ``/`` by default.
        data: the JSON data: an event's ``[name, *args]``, an ack's ``[*args]``, a connect's auth
            or ``{"sid": ...}``, a connect error's ``{"message": ...}``; None when absent.
        id: the ack id, or None.
        attachments: how many binary messages follow (binary packets only).
    """

    type: int
    namespace: str = "/"
    data: Any = None
    id: int | None = None
    attachments: int = 0

    @property
    def event(self) -> str | None:
        """An event's name (None for other packets)."""
        if self.type in (EVENT, BINARY_EVENT):
            name: str = self.data[0]
            return name
        return None

    @property
    def args(self) -> list[Any]:
        """An event's arguments (after its name) or an ack's; empty for other packets."""
        if self.type in (EVENT, BINARY_EVENT):
            return list(self.data[1:])
        if self.type in (ACK, BINARY_ACK):
            return list(self.data)
        return []


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW else text[:_PREVIEW] + "..."


def decode_engineio(message: str) -> tuple[str, str]:
    """Split a text message into its Engine.IO packet type (one of ``0``-``6``) and its data.

    Raises:
        ProtocolError: the message is empty or its type is not an Engine.IO v4 one.
    """
    if not message or message[0] not in _ENGINEIO_TYPES:
        raise ProtocolError(f"malformed Engine.IO packet: {_preview(message)!r}")
    return message[0], message[1:]


def decode_packet(text: str) -> Packet:
    """Read a Socket.IO packet (the data of an Engine.IO message packet, ``4`` already removed).

    Raises:
        ProtocolError: the packet is malformed: an unknown type, a bad attachment count, data that
            is not JSON or not the shape its type needs (an event's ``[name, ...]``, an ack's list,
            a connect's object). The message shows the packet as received, ``4`` included.
    """
    if not text or not "0" <= text[0] <= "6":
        raise ProtocolError(f"malformed Socket.IO packet: {_preview(MESSAGE + text)!r}")
    kind = ord(text[0]) - 48
    position = 1
    attachments = 0
    if kind in (BINARY_EVENT, BINARY_ACK):
        dash = text.find("-", position)
        count = text[position:dash] if dash > 0 else ""
        if not count.isdigit():
            shown = _preview(MESSAGE + text)
            raise ProtocolError(f"Socket.IO binary packet with no attachment count: {shown!r}")
        attachments = int(count)
        position = dash + 1
    namespace = "/"
    if text.startswith("/", position):
        comma = text.find(",", position)
        end = comma if comma >= 0 else len(text)
        namespace = text[position:end]
        position = end + 1 if comma >= 0 else end
    start = position
    while position < len(text) and "0" <= text[position] <= "9":
        position += 1
    ack_id = int(text[start:position]) if position > start else None
    data: Any = None
    if position < len(text):
        try:
            data = json.loads(text[position:])
        except ValueError:
            raise ProtocolError(f"Socket.IO packet data is not JSON: {_preview(MESSAGE + text)!r}") from None
    _check_shape(kind, data, text)
    return Packet(kind, namespace, data, ack_id, attachments)


def _check_shape(kind: int, data: Any, text: str) -> None:
    if kind in (EVENT, BINARY_EVENT):
        if not (isinstance(data, list) and data and isinstance(data[0], str)):
            raise ProtocolError(f"Socket.IO event without a [name, ...] list: {_preview(text)!r}")
    elif kind in (ACK, BINARY_ACK):
        if not isinstance(data, list):
            raise ProtocolError(f"Socket.IO ack without a list of arguments: {_preview(text)!r}")
    elif kind == CONNECT:
        if data is not None and not isinstance(data, dict):
            raise ProtocolError(f"Socket.IO connect data is not an object: {_preview(text)!r}")
    elif kind == CONNECT_ERROR and not isinstance(data, dict | str):
        # v4 sends {"message": ...}; v3 servers sent a bare string.
        raise ProtocolError(f"Socket.IO connect error without a message: {_preview(text)!r}")


def fill_placeholders(data: Any, attachments: Sequence[bytes]) -> Any:
    """``data`` with each ``{"_placeholder": true, "num": N}`` replaced by attachment N.

    Raises:
        ProtocolError: a placeholder names an attachment that did not come.
    """
    if isinstance(data, dict):
        if data.get("_placeholder") is True and isinstance(data.get("num"), int):
            number: int = data["num"]
            if not 0 <= number < len(attachments):
                raise ProtocolError(f"Socket.IO placeholder names attachment {number} of {len(attachments)}")
            return attachments[number]
        return {key: fill_placeholders(value, attachments) for key, value in data.items()}
    if isinstance(data, list):
        return [fill_placeholders(value, attachments) for value in data]
    return data


def encode_packet(packet: Packet) -> str:
    """The text message (Engine.IO message ``4`` included) that carries ``packet``."""
    parts = [MESSAGE, str(packet.type)]
    if packet.type in (BINARY_EVENT, BINARY_ACK):
        parts.append(f"{packet.attachments}-")
    if packet.namespace != "/":
        parts.append(packet.namespace + ",")
    if packet.id is not None:
        parts.append(str(packet.id))
    if packet.data is not None:
        parts.append(json.dumps(packet.data, ensure_ascii=False, separators=(",", ":")))
    return "".join(parts)


def encode_event(event: str, *args: Any, namespace: str = "/", ack_id: int | None = None) -> str:
    """An EVENT's message: ``42[event, *args]`` (``42/ns,ID[...]`` with a namespace and an ack id)."""
    return encode_packet(Packet(EVENT, namespace, [event, *args], ack_id))


def encode_ack(ack_id: int, *args: Any, namespace: str = "/") -> str:
    """An ACK's message: ``43ID[*args]``."""
    return encode_packet(Packet(ACK, namespace, list(args), ack_id))


def encode_connect(namespace: str = "/", data: Mapping[str, Any] | None = None) -> str:
    """A CONNECT's message: the client's (``data`` its auth) or the server's (``{"sid": ...}``)."""
    return encode_packet(Packet(CONNECT, namespace, dict(data) if data is not None else None))


def encode_connect_error(message: str, namespace: str = "/") -> str:
    """A CONNECT_ERROR's message: ``44{"message": ...}`` (the server refuses a namespace)."""
    return encode_packet(Packet(CONNECT_ERROR, namespace, {"message": message}))


def encode_disconnect(namespace: str = "/") -> str:
    """A DISCONNECT's message: ``41`` (either side leaves the namespace)."""
    return encode_packet(Packet(DISCONNECT, namespace))


def encode_open(sid: str, ping_interval_ms: int, ping_timeout_ms: int, max_payload: int = 1_000_000) -> str:
    """The server's Engine.IO open packet: ``0{"sid", "upgrades", "pingInterval", ...}``."""
    handshake = {
        "sid": sid,
        "upgrades": [],
        "pingInterval": ping_interval_ms,
        "pingTimeout": ping_timeout_ms,
        "maxPayload": max_payload,
    }
    return OPEN + json.dumps(handshake, separators=(",", ":"))
