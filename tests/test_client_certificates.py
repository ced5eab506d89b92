"""Client certificates (mutual TLS) on ``wss://``: presented to a server on 127.0.0.1 that requires one
(accepted with it, the handshake refused without it, a counted failure saying why), and every file
mistake refused at start-up with one line naming the file and its option."""

from __future__ import annotations

from locust.argument_parser import get_parser
from locust.env import Environment
from locust.event import Events

import json
import os
import signal
import socket
import ssl
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from wslocust import ChatbotUser
from wslocust.client import ChatClient
from wslocust.errors import ConfigurationError, ConnectError
from wslocust.plugin.checks import check_run
from wslocust.plugin_state import PluginState, attach_state
from wslocust.stats.recorder import Recorder
from wslocust.tls_context import TlsFiles, tls_context
from wslocust.wire.frames import OP_TEXT, FrameReader, encode_frame
from wslocust.wire.protocols import PlainProtocol

from .conftest import ROOT, SAMPLE, UNIT, RawServer, free_port, locust_command, wait_until
from .test_locust_run import assert_one_clear_error

PASSWORD = "k3y-pa55word"
"""The encrypted key's password: it must appear in no message, log or output."""

_EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private CA; the server's certificate for ``bot.test`` and the client's (``load-tester``) signed
    by it, the client's key apart, with it in one file, and encrypted; a key of no certificate; a
    self-signed client certificate (``stranger``); the client certificate in DER (not PEM)."""
    folder = tmp_path_factory.mktemp("pki")

    def path(name: str) -> str:
        return str(folder / name)

    _openssl("req", "-x509", *_EC, "-subj", "/CN=test-ca", "-keyout", path("ca.key"), "-out", path("ca.pem"))
    signed = ["-CA", path("ca.pem"), "-CAkey", path("ca.key")]
    _openssl(
        "req", "-x509", *_EC, "-subj", "/CN=bot.test", "-addext", "subjectAltName=DNS:bot.test,IP:127.0.0.1", *signed,
        "-keyout", path("server.key"), "-out", path("server.pem"),
    )  # fmt: skip
    _openssl("req", "-x509", *_EC, "-subj", "/CN=load-tester", *signed, "-keyout", path("client.key"),
             "-out", path("client.pem"))  # fmt: skip
    _openssl("req", "-x509", *_EC, "-subj", "/CN=stranger", "-keyout", path("stranger.key"),
             "-out", path("stranger.pem"))  # fmt: skip
    _openssl("pkey", "-in", path("client.key"), "-aes256", "-passout", f"pass:{PASSWORD}", "-out",
             path("client-encrypted.key"))  # fmt: skip
    _openssl(
        "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", path("other.key")
    )
    _openssl("x509", "-in", path("client.pem"), "-outform", "DER", "-out", path("client.der"))
    (folder / "client-and-key.pem").write_bytes(
        (folder / "client.pem").read_bytes() + (folder / "client.key").read_bytes()
    )
    return folder


Handler = Callable[[socket.socket, dict[str, str]], None]


def _echo_with_peer(answered: list[str]) -> Handler:
    """A handler echoing each prompt after the common name of the client certificate the server
    accepted; each answer's name goes to ``answered``."""

    def echo(sock: socket.socket, _headers: dict[str, str]) -> None:
        assert isinstance(sock, ssl.SSLSocket)
        name = dict(pair[0] for pair in sock.getpeercert()["subject"])["commonName"]  # type: ignore[index]
        reader = FrameReader(accept_masked=True)
        while True:
            try:
                data = sock.recv(4096)
            except OSError:  # a user stopped at the run's end
                return
            if not data:
                return
            for opcode, payload in reader.feed(data):
                if opcode == OP_TEXT:
                    sock.sendall(encode_frame(OP_TEXT, f"{name}: ".encode() + payload, mask=False))
                    answered.append(name)

    return echo


