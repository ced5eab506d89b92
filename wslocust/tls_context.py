"""The one place a ``wss://`` connection's :class:`ssl.SSLContext` is built: verification, the CA
trusted beside the system's, and the client certificate (mutual TLS).

:func:`tls_context` reads and checks the files it is given, so a mistake is one
:class:`~wslocust.errors.ConfigurationError` naming the file and the option (or class attribute) it
came from: a missing or unreadable file, one that is not PEM, a key that does not match its
certificate, an encrypted key without its password or with a wrong one. The start-up check builds a
context once to find these before a user starts.

:func:`shared_tls_context` is what clients use: one context a process for every client with the same
settings, so the system's trust store (hundreds of certificates) and the files are loaded once, not
once a user. A file changed on disk (its size or modification time) gets a new context.

A key's password is a secret: no message holds it, and ``${VAR}`` in it reads an environment variable.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import ConfigurationError
from .wire.handshake import expand_env

__all__ = ["TlsFiles", "shared_tls_context", "tls_context", "tls_failure"]

_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
_PRIVATE_KEY = b"PRIVATE KEY-----"
_ENCRYPTED = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")

_CERTIFICATE_REFUSED = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate: give --client-cert",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": (
        "the server refused the handshake, as a TLS 1.2 server requiring a client certificate "
        "does without one"
    ),
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust the client certificate's issuer",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused the client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server refused the client certificate: expired",
}
"""The TLS alerts a server sends about the client's certificate, and what they mean for the user."""


@dataclass(frozen=True)
class TlsFiles:
    """The files a ``wss://`` connection trusts and presents, with the password of an encrypted key.

    Attributes:
        ca_file: PEM certificates of CAs trusted beside the system's (a private CA's).
        client_cert: the client's PEM certificate, followed by its key when ``client_key`` is None.
        client_key: the client certificate's PEM private key, when not in ``client_cert``.
        client_key_password: the key's password, ``${VAR}`` read from the environment; a secret.
        names: each field's name in messages (``--client-cert``, or ``MyUser.client_cert``); a field
            not named here is named by its option.
    """

    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    client_key_password: str | None = field(default=None, repr=False)
    names: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def name(self, setting: str) -> str:
        """How ``setting`` (a field's name) is named in messages: its option, or its class attribute."""
        return self.names.get(setting) or "--" + setting.replace("_", "-")

    @property
    def given(self) -> tuple[str, ...]:
        """The fields set, by name (``client_cert``...)."""
        values = (
            ("ca_file", self.ca_file),
            ("client_cert", self.client_cert),
            ("client_key", self.client_key),
            ("client_key_password", self.client_key_password),
        )
        return tuple(setting for setting, value in values if value is not None)


def tls_context(verify: bool = True, files: TlsFiles | None = None) -> ssl.SSLContext:
    """A client's TLS settings: the system's trust store, host names checked unless ``verify`` is
    False, and ``files``'s CA and client certificate.

    Raises:
        ConfigurationError: a file cannot be read or used, or the key's password is wrong (names the
            file and its option; never the password).
    """
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if files is None:
        return context
    if files.client_cert is None:
        for setting in ("client_key", "client_key_password"):
            if setting in files.given:
                raise ConfigurationError(
                    f"{files.name(setting)} is for a client certificate: give --client-cert"
                )
    if files.ca_file is not None:
        _load_ca(context, files)
    if files.client_cert is not None:
        _load_certificate(context, files, files.client_cert)
    return context


_SHARED: dict[tuple[object, ...], ssl.SSLContext] = {}
"""The contexts built by :func:`shared_tls_context`, by settings and the files' states."""


