"""The public API: what ``wslocust`` and each of its modules export."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import wslocust

EXPECTED_PUBLIC_API = {
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
    "OpenAIRealtimeProtocol",
    "PlainProtocol",
    "PromptRecord",
    "Protocol",
    "ProtocolError",
    "Reply",
    "ReplyError",
    "ReplyTimeout",
    "SessionRefused",
    "SocketIOProtocol",
    "RasaProtocol",
    "WebSocketUser",
    "WsLocustError",
    "load_prompts",
    "Metric",
    "MetricFailure",
}

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(wslocust.__path__, prefix="wslocust.")
    if not info.name.rsplit(".", 1)[-1].startswith("__")
)


def test_public_api_is_the_expected_set_of_names() -> None:
    assert set(wslocust.__all__) == EXPECTED_PUBLIC_API


def test_package_all_has_no_duplicates() -> None:
    assert len(wslocust.__all__) == len(set(wslocust.__all__))


def test_every_name_in_package_all_is_importable() -> None:
    missing = [name for name in wslocust.__all__ if not hasattr(wslocust, name)]

    assert missing == []


def test_star_import_gives_exactly_package_all() -> None:
    namespace: dict[str, object] = {}
    exec("from wslocust import *", namespace)

    assert set(namespace) - {"__builtins__"} == set(wslocust.__all__)


def test_every_public_non_module_attribute_of_the_package_is_in_all() -> None:
    public = {
        name
        for name, value in vars(wslocust).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }

    assert public == set(wslocust.__all__)


def test_walk_finds_the_package_modules() -> None:
    assert {
        "wslocust.wire.frames",
        "wslocust.datasets",
        "wslocust.wire.protocols",
        "wslocust.wire.protocols.base",
    } <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_module_defines_all_of_names_it_has(module_name: str) -> None:
    module = importlib.import_module(module_name)

    exported = getattr(module, "__all__", None)

    assert isinstance(exported, list | tuple), f"{module_name} defines no __all__"
    assert len(exported) == len(set(exported)), f"{module_name}.__all__ has duplicates"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{module_name}.__all__ names what it lacks"
