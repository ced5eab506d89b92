"""The ``wslocust tls`` options in the web UI's form: their own group, with help, the key's password
masked as every secret is."""

from __future__ import annotations

from locust import argument_parser
from locust.env import Environment
from locust.event import Events

from wslocust import ChatbotUser
from wslocust.plugin.webui_form import FORM_GROUPS, SECRET_MASK, form_options, shown_values


def test_the_tls_options_form_their_own_group_with_help_and_the_password_is_the_only_secret() -> None:
    options = form_options(argument_parser.get_parser())
    tls = [dest for dest, option in options.items() if option.group == "TLS"]
    assert tls == ["insecure", "ca_file", "client_cert", "client_key", "client_key_password"]
    assert list(FORM_GROUPS)[:2] == ["Connection", "TLS"]  # shown right after the connection's options
    assert all(options[dest].action.help for dest in tls)
    assert [dest for dest in tls if options[dest].is_secret] == ["client_key_password"]


def test_the_form_shows_the_classs_certificate_and_masks_the_keys_password() -> None:
    class Secure(ChatbotUser):
        abstract = True
        host = "wss://bot.example/chat"
        client_cert = "/etc/wslocust/client.pem"
        client_key_password = "class-s3cret"

    parser = argument_parser.get_parser()
    options = form_options(parser)
    environment = Environment(user_classes=[Secure], events=Events(), parsed_options=parser.parse_args([]))
    shown = shown_values(environment, options)
    assert shown["client_cert"] == "/etc/wslocust/client.pem"  # the class's, sent back unchanged
    assert shown["client_key"] == ""
    assert shown["client_key_password"] == SECRET_MASK
    given = parser.parse_args(
        ["--client-key", "/etc/wslocust/client.key", "--client-key-password", "opt-s3cret"]
    )
    environment = Environment(user_classes=[Secure], events=Events(), parsed_options=given)
    shown = shown_values(environment, options)
    assert shown["client_key"] == "/etc/wslocust/client.key"
    assert shown["client_key_password"] == SECRET_MASK
    assert not any("s3cret" in str(value) for value in shown.values())
