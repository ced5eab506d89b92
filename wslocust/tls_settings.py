"""A user class's TLS settings, resolved from its attributes and the options: verification
(``--insecure``), a CA to trust (``--ca-file``) and a client certificate for mutual TLS
(``--client-cert``, ``--client-key``, ``--client-key-password``).

The files are read when a context is built (:func:`~wslocust.tls_context.tls_context`): at start-up
by :func:`check_tls`, then once a process for the clients with the same settings
(:func:`~wslocust.tls_context.shared_tls_context`).
"""

from __future__ import annotations

import argparse
from typing import ClassVar
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .settings import OPTION_ATTRIBUTES, ConnectionSettings, as_text, given, option_flag, setting
from .tls_context import TlsFiles, tls_context
from .values import flag

__all__ = ["TLS_FILE_OPTIONS", "TlsAttributes", "check_tls", "tls_files", "verify_tls"]

TLS_FILE_OPTIONS = ("ca_file", "client_cert", "client_key", "client_key_password")
"""The options (dests) naming a ``wss://`` connection's files and the key's password."""


class TlsAttributes:
    """The TLS settings of a user class (a mixin of :class:`~wslocust.users.WebSocketUser`)."""

    verify_tls: ClassVar[bool] = True
    """Check the server's certificate and name; ``--insecure`` turns this off."""

    ca_file: ClassVar[str | None] = None
    """PEM certificates of CAs trusted beside the system's, e.g. a private CA's (``--ca-file``)."""

    client_cert: ClassVar[str | None] = None
    """The client certificate presented on ``wss://`` (mutual TLS), a PEM file: the certificate, then
    its key unless ``client_key`` is given (``--client-cert``)."""

    client_key: ClassVar[str | None] = None
    """The client certificate's PEM private key, when not in ``client_cert`` (``--client-key``)."""

    client_key_password: ClassVar[str | None] = None
    """The password of an encrypted ``client_key``; write ``"${VAR}"`` to read it from the environment
    (``--client-key-password``). A secret: never shown."""


def verify_tls(cls: type, options: argparse.Namespace | None) -> bool:
    """Whether certificates are checked: the class's ``verify_tls`` unless ``--insecure`` is given."""
    insecure = given(options, "insecure")
    return flag(getattr(cls, "verify_tls", True), f"{cls.__name__}.verify_tls") and not (
        insecure is not None and flag(insecure, "--insecure")
    )


def tls_files(cls: type, options: argparse.Namespace | None) -> TlsFiles | None:
    """The class's TLS files (options win over attributes), each named by where it came from; None
    when none is set."""
    values = {option: setting(cls, options, option, as_text) for option in TLS_FILE_OPTIONS}
    if all(value is None for value in values.values()):
        return None
    names = {  # a setting not set at all is named both ways ("give its password with ...")
        option: option_flag(option)
        if given(options, option) is not None
        else attribute_name(cls, option)
        if values[option] is not None
        else f"{option_flag(option)} (or {attribute_name(cls, option)})"
        for option in TLS_FILE_OPTIONS
    }
    return TlsFiles(**values, names=names)


def attribute_name(cls: type, option: str) -> str:
    """The class attribute standing for ``option``, as messages name it: ``SupportBotUser.client_cert``."""
    return f"{cls.__name__}.{OPTION_ATTRIBUTES[option]}"


def check_tls(settings: ConnectionSettings) -> None:
    """Check the TLS files now, as a connection would read them (a context is built once).

    Raises:
        ConfigurationError: a file cannot be used (names it and its option), or files are given while
            no endpoint is ``wss://`` (nothing would use them).
    """
    files = settings.tls_files
    if files is None:
        return
    urls = (settings.url, *settings.failover_hosts)
    if not any(urlsplit(url).scheme == "wss" for url in urls):
        setting = files.given[0]
        where = urlsplit(settings.url)
        raise ConfigurationError(
            f"{files.name(setting)}: {where.scheme}://{where.netloc.rpartition('@')[2]} is not wss://; "
            "certificates are for TLS connections only"
        )
    tls_context(settings.verify_tls, files)