def _requiring_server(
    raw_server: Callable[..., RawServer],
    pki: Path,
    tls: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED,
    answered: list[str] | None = None,
) -> RawServer:
    """A server for ``bot.test`` that requires a client certificate issued by the test's CA (speaking
    TLS ``tls`` at most); the common name of each answered prompt's certificate goes to ``answered``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.maximum_version = tls
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(pki / "ca.pem")
    return raw_server(_echo_with_peer([] if answered is None else answered), ssl_context=context)


def _client(environment: Environment, server: RawServer, files: TlsFiles | None) -> ChatClient:
    """A client of ``wss://bot.test`` dialling the server, verification on (the CA from ``files``)."""
    url = f"wss://bot.test:{server.port}/"
    return ChatClient(
        environment, url, PlainProtocol(), connect_to=f"127.0.0.1:{server.port}", tls_files=files
    )


@pytest.mark.parametrize(
    ("cert", "key", "password"),
    [
        ("client.pem", "client.key", None),
        ("client-and-key.pem", None, None),
        ("client.pem", "client-encrypted.key", "${WSLOCUST_TEST_KEY_PASSWORD}"),
    ],
    ids=["key-apart", "key-in-the-certificate-file", "encrypted-key"],
)
def test_a_client_certificate_is_presented_and_accepted_on_the_lean_path(
    recorded_env, raw_server, pki, monkeypatch, cert, key, password
) -> None:
    monkeypatch.setenv("WSLOCUST_TEST_KEY_PASSWORD", PASSWORD)
    environment, _ = recorded_env
    server = _requiring_server(raw_server, pki)
    files = TlsFiles(
        ca_file=str(pki / "ca.pem"),
        client_cert=str(pki / cert),
        client_key=None if key is None else str(pki / key),
        client_key_password=password,
    )
    client = _client(environment, server, files)
    reply = client.ask("who am I?")
    assert reply.ok, reply.error
    assert reply.text == "load-tester: who am I?"  # the server saw the certificate issued to the client
    assert client._raw is not None  # the lean path: read on the raw socket
    assert client._stamped


@pytest.mark.parametrize(
    ("tls", "why"),
    [
        (ssl.TLSVersion.TLSv1_3, "(the server requires a client certificate: give --client-cert)"),
        (ssl.TLSVersion.TLSv1_2, "as a TLS 1.2 server requiring a client certificate does without one)"),
    ],
    ids=["tls-1.3", "tls-1.2"],
)
def test_without_a_client_certificate_the_handshake_is_a_counted_failure_saying_why(
    recorded_env, raw_server, pki, tls, why
) -> None:
    environment, recorded = recorded_env
    server = _requiring_server(raw_server, pki, tls)
    client = _client(environment, server, TlsFiles(ca_file=str(pki / "ca.pem")))
    assert not client.connect()
    (event,) = recorded.of("CONNECT")
    error = event["exception"]
    assert isinstance(error, ConnectError)
    assert str(error).startswith(f"TLS failed with 127.0.0.1:{server.port}:")
    assert str(error).endswith(why)


def test_a_client_certificate_of_an_issuer_the_server_does_not_trust_is_refused(
    recorded_env, raw_server, pki
) -> None:
    environment, recorded = recorded_env
    server = _requiring_server(raw_server, pki)
    files = TlsFiles(
        ca_file=str(pki / "ca.pem"),
        client_cert=str(pki / "stranger.pem"),
        client_key=str(pki / "stranger.key"),
    )
    assert not _client(environment, server, files).connect()
    error = recorded.of("CONNECT")[0]["exception"]
    assert isinstance(error, ConnectError)
    assert "does not trust the client certificate's issuer" in str(error)


def test_the_server_is_still_verified_without_the_ca_file(recorded_env, raw_server, pki) -> None:
    environment, recorded = recorded_env
    server = _requiring_server(raw_server, pki)
    files = TlsFiles(client_cert=str(pki / "client.pem"), client_key=str(pki / "client.key"))
    assert not _client(environment, server, files).connect()
    assert "CERTIFICATE_VERIFY_FAILED" in str(recorded.of("CONNECT")[0]["exception"])


