"""The ``wslocust tls`` option group: verification, a CA to trust and a client certificate for
``wss://`` (:mod:`wslocust.tls_settings`), shown in the web UI's form as the group "TLS"."""

from __future__ import annotations

from typing import Any

from .option_marks import add_option

__all__ = ["add_tls_arguments"]


def add_tls_arguments(group: Any) -> None:
    """Add ``--insecure``, ``--ca-file``, ``--client-cert``, ``--client-key``, ``--client-key-password``."""
    add_option(group, "--insecure", action="store_true", default=False, help="Do not verify TLS certificates")
    add_option(
        group,
        "--ca-file",
        metavar="PATH",
        help="PEM certificates of CAs to trust beside the system's (a private CA's) on wss://",
    )
    add_option(
        group,
        "--client-cert",
        metavar="PATH",
        help="Client certificate presented on wss:// (mutual TLS): a PEM file with the certificate, and its "
        "key unless --client-key is given",
    )
    add_option(
        group,
        "--client-key",
        metavar="PATH",
        help="The client certificate's PEM private key, when not in the --client-cert file",
    )
    add_option(
        group,
        "--client-key-password",
        is_secret=True,
        metavar="PASSWORD",
        help="Password of an encrypted --client-key; ${VAR} reads an environment variable. Never shown",
    )
