"""The web UI's form: wslocust's options grouped, showing the values a run would use, checked at START.

Locust builds the form's "Custom parameters" from its parser (``argument_parser.ui_extra_args_dict``):
each field shows the command-line value, else the option's default, which for most wslocust options
is ``None`` (meaning "the locustfile's class attribute"); a ``None`` choice shows the first choice.
Pressing START untouched would then change the test. Here every field shows the value the run would
use: the current option value (command line or last form), else the user class's attribute, else the
default; secrets are masked, and a URL's user info is left out (sent back unchanged, the URL
given is kept).

The front end renames the fields on the way (snake_case to camelCase and back); names with digits
do not survive (``max_p95_ms`` comes back as ``max_p9_5ms``). The wrapped ``/swarm`` view maps them
back, converts and checks each wslocust value it was sent (a field sent back unchanged is left alone),
runs the plugin's start-up check on the result, and answers Locust's
``{"success": false, "message": ...}`` on a mistake, which the form shows. Only then are the values
applied and Locust's own view called (it then sees only its own fields).
"""

from __future__ import annotations

from locust import argument_parser
from locust.env import Environment

import argparse
import copy
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flask import Response, jsonify, request
from werkzeug.datastructures import ImmutableMultiDict

from ..errors import WsLocustError
from ..load.shapes import ConfigurableShape
from ..metrics import METRIC_BUILDERS
from ..settings import OPTION_ATTRIBUTES
from ..users import WebSocketUser
from ..values import flag
from ..wire.protocols import PROTOCOLS, Protocol, SocketIOProtocol
from .option_marks import public_text
from .profiles import apply_profiles

__all__ = [
    "FORM_GROUPS",
    "LIST_SEPARATOR",
    "SECRET_MASK",
    "Check",
    "FormOption",
    "add_form",
    "form_options",
    "front_end_name",
    "posted_name",
    "shown_values",
]

_log = logging.getLogger("wslocust")

SECRET_MASK = "********"
"""Shown instead of a secret option's value; sent back, it means "unchanged"."""

LIST_SEPARATOR = "; "
"""Between the values of a repeatable option (``--header``, ``--metric``, ``--slo``...) in its field."""

FORM_GROUPS: dict[str, tuple[str, ...]] = {
    "Connection": (
        "origin", "header", "query", "subprotocol", "connect_to", "follow_redirects",
        "compression", "connect_timeout", "reply_timeout", "max_message_bytes",
    ),
    "TLS": ("insecure", "ca_file", "client_cert", "client_key", "client_key_password"),
    "Protocol": (
        "protocol", "json_template", "json_chunk_path", "json_end", "json_error", "json_error_path",
        "apigw_action", "realtime_api", "realtime_instructions", "tokens",
    ),
    "Dataset": ("prompts", "prompt_field", "name_field", "request_name", "max_samples", "shuffle_seed"),
    "Pacing": ("think_time", "prompts_per_connection", "arrival_rate", "arrivals"),
    "Conversations": ("turn_think_time", "continue_after_failed_turn", "conversations_per_connection"),
    "Lifecycle and failover": (
        "lifecycle", "failover_host", "connection_time", "reconnect_wait", "burst_prompts",
        "burst_think_time", "idle_time",
    ),
    "Metrics": ("metric", "slo"),
}  # fmt: skip
"""The form's groups of options of the main ``wslocust`` option group, in order; the load-shape and
gate options form the groups "Load shape" and "Gates" after them, the Socket.IO options (their own
argument group) the group "Socket.IO" before those, then the in-flight options the group "In flight",
the voice options "Voice", the session options "Sessions", the profile options "Profiles", and the
live metrics options "Live metrics"."""

_GROUP_OF_PARSER_GROUP = {
    "wslocust socket.io": "Socket.IO",
    "wslocust in flight": "In flight",
    "wslocust voice": "Voice",
    "wslocust sessions": "Sessions",
    "wslocust profiles": "Profiles",
    "wslocust voice protocols": "Voice protocols",
    "wslocust load shapes": "Load shape",
    "wslocust gates": "Gates",
    "wslocust voice gates": "Gates",
    "wslocust live metrics": "Live metrics",
    "wslocust scale": "Scale",
}

