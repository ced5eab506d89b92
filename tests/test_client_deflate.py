"""Compressed connections (permessage-deflate, RFC 7692) end to end: ChatClient against the websockets
library's server with each parameter that changes how messages are compressed, against the demo bot,
and against raw servers that send a decompression bomb or accept an extension that was not offered."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent.server import StreamServer

from wslocust.client import ChatClient
from wslocust.errors import ConfigurationError, ConnectError, ProtocolError
from wslocust.wire.deflate import OFFER, DeflateParameters
from wslocust.wire.frames import OP_CLOSE, FrameReader, parse_close
from wslocust.wire.protocols import PlainProtocol, get_protocol

from .conftest import ROOT, SAMPLE, UNIT, locust_command, read_request_head
from .test_client_hostile import upgrade_answer
from .test_locust_run import read_rows

FIRST = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])


@pytest.fixture
def websockets_server() -> Iterator[Callable[..., str]]:
    """Start tests/websockets_server.py: ``url = websockets_server("--deflate", "{...}")``."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "websockets_server.py"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        started.append(process)
        assert process.stdout is not None
        with gevent.Timeout(20 * UNIT):
            line = process.stdout.readline()
        assert line.startswith("listening on ws://"), line
        return line.split()[-1]

    yield start
    for process in started:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(10 * UNIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def deflating(environment: Any, url: str, **kwargs: Any) -> ChatClient:
    return ChatClient(environment, url, PlainProtocol(), compression="deflate", **kwargs)


@pytest.mark.parametrize(
    ("server_settings", "agreed"),
    [
        ({}, DeflateParameters()),
        ({"server_no_context_takeover": True}, DeflateParameters(server_no_context_takeover=True)),
        ({"client_no_context_takeover": True}, DeflateParameters(client_no_context_takeover=True)),
        ({"server_max_window_bits": 9}, DeflateParameters(server_max_window_bits=9)),
        ({"client_max_window_bits": 8}, DeflateParameters(client_max_window_bits=8)),
        (
            {
                "server_no_context_takeover": True,
                "client_no_context_takeover": True,
                "server_max_window_bits": 10,
                "client_max_window_bits": 11,
            },
            DeflateParameters(True, True, 10, 11),
        ),
    ],
    ids=["defaults", "server-no-context", "client-no-context", "server-window-9", "client-window-8", "all"],
)
def test_prompts_and_replies_round_trip_compressed_with_the_parameters_the_server_agreed(
    recorded_env: Any,
    websockets_server: Callable[..., str],
    server_settings: dict[str, Any],
    agreed: DeflateParameters,
) -> None:
    environment, recorded = recorded_env
    client = deflating(environment, websockets_server("--deflate", json.dumps(server_settings)))
    assert client.connect()
    assert client.compression.agreed == agreed
    # The same prompt again and again: with context takeover, each refers to the ones before.
    for index in range(4):
        prompt = f"{FIRST['Question']} {FIRST['Question']} #{index % 2}"
        reply = client.ask(prompt)
        assert reply.ok, reply.error
        answer = json.loads(reply.text)
        assert answer["prompt"] == prompt
        assert answer["deflate"] == {
            "server_no_context_takeover": agreed.server_no_context_takeover,
            "client_no_context_takeover": agreed.client_no_context_takeover,
            "server_max_window_bits": agreed.server_max_window_bits,
            "client_max_window_bits": agreed.client_max_window_bits,
        }
    assert [event["exception"] for event in recorded.of("WS")] == [None] * 4
    client.close()


@pytest.mark.parametrize("ask", ["big", "fragments"])
def test_a_large_compressible_reply_is_inflated_whole(
    recorded_env: Any, websockets_server: Callable[..., str], ask: str
) -> None:
    environment, _ = recorded_env
    client = deflating(environment, websockets_server())
    size = 3 * 1024 * 1024  # under the 4 MiB message limit, compressed to a few KiB
    for _ in range(2):
        reply = client.ask(f"{ask} {size}")
        assert reply.ok, reply.error
        assert len(reply.text) == size
        assert reply.text.startswith("Refunds are processed")
        assert reply.bytes == size  # the message's size, inflated
    client.close()


def test_the_message_limit_applies_to_a_compressed_reply_once_inflated(
    recorded_env: Any, websockets_server: Callable[..., str]
) -> None:
    environment, _ = recorded_env
    client = deflating(environment, websockets_server(), max_message_bytes=64 * 1024)
    assert client.ask(f"big {64 * 1024}").ok  # exactly the limit, inflated
    reply = client.ask(f"big {64 * 1024 + 1}")  # a frame of about 1 KB, a byte over once inflated
    assert isinstance(reply.error, ProtocolError)
    assert "inflates past the 65536-byte message limit (--max-message-bytes)" in str(reply.error)
    assert not client.connected


def test_a_server_that_declines_compression_gets_uncompressed_prompts(
    recorded_env: Any, websockets_server: Callable[..., str]
) -> None:
    environment, _ = recorded_env
    client = deflating(environment, websockets_server("--no-compression"))
    reply = client.ask("hello")
    assert reply.ok, reply.error
    assert client.compression.agreed is None
    assert json.loads(reply.text) == {"prompt": "hello", "deflate": None}
    client.close()


@pytest.mark.parametrize("name", ["plain", "json", "apigw", "openai-realtime"])
def test_every_protocol_gets_the_demo_bots_answer_over_a_compressed_connection(
    recorded_env: Any, demo: Callable[..., str], name: str
) -> None:
    environment, _ = recorded_env
    url = demo("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "4", "--compression", "deflate")
    client = ChatClient(environment, url, get_protocol(name)(), compression="deflate")
    reply = client.ask(FIRST["Question"])
    assert reply.ok, reply.error
    assert reply.text == FIRST["Answer"]
    assert client.compression.agreed is not None
    client.close()


@pytest.mark.parametrize("name", ["socketio", "rasa"])
def test_a_socketio_session_runs_over_a_compressed_connection(
    recorded_env: Any, demo: Callable[..., str], name: str
) -> None:
    """The protocol's own messages (its opening, its pongs) go compressed too, in step with the prompts."""
    environment, recorded = recorded_env
    url = demo("--ttft-ms", "5", "--itl-ms", "1", "--compression", "deflate")
    client = ChatClient(environment, url, get_protocol(name)(), compression="deflate")
    for _ in range(2):
        reply = client.ask(FIRST["Question"])
        assert reply.ok, reply.error
        assert reply.text == FIRST["Answer"]
    assert client.compression.agreed is not None
    assert [event["exception"] for event in recorded.of("CONNECT")] == [None]
    client.close()


def test_a_demo_bot_started_without_compression_declines_it(
    recorded_env: Any, demo: Callable[..., str]
) -> None:
    environment, _ = recorded_env
    client = deflating(environment, demo("--ttft-ms", "5", "--itl-ms", "1", "--compression", "none"))
    assert client.ask(FIRST["Question"]).ok
    assert client.compression.agreed is None
    client.close()


# -- raw servers ---------------------------------------------------------------------------------------


class RawDeflateServer:
    """A server written byte by byte: it answers the upgrade with ``extensions`` (when given) and then
    sends ``frames`` after the first prompt; it records the offer and the close code it got."""

    def __init__(self, extensions: str | None, frames: bytes = b"") -> None:
        self.extensions = extensions
        self.frames = frames
        self.offers: list[str | None] = []
        self.close_codes: list[int | None] = []
        self.stream = StreamServer(("127.0.0.1", 0), self._serve)
        self.stream.start()
        self.url = f"ws://127.0.0.1:{self.stream.address[1]}"

    def _serve(self, sock: socket.socket, _address: Any) -> None:
        request = read_request_head(sock)
        if b"\r\n\r\n" not in request:
            return
        headers = dict(
            line.decode().split(":", 1) for line in request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]
        )
        offer = {name.lower(): value.strip() for name, value in headers.items()}.get(
            "sec-websocket-extensions"
        )
        self.offers.append(offer)
        answer = upgrade_answer(request)
        if self.extensions is not None:
            answer = answer[:-2] + f"Sec-WebSocket-Extensions: {self.extensions}\r\n\r\n".encode()
        sock.sendall(answer)
        reader = FrameReader(accept_masked=True, max_message_bytes=1 << 30)
        sent = False
        try:
            while data := sock.recv(65536):
                try:
                    frames = reader.feed(data)
                except Exception:  # a compressed prompt: this reader knows no extension
                    frames = [(0x1, b"")]
                for opcode, payload in frames:
                    if opcode == OP_CLOSE:
                        self.close_codes.append(parse_close(payload)[0])
                    elif not sent:
                        sock.sendall(self.frames)
                        sent = True
        except OSError:
            pass

    def stop(self) -> None:
        self.stream.stop(timeout=1)


@pytest.fixture
def raw_deflate_server() -> Iterator[Callable[..., RawDeflateServer]]:
    started: list[RawDeflateServer] = []

    def start(extensions: str | None, frames: bytes = b"") -> RawDeflateServer:
        server = RawDeflateServer(extensions, frames)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def bomb_frame(inflated_bytes: int) -> bytes:
    """One small compressed text frame of zeros that inflates to ``inflated_bytes``, built a MiB at a
    time (the test never holds the inflated message itself)."""
    encoder = zlib.compressobj(wbits=-15)
    block = b"\x00" * (1024 * 1024)
    payload = b"".join(encoder.compress(block) for _ in range(inflated_bytes // len(block)))
    payload = (payload + encoder.flush(zlib.Z_SYNC_FLUSH))[:-4]
    size = len(payload)
    assert 65536 <= size < 1024 * 1024
    return bytes((0xC1, 127)) + size.to_bytes(8, "big") + payload


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def test_a_decompression_bomb_is_a_counted_protocol_error_and_never_inflated_in_memory(
    recorded_env: Any, raw_deflate_server: Callable[..., RawDeflateServer]
) -> None:
    environment, recorded = recorded_env
    inflated = 512 * 1024 * 1024  # half a GiB of zeros, sent as a frame of about 500 KB
    server = raw_deflate_server("permessage-deflate", bomb_frame(inflated))
    client = deflating(environment, server.url)
    before = peak_rss_bytes()
    reply = client.ask("hello")
    assert isinstance(reply.error, ProtocolError)
    assert "inflates past the 4194304-byte message limit" in str(reply.error)
    assert peak_rss_bytes() - before < 128 * 1024 * 1024  # the 4 MiB limit, not the 512 MiB bomb
    [event] = recorded.of("WS")
    assert event["exception"] is reply.error
    assert not client.connected
    with gevent.Timeout(5 * UNIT):
        while not server.close_codes:
            gevent.sleep(0.01)
    assert server.close_codes == [1009]  # message too big


def test_an_extension_accepted_but_not_offered_fails_the_connection_clearly(
    recorded_env: Any, raw_deflate_server: Callable[..., RawDeflateServer]
) -> None:
    environment, recorded = recorded_env
    server = raw_deflate_server("permessage-deflate")
    client = ChatClient(environment, server.url, PlainProtocol())
    assert not client.connect()
    [event] = recorded.of("CONNECT")
    assert isinstance(event["exception"], ConnectError)
    assert "permessage-deflate, which was not offered" in str(event["exception"])
    assert server.offers == [None]


@pytest.mark.parametrize(
    ("answer", "culprit"),
    [
        ("x-webkit-deflate-frame", "'x-webkit-deflate-frame', which was not offered"),
        ("permessage-deflate; client_max_window_bits", "client_max_window_bits must be a window size"),
        ("permessage-deflate; server_max_window_bits=20", "got '20'"),
    ],
)
def test_an_invalid_answer_to_the_offer_fails_the_connection_naming_the_culprit(
    recorded_env: Any, raw_deflate_server: Callable[..., RawDeflateServer], answer: str, culprit: str
) -> None:
    environment, recorded = recorded_env
    server = raw_deflate_server(answer)
    client = deflating(environment, server.url)
    reply = client.ask("hello")
    assert isinstance(reply.error, ConnectError)
    [event] = recorded.of("CONNECT")
    assert culprit in str(event["exception"])
    assert server.offers == [OFFER]


def test_the_offer_is_sent_only_with_compression_deflate(
    recorded_env: Any, raw_deflate_server: Callable[..., RawDeflateServer]
) -> None:
    environment, _ = recorded_env
    server = raw_deflate_server(None)
    for client in (ChatClient(environment, server.url, PlainProtocol()), deflating(environment, server.url)):
        assert client.connect()
        assert client.compression.agreed is None
        client.close()
    assert server.offers == [None, OFFER]


def test_an_unknown_compression_is_refused() -> None:
    from locust.env import Environment

    with pytest.raises(ConfigurationError, match="compression must be one of none, deflate, got 'gzip'"):
        ChatClient(Environment(), "ws://127.0.0.1:9", PlainProtocol(), compression="gzip")


# -- a Locust run ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_headless_run_with_compression_against_the_embedded_demo_bot_succeeds(tmp_path: Path) -> None:
    prefix = tmp_path / "run"
    result = subprocess.run(
        locust_command(
            "--headless", "-u", "3", "-r", "3", "-t", "4s", "--think-time", "0", "--csv", str(prefix),
            "--compression", "deflate", "--demo-ttft-ms", "10", "--demo-itl-ms", "2",
            "--demo-error-rate", "0", "--demo-wrong-rate", "0", "--loglevel", "DEBUG",
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=90 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    # What each handshake agreed, logged at debug level (the demo bot's websockets defaults: 12-bit windows)
    assert ": permessage-deflate; server_max_window_bits=12; client_max_window_bits=12" in result.stderr
    rows = read_rows(prefix.with_name("run_stats.csv"))
    [total] = [row for row in rows if row["Name"] == "Aggregated"]
    assert int(total["Request Count"]) > 0
    assert int(total["Failure Count"]) == 0


@pytest.mark.slow
def test_an_unknown_compression_stops_the_run_at_start_up(tmp_path: Path) -> None:
    result = subprocess.run(
        locust_command("--headless", "-u", "1", "-t", "2s", "--compression", "gzip"),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--compression: invalid choice: 'gzip'" in result.stderr


@pytest.mark.slow
def test_a_locustfile_compression_that_is_unknown_is_refused_naming_it(tmp_path: Path) -> None:
    locustfile = tmp_path / "gzip_user.py"
    locustfile.write_text(
        "from wslocust import ChatbotUser\n\n\n"
        "class GzipUser(ChatbotUser):\n"
        "    compression = 'gzip'\n"
        "    demo_when_no_host = True\n",
        encoding="utf-8",
    )
    command = locust_command("--headless", "-u", "1", "-t", "2s")
    command[command.index("-f") + 1] = str(locustfile)
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "GzipUser.compression" in result.stderr
    assert "'gzip'" in result.stderr