def test_a_user_presents_its_classs_certificate_to_the_failover_host_too(
    recorded_env, raw_server, pki
) -> None:
    environment, recorded = recorded_env
    attach_state(environment, PluginState(recorder=Recorder()))
    environment.parsed_options = get_parser().parse_args([])
    server = _requiring_server(raw_server, pki)
    refused = f"wss://127.0.0.1:{free_port()}"
    attributes = {
        "abstract": True, "host": refused, "failover_hosts": [f"wss://127.0.0.1:{server.port}"], "prompts": str(SAMPLE),
        "protocol": "plain", "ca_file": str(pki / "ca.pem"), "client_cert": str(pki / "client-and-key.pem"),
    }  # fmt: skip
    user = type("Secure", (ChatbotUser,), attributes)(environment)
    user.on_start()  # refused: the failover host is next
    user.ask_next()
    [reply] = recorded.of("WS")
    assert reply["exception"] is None
    assert reply["context"]["reply"].startswith("load-tester: ")  # the certificate the server accepted
    user.on_stop()


def test_a_client_whose_process_cannot_read_its_certificate_refuses_to_connect(recorded_env, pki) -> None:
    """A worker lacking a file the master had: its connect raises the configuration error (its user
    counts it as a failed connection and stops), nothing is dialled."""
    environment, recorded = recorded_env
    files = TlsFiles(client_cert=str(pki / "absent.pem"))
    client = ChatClient(environment, "wss://127.0.0.1:9/", PlainProtocol(), tls_files=files)
    with pytest.raises(ConfigurationError, match=r"^--client-cert .*absent\.pem: cannot read it"):
        client.connect()
    assert recorded.events == []  # the user's on_start fires the failed CONNECT, once


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"client_cert": "absent.pem"}, r"^--client-cert \S*absent\.pem: cannot read it \(No such file"),
        ({"client_cert": "client.der"}, r"^--client-cert \S*client\.der: no PEM certificate in it"),
        ({"client_cert": "client.pem"}, r"^--client-cert \S*client\.pem: holds no private key: give --client-key$"),
        ({"client_cert": "client.pem", "client_key": "client.pem"}, r"^--client-key \S*client\.pem: no PEM private key"),
        (
            {"client_cert": "client.pem", "client_key": "other.key"},
            r"^--client-key \S*other\.key does not match the certificate of --client-cert \S*client\.pem$",
        ),
        (
            {"client_cert": "client.pem", "client_key": "client-encrypted.key"},
            r"^--client-key \S*client-encrypted\.key is encrypted: give its password with --client-key-password$",
        ),
        (
            {"client_cert": "client.pem", "client_key": "client-encrypted.key", "client_key_password": "wrong"},
            r"^--client-key-password: wrong password for --client-key \S*client-encrypted\.key$",
        ),
        (
            {"client_cert": "client.pem", "client_key": "client-encrypted.key", "client_key_password": "${UNSET_PW}"},
            r"^--client-key-password: environment variable UNSET_PW is referenced but not set$",
        ),
        ({"client_key": "client.key"}, r"^--client-key is for a client certificate: give --client-cert$"),
        ({"ca_file": "client.key"}, r"^--ca-file \S*client\.key: no PEM certificate in it"),
    ],
    ids=[
        "missing", "not-pem", "no-key", "key-file-without-key", "key-not-matching", "encrypted-without-password",
        "wrong-password", "password-variable-unset", "key-without-certificate", "ca-not-pem",
    ],
)  # fmt: skip
def test_a_file_tls_cannot_use_is_refused_naming_the_file_and_its_option(pki, files, message) -> None:
    paths = {
        name: value if name == "client_key_password" else str(pki / value) for name, value in files.items()
    }
    with pytest.raises(ConfigurationError, match=message) as refused:
        tls_context(True, TlsFiles(**paths))
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "key", ["client-encrypted.key", "other.key"], ids=["wrong-password", "key-not-matching"]
)
def test_a_refused_password_is_never_in_the_message(pki, key) -> None:
    files = TlsFiles(
        client_cert=str(pki / "client.pem"), client_key=str(pki / key), client_key_password="not-" + PASSWORD
    )
    with pytest.raises(ConfigurationError) as refused:
        tls_context(True, files)
    assert PASSWORD not in str(refused.value)
    assert PASSWORD not in repr(files)  # nor in the settings' repr


def _checked(user: type[ChatbotUser], *args: str) -> None:
    options = get_parser().parse_args(args)
    check_run(Environment(user_classes=[user], events=Events(), parsed_options=options), [user])