_FLAG_ATTRIBUTES = {
    "insecure": ("verify_tls", False),
    "follow_redirects": ("follow_redirects", True),
    "continue_after_failed_turn": ("continue_after_failed_turn", True),
}
"""Flags that a user-class attribute can also set: the flag's dest → (the attribute, its value that
means what the flag does)."""

Check = Callable[[Environment, list[type[WebSocketUser]]], None]
"""The plugin's start-up check of settings: raises WsLocustError or ValueError on a mistake."""


class FormOption:
    """A wslocust option shown in the web UI's form.

    Args:
        action: The option's argparse action (from a parser built now: its choices are current).
        group: The form group the option is shown in.
    """

    def __init__(self, action: argparse.Action, group: str) -> None:
        self.action = action
        self.group = group
        self.dest = action.dest
        self.flag = max(action.option_strings, key=len)
        self.is_flag = isinstance(action, argparse._StoreTrueAction)
        self.is_list = isinstance(action, argparse._AppendAction)
        self.is_secret = bool(getattr(action, "is_secret", False))

    def convert(self, text: str) -> Any:
        """The option value of a field's text, as the command line would give it.

        Raises:
            ValueError: The text is not a valid value (the message names the option).
        """
        if self.is_flag:
            return text == "true"
        if text.strip() == "":
            return None  # cleared: the locustfile's setting, or the default
        if self.is_list:
            return [self._one(item) for item in _split_list(text, self.dest)]
        return self._one(text)

    def _one(self, text: str) -> Any:
        try:
            value = self.action.type(text) if callable(self.action.type) else text
        except argparse.ArgumentTypeError as error:  # a wslocust value parser: its message says why
            raise ValueError(f"{self.flag}: {error}") from None
        except (TypeError, ValueError):
            raise ValueError(f"{self.flag}: {text!r} is not a valid value") from None
        choices = self.action.choices
        if choices is not None and value not in choices:
            raise ValueError(f"{self.flag}: {text!r} is not one of: {', '.join(map(str, choices))}")
        return value


_HEADER_START = re.compile(r"\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+:")


def _starts_value(dest: str, piece: str) -> bool:
    """Whether a ``;``-separated piece of a repeatable option's field starts a new value: a header
    starts with ``Name:``, a metric with its kind; a piece that does not continues the value before
    it (``Cookie: a=1; b=2``, ``json:keys=a;b``)."""
    if dest == "header":
        return bool(_HEADER_START.match(piece))
    if dest == "metric":
        return piece.strip().partition(":")[0].strip() in METRIC_BUILDERS
    return True


def _split_list(text: str, dest: str) -> list[str]:
    """A repeatable option's values, separated by ``;`` in its field."""
    items: list[str] = []
    for piece in text.split(";"):
        if items and not _starts_value(dest, piece):
            items[-1] += ";" + piece
        else:
            items.append(piece)
    return [item.strip() for item in items if item.strip()]


def form_options(parser: argparse.ArgumentParser) -> dict[str, FormOption]:
    """wslocust's options that the web UI shows, by dest, in the form's order of groups."""
    found: dict[str, FormOption] = {}
    for parser_group in parser._action_groups:
        title = parser_group.title or ""
        if not title.startswith("wslocust"):
            continue
        for action in parser_group._group_actions:
            if getattr(action, "include_in_web_ui", False):
                group = _GROUP_OF_PARSER_GROUP.get(title) or next(
                    (name for name, dests in FORM_GROUPS.items() if action.dest in dests), "Other"
                )
                found[action.dest] = FormOption(action, group)
    order = [*FORM_GROUPS, "Other", *_GROUP_OF_PARSER_GROUP.values()]

    def position(option: FormOption) -> tuple[int, int]:
        dests = FORM_GROUPS.get(option.group, ())
        return order.index(option.group), dests.index(option.dest) if option.dest in dests else 0

    return {option.dest: option for option in sorted(found.values(), key=position)}


def front_end_name(dest: str) -> str:
    """The name the web UI's front end gives a field: its key in camelCase (``max_p95_ms`` → ``maxP95Ms``)."""
    return re.sub(r"_([a-z0-9])", lambda match: match.group(1).upper(), dest)


def posted_name(dest: str) -> str:
    """The key the front end posts for ``dest``: its camelCase name back in snake_case, which splits
    digits (``maxP95Ms`` → ``max_p9_5ms``)."""
    name = front_end_name(dest)
    return name if name[0] == name[0].upper() else re.sub(r"([a-z0-9])([A-Z0-9])", r"\1_\2", name).lower()