def shared_tls_context(verify: bool = True, files: TlsFiles | None = None) -> ssl.SSLContext:
    """The process's one context for these settings: :func:`tls_context`'s, built on first use.

    Contexts are safe to share: a connection's state is its own ``SSLObject``, and OpenSSL locks
    what its contexts share. A context built from files whose size or modification time changed
    since is built anew (a certificate renewed between two tests of the web UI).

    Raises:
        ConfigurationError: as :func:`tls_context` (a failure is not kept: the next call tries again).
    """
    key = (verify, files, *(_state(path) for path in _paths(files)))
    context = _SHARED.get(key)
    if context is None:
        context = _SHARED[key] = tls_context(verify, files)
    return context


def _paths(files: TlsFiles | None) -> tuple[str, ...]:
    if files is None:
        return ()
    return tuple(path for path in (files.ca_file, files.client_cert, files.client_key) if path is not None)


def _state(path: str) -> tuple[int, int] | None:
    """A file's size and modification time (None when it cannot be read: tls_context says why)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_size, found.st_mtime_ns


def _read(path: str, name: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as error:
        raise ConfigurationError(f"{name} {path}: cannot read it ({error.strerror or error})") from None


def _load_ca(context: ssl.SSLContext, files: TlsFiles) -> None:
    path, name = str(files.ca_file), files.name("ca_file")
    if _CERTIFICATE not in _read(path, name):
        raise ConfigurationError(f"{name} {path}: no PEM certificate in it ({_CERTIFICATE.decode()})")
    try:
        context.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as error:
        raise ConfigurationError(f"{name} {path}: not a PEM CA certificate ({_reason(error)})") from None


def _load_certificate(context: ssl.SSLContext, files: TlsFiles, cert_path: str) -> None:
    cert_name = files.name("client_cert")
    certificate = _read(cert_path, cert_name)
    if _CERTIFICATE not in certificate:
        raise ConfigurationError(
            f"{cert_name} {cert_path}: no PEM certificate in it ({_CERTIFICATE.decode()})"
        )
    key_path, key_name, key = cert_path, cert_name, certificate
    if files.client_key is not None:
        key_path, key_name = files.client_key, files.name("client_key")
        key = _read(key_path, key_name)
    if _PRIVATE_KEY not in key:
        missing = (
            "holds no private key: give --client-key" if key is certificate else "no PEM private key in it"
        )
        raise ConfigurationError(f"{key_name} {key_path}: {missing}")
    password_name = files.name("client_key_password")
    encrypted = f"{key_name} {key_path} is encrypted: give its password with {password_name}"
    password = _password(files.client_key_password, password_name)
    if password is None and any(marker in key for marker in _ENCRYPTED):
        raise ConfigurationError(encrypted)

    def no_prompt() -> str:  # OpenSSL would ask on the terminal
        raise ConfigurationError(encrypted)

    try:
        context.load_cert_chain(
            cert_path, files.client_key, password=no_prompt if password is None else password
        )
    except ssl.SSLError as error:
        if error.reason == "KEY_VALUES_MISMATCH":
            raise ConfigurationError(
                f"{key_name} {key_path} does not match the certificate of {cert_name} {cert_path}"
            ) from None
        if password is not None and any(marker in key for marker in _ENCRYPTED):
            raise ConfigurationError(f"{password_name}: wrong password for {key_name} {key_path}") from None
        raise ConfigurationError(
            f"{cert_name} {cert_path}: not a PEM certificate and key that TLS can use ({_reason(error)})"
        ) from None


def _password(value: str | None, name: str) -> str | None:
    """The key's password, ``${VAR}`` read from the environment (the message names the variable)."""
    if value is None:
        return None
    try:
        return expand_env(value, name)
    except ConfigurationError as error:
        message = str(error)
        raise ConfigurationError(message if message.startswith(name) else f"{name}: {message}") from None


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or error)


def tls_failure(error: ssl.SSLError, where: str) -> str:
    """The message of a failed TLS handshake with ``where``: why a certificate was refused (the
    server's, or the client's by the server)."""
    why = getattr(error, "verify_message", None) or _CERTIFICATE_REFUSED.get(str(error.reason))
    detail = f" ({why})" if why else ""
    return f"TLS failed with {where}: {error.reason or error}{detail}"