def test_a_class_attributes_files_are_checked_at_start_up_naming_the_attribute(pki) -> None:
    class Secure(ChatbotUser):
        abstract = True
        host = "wss://bot.test:8443/"
        client_cert = str(pki / "client.pem")
        client_key = str(pki / "other.key")

    with pytest.raises(
        ConfigurationError, match=r"^Secure\.client_key \S*other\.key does not match .*Secure\.client_cert"
    ):
        _checked(Secure)
    _checked(Secure, "--client-key", str(pki / "client.key"))  # the option wins: the pair matches


def test_a_setting_set_nowhere_is_named_as_an_option_and_as_an_attribute(pki) -> None:
    """An encrypted key given on the command line without its password: the message names the option
    to give (and the attribute, for a locustfile), not only the class's attribute."""

    class Secure(ChatbotUser):
        abstract = True
        host = "wss://bot.test:8443/"

    with pytest.raises(
        ConfigurationError,
        match=r"is encrypted: give its password with --client-key-password \(or Secure\.client_key_password\)$",
    ):
        _checked(
            Secure,
            "--client-cert",
            str(pki / "client.pem"),
            "--client-key",
            str(pki / "client-encrypted.key"),
        )


def test_a_client_certificate_for_a_ws_url_is_refused_at_start_up(pki) -> None:
    """Sent only over TLS: on ws:// it would silently not be, so the run does not start."""

    class Plain(ChatbotUser):
        abstract = True
        host = "ws://127.0.0.1:8765/"

    cert = str(pki / "client-and-key.pem")
    with pytest.raises(ConfigurationError, match=r"^--client-cert: ws://127.0.0.1:8765 is not wss://"):
        _checked(Plain, "--client-cert", cert)
    _checked(Plain, "--client-cert", cert, "--failover-host", "wss://127.0.0.1:8443/")  # one endpoint is TLS


@pytest.mark.slow
def test_a_run_presents_the_client_certificate_given_on_the_command_line(raw_server, pki, tmp_path) -> None:
    """The certificate's encrypted key opened with a password from the environment; the password in no
    output. The run ends (SIGTERM, as its run time would end it) once the server answered 4 prompts."""
    answered: list[str] = []
    server = _requiring_server(raw_server, pki, answered=answered)
    summary = tmp_path / "summary.json"
    process = subprocess.Popen(
        locust_command(
            "--headless", "-u", "2", "-r", "100", "-t", "60s", "--host", f"wss://bot.test:{server.port}/",
            "--connect-to", f"127.0.0.1:{server.port}", "--protocol", "plain", "--think-time", "0.1",
            "--ca-file", str(pki / "ca.pem"), "--client-cert", str(pki / "client.pem"),
            "--client-key", str(pki / "client-encrypted.key"), "--client-key-password", "${BOT_KEY_PASSWORD}",
            "--summary-json", str(summary), "--metric", "ttft:max_ms=60000",  # no quality metric: echoes
        ),
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "BOT_KEY_PASSWORD": PASSWORD},
    )  # fmt: skip
    try:
        wait_until(lambda: len(answered) >= 4 or process.poll() is not None, 30 * UNIT)
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30 * UNIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert set(answered) == {"load-tester"}
    document = json.loads(summary.read_text())
    assert document["total_requests"] >= 4
    assert document["failed_requests"] == 0
    assert document["connections"]["failures"] == 0
    options = document["run"]["options"]
    assert options["client_cert"] == str(pki / "client.pem")
    assert "client_key_password" not in options  # a secret: never written
    for output in (stdout, stderr, summary.read_text()):
        assert PASSWORD not in output
        assert "BOT_KEY_PASSWORD" not in output


@pytest.mark.slow
def test_a_key_not_matching_the_certificate_stops_the_run_at_start_up(pki) -> None:
    result = subprocess.run(
        locust_command(
            "--headless", "-u", "1", "-t", "2s", "--host", "wss://bot.test:8443/",
            "--client-cert", str(pki / "client.pem"), "--client-key", str(pki / "other.key"),
        ),
        cwd=ROOT, capture_output=True, text=True, timeout=60 * UNIT, check=False,
    )  # fmt: skip
    assert_one_clear_error(result, "--client-key", str(pki / "other.key"), "does not match the certificate")