def _as_text(value: Any, dest: str) -> str | bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return ""
    if isinstance(value, type) and issubclass(value, Protocol):
        return value.name if PROTOCOLS.get(value.name) is value else ""
    if isinstance(value, list | tuple):
        return LIST_SEPARATOR.join(str(item) for item in value)
    if isinstance(value, Mapping):  # a class's captures {NAME: PATH} or prompt_mix {FILE: WEIGHT}, as typed
        pairs = (f"{v}:{k}" if dest == "prompt_mix" else f"{k}={v}" for k, v in value.items())
        return LIST_SEPARATOR.join(pairs)
    return str(value)


def _shown_value(option: FormOption, options: argparse.Namespace, users: list[type[WebSocketUser]]) -> Any:
    """The value the next run would use: the option's, else the user classes' (when they agree)."""
    value = getattr(options, option.dest, None)
    if option.dest in _FLAG_ATTRIBUTES:
        attribute, meaning = _FLAG_ATTRIBUTES[option.dest]
        given = value is not None and flag(value, option.flag)
        return given or (bool(users) and all(getattr(cls, attribute, None) == meaning for cls in users))
    if value in (None, "", []) and option.dest in OPTION_ATTRIBUTES:
        attribute = OPTION_ATTRIBUTES[option.dest]
        found = {_as_text(getattr(cls, attribute), option.dest) for cls in users if hasattr(cls, attribute)}
        text = found.pop() if len(found) == 1 else ""  # classes that differ keep their own
    else:
        text = _as_text(public_text(option.action, value), option.dest)  # a URL's password: not shown
        if text == "" and option.action.choices:
            return str(next(iter(option.action.choices)))  # unset: the default, listed first
        if text == "" and option.dest == "socketio_template":
            text = _socketio_template(options, users)
    return SECRET_MASK if option.is_secret and text else text  # a class's headers are as secret


def _socketio_template(options: argparse.Namespace, users: list[type[WebSocketUser]]) -> str:
    """The template a Socket.IO run would use: its protocol's default (``rasa``'s carries the session
    id), the ``socketio`` one when the users speak no Socket.IO protocol or differ."""
    chosen = getattr(options, "protocol", None)
    templates = set()
    for cls in users:
        protocol = chosen or cls.protocol
        found = PROTOCOLS.get(protocol) if isinstance(protocol, str) else protocol
        if isinstance(found, type) and issubclass(found, SocketIOProtocol):
            templates.add(found.DEFAULT_TEMPLATE)
    return templates.pop() if len(templates) == 1 else SocketIOProtocol.DEFAULT_TEMPLATE


def shown_values(environment: Environment, options_shown: Mapping[str, FormOption]) -> dict[str, Any]:
    """Each shown option's field value (text, or a bool for a flag)."""
    options = environment.parsed_options or argparse.Namespace()
    users = _user_classes(environment.user_classes)
    return {dest: _shown_value(option, options, users) for dest, option in options_shown.items()}


def _user_classes(classes: Iterable[Any]) -> list[type[WebSocketUser]]:
    return [cls for cls in classes if isinstance(cls, type) and issubclass(cls, WebSocketUser)]


def _fields(options_shown: Mapping[str, FormOption]) -> list[dict[str, str]]:
    return [
        {
            "name": front_end_name(option.dest),
            "label": option.flag,
            "help": str(option.action.help or "")
            + ("; here, separate several with ;" if option.is_list else ""),
            "group": option.group,
        }
        for option in options_shown.values()
    ]


