"""One TLS context a process for the ``wss://`` clients with the same settings: the trust store and
the files are loaded once, not once a user; other settings, or a file changed on disk, get their own."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

import pytest

from wslocust.client import ChatClient
from wslocust.errors import ConfigurationError
from wslocust.tls_context import TlsFiles, shared_tls_context
from wslocust.wire.protocols import PlainProtocol

from .test_client_certificates import pki  # noqa: F401  (the private CA and certificates)


def test_clients_with_the_same_tls_settings_share_one_context(recorded_env, pki: Path) -> None:  # noqa: F811
    environment, _ = recorded_env
    files = TlsFiles(ca_file=str(pki / "ca.pem"), client_cert=str(pki / "client-and-key.pem"))
    clients = [
        ChatClient(environment, "wss://bot.test:8443/", PlainProtocol(), tls_files=TlsFiles(**vars(files)))
        for _ in range(3)
    ]
    contexts = {id(client._tls) for client in clients}
    assert len(contexts) == 1
    assert clients[0]._tls is shared_tls_context(True, files)
    assert isinstance(clients[0]._tls, ssl.SSLContext)


def test_other_tls_settings_get_a_context_of_their_own(pki: Path) -> None:  # noqa: F811
    verified = shared_tls_context(True)
    insecure = shared_tls_context(False)
    with_ca = shared_tls_context(True, TlsFiles(ca_file=str(pki / "ca.pem")))
    assert len({id(verified), id(insecure), id(with_ca)}) == 3
    assert verified.verify_mode == ssl.CERT_REQUIRED
    assert verified.check_hostname
    assert insecure.verify_mode == ssl.CERT_NONE
    assert not insecure.check_hostname


def test_a_file_changed_on_disk_gets_a_new_context(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    ca = tmp_path / "ca.pem"
    shutil.copy(pki / "ca.pem", ca)
    files = TlsFiles(ca_file=str(ca))
    before = shared_tls_context(True, files)
    assert shared_tls_context(True, files) is before
    stat = ca.stat()
    os.utime(ca, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a renewed certificate
    assert shared_tls_context(True, files) is not before


def test_a_file_that_cannot_be_read_is_refused_each_time_until_it_can(pki: Path, tmp_path: Path) -> None:  # noqa: F811
    ca = tmp_path / "late-ca.pem"
    files = TlsFiles(ca_file=str(ca))
    for _ in range(2):
        with pytest.raises(ConfigurationError, match=r"^--ca-file \S*late-ca\.pem: cannot read it"):
            shared_tls_context(True, files)
    shutil.copy(pki / "ca.pem", ca)
    assert isinstance(shared_tls_context(True, files), ssl.SSLContext)
