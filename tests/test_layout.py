"""The layout's contracts that import-linter cannot state: what a fresh process loads on an import,
which modules may touch Locust's runner, parser and web UI, how long a module may grow, and which
import paths of earlier releases still work."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, UNIT

PACKAGE = ROOT / "wslocust"

HEAVY = ("gevent", "locust", "websocket", "websockets", "flask")
"""Third-party packages a sans-I/O import must not load."""

RUNNER_FACING = (
    "locust.runners",
    "locust.argument_parser",
    "locust.web",
    "locust.html",
    "locust.rpc",
    "flask",
)
"""Locust's runner, parser and web UI (and the web framework under it): the plugin's alone."""

MAX_MODULE_LINES = 650


def _loaded_after(code: str) -> list[str]:
    """The top-level packages of ``HEAVY`` that a fresh interpreter has loaded after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=True
    )
    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    return sorted(loaded & set(HEAVY))


def _imported_modules(path: Path) -> set[str]:
    """Every module a source file imports (``from x import y`` gives ``x`` and ``x.y``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize(
    "code",
    [
        "import wslocust",
        "import wslocust.wire.frames, wslocust.wire.protocols, wslocust.wire.reply",
        "import wslocust.stats, wslocust.stats.recorder",
        "from wslocust import Reply, Chunk, End, Failure, PlainProtocol, WsLocustError",
    ],
)
def test_the_sans_io_layers_import_without_gevent_or_locust(code: str) -> None:
    assert _loaded_after(code) == []


def test_every_public_name_has_one_home_the_lazy_package_loads_it_from() -> None:
    import wslocust

    assert sorted(wslocust._HOMES) == sorted(wslocust.__all__)


def test_a_locust_facing_name_loads_locust_and_registers_the_plugin() -> None:
    code = (
        "from wslocust import ChatbotUser\n"
        "from locust.argument_parser import get_parser\n"
        "assert '--reply-timeout' in get_parser().format_help(), 'no wslocust option in the parser'"
    )
    assert {"gevent", "locust"} <= set(_loaded_after(code))


def test_a_locustfile_importing_wslocust_under_locust_registers_the_plugin() -> None:
    code = (
        "import locust\n"
        "import wslocust\n"
        "from locust.argument_parser import get_parser\n"
        "assert '--reply-timeout' in get_parser().format_help(), 'no wslocust option in the parser'"
    )
    assert "locust" in _loaded_after(code)


@pytest.mark.parametrize(
    "statement",
    [
        "from wslocust.shapes import StepShape, StressShape, StagesShape, install_shape",
        "from wslocust.protocols import JsonProtocol, Protocol",
        "from wslocust.protocols.base import Protocol, Chunk",
        "from wslocust.protocols.json_messages import JsonProtocol, get_path",
        "from wslocust.demo_server import DemoProcess, main",
        "from wslocust.client import ChatClient, Reply, check_url",
        "from wslocust.stats import ChatStats, Histogram",
        "from wslocust.outputs import summary, format_table",
    ],
)
def test_an_import_path_of_earlier_releases_still_imports(statement: str) -> None:
    subprocess.run([sys.executable, "-c", statement], cwd=ROOT, check=True, timeout=60 * UNIT)


def test_only_the_plugin_touches_locusts_runner_parser_and_web_ui() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imported_modules(path) if name.startswith(RUNNER_FACING)
        )
        for path in PACKAGE.rglob("*.py")
        if PACKAGE / "plugin" not in path.parents and path != PACKAGE / "cli.py"
    }
    assert {path: names for path, names in offenders.items() if names} == {}


def test_no_module_outgrows_its_name() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in [*PACKAGE.rglob("*.py"), *(ROOT / "analysis").rglob("*.py")]
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}