def add_form(web_ui: Any, environment: Environment, check: Check) -> None:
    """Make the web UI's form show the values a run would use, and check what START sends.

    Args:
        web_ui: Locust's ``WebUI``.
        environment: The Locust environment (its ``parsed_options`` are what the form edits).
        check: The plugin's start-up check, run on the settings the form would start.
    """
    update = web_ui.update_template_args

    def update_form() -> None:
        update()
        args = web_ui.template_args
        extra: dict[str, Any] = args.get("extra_options") or {}
        options_shown = form_options(argument_parser.get_parser())
        shown = shown_values(environment, options_shown)
        for dest in options_shown:
            if dest not in extra:
                continue
            extra[dest]["default_value"] = shown[dest]
            choices = extra[dest].get("choices")
            if choices is not None and shown[dest] not in choices:
                extra[dest]["choices"] = ["", *choices]  # "": each user class's own setting
        shape = environment.shape_class
        args["wslocust_form"] = {
            "fields": _fields({dest: option for dest, option in options_shown.items() if dest in extra}),
            "shape_class": type(shape).__name__ if isinstance(shape, ConfigurableShape) else None,
        }

    web_ui.update_template_args = update_form
    update_form()
    app = web_ui.app
    swarm = app.view_functions["locust.swarm"]

    def checked_swarm() -> Response:
        error = _apply_form(web_ui, environment, check)
        if error is not None:
            _log.error("web UI: not started: %s", error)
            return jsonify({"success": False, "message": error, "host": environment.host})
        response = swarm()
        # Locust's view has set the run's classes (the picked ones) and spawns in a greenlet not
        # started yet: the profiles' classes replace them first.
        apply_profiles(environment)
        return response  # type: ignore[no-any-return]

    app.view_functions["locust.swarm"] = web_ui.auth_required_if_enabled(checked_swarm)


def _apply_form(web_ui: Any, environment: Environment, check: Check) -> str | None:
    """Convert, check and apply the wslocust fields of the posted form; the error message, if any.

    On success the options hold the new values and the request's form keeps only Locust's fields.
    """
    options = environment.parsed_options
    if options is None:
        return None
    options_shown = form_options(argument_parser.get_parser())
    shown = shown_values(environment, options_shown)
    by_posted_name = {posted_name(dest): dest for dest in options_shown}
    by_posted_name.update({dest: dest for dest in options_shown})
    form = request.form
    changes: dict[str, Any] = {}
    kept: list[tuple[str, str]] = []
    for key in form:
        dest = by_posted_name.get(key)
        if dest is None:
            kept += [(key, value) for value in form.getlist(key)]
            continue
        option = options_shown[dest]
        text = form[key]
        unchanged = shown[dest] if not option.is_flag else ("true" if shown[dest] else "false")
        if text == unchanged:
            continue
        try:
            changes[dest] = option.convert(text)
        except ValueError as bad_value:
            return str(bad_value)
    new_options = copy.copy(options)
    for dest, value in changes.items():
        setattr(new_options, dest, value)
    host = form.get("host")
    if host is not None and not host.strip() and getattr(options, "host", None) is None and environment.host:
        # No host was given at start, so the target is the embedded demo bot: an empty Host keeps it.
        host = environment.host
        kept = [(key, host if key == "host" else value) for key, value in kept]
    mistake = _check_settings(web_ui, environment, new_options, check, host)
    if mistake is not None:
        return mistake
    for dest, value in changes.items():
        setattr(options, dest, value)
    request.form = ImmutableMultiDict(kept)
    return None


def _check_settings(
    web_ui: Any, environment: Environment, options: argparse.Namespace, check: Check, host: str | None
) -> str | None:
    """Run the start-up check on the settings a start would use (the form's host, classes, shape).

    The form's host, when sent, is checked as ``--host`` (an empty one is refused as ``--host ''`` is).
    """
    form = request.form
    checked = copy.copy(environment)
    checked.parsed_options = options
    if host is not None:
        checked.host = host.replace("<", "").replace(">", "")  # as Locust's view stores it
        if checked.host.strip() or getattr(environment.parsed_options, "host", None) is not None:
            options.host = checked.host  # checked as --host: emptied, it is refused as --host '' is
    classes: Iterable[Any] = environment.user_classes
    if web_ui.userclass_picker_is_active and form.getlist("user_classes"):
        available = environment.available_user_classes or {}
        classes = [available[name] for name in form.getlist("user_classes") if name in available]
    users = _user_classes(classes)
    if getattr(options, "host", None) != "" and not checked.host and any(not cls.host for cls in users):
        return "Host: give the chatbot's ws:// or wss:// URL"
    shape: Any = environment.shape_class
    if web_ui.userclass_picker_is_active and "shape_class" in form:
        shape = (environment.available_shape_classes or {}).get(form["shape_class"])
    try:
        if isinstance(shape, ConfigurableShape):
            type(shape).from_options(options)
        check(checked, users)
    except (WsLocustError, ValueError) as error:
        return str(error)
    return None
