"""``json``: JSON messages, configured from the command line.

- the request is a JSON template whose strings may hold ``{prompt}`` or ``{field}`` of the dataset
  record (a string that is exactly ``"{field}"`` takes the field's value with its JSON type);
- a reply message's text is read at a dotted path (``choices.0.delta.content``);
- a condition ends the reply (``type=end``, ``done=true``), another marks an error
  (``type=error``); the error's text is read at a path;
- ``{request_id}`` in the template is a per-prompt id the client makes (one prompt at a time, a
  record's own ``request_id`` field wins); with an id path
  (``--json-id-path``) naming where a reply message carries it back, replies can be told apart and
  several prompts may be in flight on one connection (``--in-flight``).

Conditions are ``path=value`` (value read as JSON when it parses, else as a string),
``path!=value``, or a bare ``path`` (present and truthy); ``|`` joins alternatives.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ...errors import ConfigurationError, ProtocolError
from .base import Chunk, End, Event, Failure, Message, Protocol
from .fast_json import getter, loads, scan_once

__all__ = ["Condition", "JsonProtocol", "JsonTemplate", "check_path", "get_path"]

_MISSING = object()
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def get_path(document: Any, path: str) -> Any:
    """Return the value at a dotted ``path`` in a JSON document, or None when absent.

    Integer segments index lists: ``choices.0.delta.content``.
    """
    value = document
    for segment in path.split("."):
        if isinstance(value, dict):
            value = value.get(segment, _MISSING)
        elif (
            isinstance(value, list)
            and segment.lstrip("-").isdigit()
            and -len(value) <= int(segment) < len(value)
        ):
            value = value[int(segment)]
        else:
            return None
        if value is _MISSING:
            return None
    return value


def check_path(path: str, name: str) -> str:
    """Check a dotted path: segments separated by single dots, none empty (``choices.0.delta.content``).

    Raises:
        ConfigurationError: the path is empty, or has an empty segment (``..``, a leading or
            trailing dot), which no message could match: every reply would read as empty.
    """
    if not path.strip() or any(not segment.strip() for segment in path.split(".")):
        raise ConfigurationError(
            f"{name} {path!r}: expected a dotted path such as text or choices.0.delta.content "
            "(no empty segment, no leading or trailing dot)"
        )
    return path


def _same(value: Any, expected: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` and ``false`` is not ``0`` (as Python's ``==`` has it)."""
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected
    return bool(value == expected)


def _as_text(value: Any) -> str:
    """A record value inside a template string: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


class Condition:
    """A test on a JSON message, parsed from ``path=value|path!=value|path``.

    Args:
        spec: the condition's text; empty means "never".

    Raises:
        ConfigurationError: an alternative has an empty path.
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self._tests: list[Callable[[Any], bool]] = [
            self._compile(part.strip()) for part in spec.split("|") if part.strip()
        ]
        tests = self._tests
        self.test: Callable[[Any], bool] = tests[0] if len(tests) == 1 else (lambda message: False)
        """The condition as one function (one or two alternatives: their own tests, without a loop)."""
        if len(tests) == 2:
            first, second = tests
            self.test = lambda message: first(message) or second(message)
        elif len(tests) > 2:
            self.test = lambda message: any(test(message) for test in tests)

        self.keys: tuple[tuple[str, str | None], ...] | None = None
        """The condition as ``(key, text)`` pairs when each alternative is ``key=text`` (a string) or a
        bare ``key`` (``text`` None: truthy) at a one-segment path: it holds for an object exactly when
        one pair does; None for any other condition."""
        keys = [self._key(part.strip()) for part in spec.split("|") if part.strip()]
        if all(key is not None for key in keys):
            self.keys = tuple(key for key in keys if key is not None)

    @staticmethod
    def _key(part: str) -> tuple[str, str | None] | None:
        """``(key, text)`` of ``key=text`` with a string ``text``, ``(key, None)`` of a bare ``key``,
        both at a one-segment path; None for any other alternative (read as :meth:`_compile` reads it)."""
        if "!=" in part:
            return None
        path, equals, raw = part.partition("=")
        path = path.strip()
        if "." in path:
            return None
        if not equals:
            return path, None
        try:
            expected = json.loads(raw)
        except ValueError:
            expected = raw.strip()
        return (path, expected) if type(expected) is str else None

    @staticmethod
    def _compile(part: str) -> Callable[[Any], bool]:
        negate = "!=" in part
        path, _, raw = part.partition("!=" if negate else "=")
        path = path.strip()
        if not path:
            raise ConfigurationError(f"condition {part!r} has no path before '='")
        check_path(path, f"condition {part!r}: path")
        get = getter(path, get_path)
        if "=" not in part:
            return lambda message: bool(get(message))
        try:
            expected = json.loads(raw)
        except ValueError:
            expected = raw.strip()
        if negate:
            return lambda message: not _same(get(message), expected)
        if type(expected) is str:  # JSON equality with a string is Python's: one comparison
            return lambda message: get(message) == expected
        return lambda message: _same(get(message), expected)

    def __call__(self, message: Any) -> bool:
        return self.test(message)

    def __repr__(self) -> str:
        return f"Condition({self.spec!r})"


def _parse(message: Message) -> Any:
    """A reply message's JSON document.

    Raises:
        ProtocolError: the message is not JSON (its start is shown).
    """
    try:
        return json.loads(message)
    except ValueError:
        preview = message[:80] if isinstance(message, str) else repr(message[:80])
        raise ProtocolError(f"reply message is not JSON: {preview}") from None


class JsonTemplate:
    """A JSON request template with ``{prompt}`` and ``{field}`` placeholders.

    The template's JSON text is written once, cut around its strings that hold placeholders: a
    prompt's request is those texts with each such string's JSON in between (what ``json.dumps`` of
    the filled document writes, without walking the document again).

    Args:
        text: the template, a JSON document.

    Raises:
        ConfigurationError: the template is not JSON.
    """

    def __init__(self, text: str) -> None:
        try:
            self.document = json.loads(text)
        except ValueError as error:
            raise ConfigurationError(f"request template is not JSON ({error}): {text}") from None
        self.fields = sorted(set(_PLACEHOLDER.findall(text)))

    @property
    def document(self) -> Any:
        """The template's JSON document (setting it writes the template anew)."""
        return self._document

    @document.setter
    def document(self, document: Any) -> None:
        self._document = document
        self._texts, self._slots = _cut(document)

    def render(self, prompt: str, record: Mapping[str, Any], request_id: str | None = None) -> str:
        """Return the request's JSON text for ``prompt``, the record's fields and ``{request_id}``.

        Raises:
            ConfigurationError: the template names a field the record lacks.
        """

        def value_of(name: str) -> Any:
            if name == "prompt":
                return prompt
            if name == "request_id" and request_id is not None:
                return request_id
            if name in record:
                return record[name]
            raise ConfigurationError(f"request template uses {{{name}}}, which the record lacks")

        texts = self._texts
        parts = [texts[0]]
        for index, (whole, string) in enumerate(self._slots, start=1):
            if whole is not None:  # "{field}": the value with its JSON type
                value = value_of(whole)
                parts.append(_string_json(value) if type(value) is str else _json(value))
            else:
                parts.append(
                    _string_json(_PLACEHOLDER.sub(lambda match: _as_text(value_of(match.group(1))), string))
                )
            parts.append(texts[index])
        return "".join(parts)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_string_json: Callable[[str], str] = json.encoder.encode_basestring
"""``json.dumps(text, ensure_ascii=False)`` of a ``str``, without the encoder's layers."""


def _cut(document: Any) -> tuple[list[str], list[tuple[str | None, str]]]:
    """The JSON text of ``document`` (as ``json.dumps(..., ensure_ascii=False)`` writes it) cut around
    its strings holding placeholders: the texts between them, and each such string with the field it
    names whole (None when the placeholders are part of its text), in the document's order."""
    slots: list[tuple[str | None, str]] = []
    marker = "\x00"  # written as "\u0000": a marker no other text of the document is written as

    def mark(node: Any) -> Any:
        if isinstance(node, str):
            if not _PLACEHOLDER.search(node):
                return node
            whole = _PLACEHOLDER.fullmatch(node)
            slots.append((whole.group(1) if whole else None, node))
            return marker
        if isinstance(node, dict):
            return {key: mark(value) for key, value in node.items()}
        if isinstance(node, list):
            return [mark(value) for value in node]
        return node

    while True:
        slots.clear()
        text = _json(mark(document))
        written = _json(marker)
        if text.count(written) == len(slots):
            return text.split(written), slots
        marker += "\x00"  # the document holds the marker's text itself: a longer one


class JsonProtocol(Protocol):
    """JSON requests and replies, every part configurable.

    Args:
        template: the request template (see :class:`JsonTemplate`).
        chunk_path: where a reply message holds a piece of text.
        end: the condition that ends the reply.
        error: the condition that marks an error message.
        error_path: where an error message holds its text.
        id_path: where a reply message carries the ``{request_id}`` of the prompt it answers (the
            template must hold ``{request_id}``); None: replies are not told apart.
    """

    name = "json"
    template_option = "--json-template"

    DEFAULT_TEMPLATE = '{"type": "prompt", "prompt": "{prompt}"}'
    DEFAULT_CHUNK_PATH = "text"
    DEFAULT_END = "type=end"
    DEFAULT_ERROR = "type=error"
    DEFAULT_ERROR_PATH = "message"

    def __init__(
        self,
        template: str | None = None,
        chunk_path: str | None = None,
        end: str | None = None,
        error: str | None = None,
        error_path: str | None = None,
        id_path: str | None = None,
    ) -> None:
        self.template = JsonTemplate(template or self.DEFAULT_TEMPLATE)
        self.id_path = None if id_path is None else check_path(id_path, "id_path (--json-id-path)")
        if self.id_path is not None and "request_id" not in self.template.fields:
            raise ConfigurationError(
                f"--json-id-path {self.id_path}: the request template (--json-template) must carry "
                '{request_id}, e.g. {"prompt": "{prompt}", "id": "{request_id}"}'
            )
        self._tags_prompts = "request_id" in self.template.fields
        self._request_ids = itertools.count(1)  # {request_id} of prompts sent one at a time
        self.chunk_path = check_path(chunk_path or self.DEFAULT_CHUNK_PATH, "chunk_path (--json-chunk-path)")
        self.end = Condition(end or self.DEFAULT_END)
        self.error = Condition(error or self.DEFAULT_ERROR)
        self.error_path = check_path(error_path or self.DEFAULT_ERROR_PATH, "error_path (--json-error-path)")
        self._compile()

    def _compile(self) -> None:
        """The per-message look-ups of :meth:`feed`, from the paths and conditions."""
        self._text = getter(self.chunk_path, get_path)
        self._is_end = self.end.test
        self._is_error = self.error.test
        # chunk_text's look-ups of an object message when both conditions are keys' values: each key
        # read once, its stopping texts in one set (None: the key's truthiness stops).
        self._stops: tuple[tuple[str, frozenset[str] | None], ...] | None = None
        if self.error.keys is not None and self.end.keys is not None and "." not in self.chunk_path:
            texts: dict[str, set[str]] = {}
            bare: list[str] = []
            for key, text in (*self.error.keys, *self.end.keys):
                if text is None:
                    bare.append(key)
                else:
                    texts.setdefault(key, set()).add(text)
            self._stops = (
                *((key, frozenset(values)) for key, values in texts.items()),
                *((key, None) for key in dict.fromkeys(bare)),
            )

    @classmethod
    def from_options(cls, options: argparse.Namespace) -> Protocol:
        return cls(
            template=getattr(options, "json_template", None),
            chunk_path=getattr(options, "json_chunk_path", None),
            end=getattr(options, "json_end", None),
            error=getattr(options, "json_error", None),
            error_path=getattr(options, "json_error_path", None),
            id_path=getattr(options, "json_id_path", None) or None,
        )

    def record_fields(self) -> Sequence[str]:
        return [name for name in self.template.fields if name not in ("prompt", "request_id")]

    def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
        if self._tags_prompts and "request_id" not in record:  # a record's own request_id is kept
            return (self.template.render(prompt, record, str(next(self._request_ids))),)
        return (self.template.render(prompt, record),)

    @property
    def correlates(self) -> bool:
        return self.id_path is not None

    def request_with_id(self, prompt: str, record: Mapping[str, Any], request_id: str) -> Sequence[Message]:
        return (self.template.render(prompt, record, request_id),)

    def feed_with_id(self, message: Message) -> tuple[str | None, Sequence[Event]]:
        document = _parse(message)
        request_id = get_path(document, self.id_path) if self.id_path is not None else None
        return (None if request_id is None else str(request_id)), self._events(document)

    def feed(self, message: Message) -> Sequence[Event]:
        # The hot path of a streamed reply, once a chunk: parsed here (not by _parse), and the
        # conditions and the text read through the look-ups compiled at __init__.
        try:
            document = loads(message)
        except ValueError:
            preview = message[:80] if isinstance(message, str) else repr(message[:80])
            raise ProtocolError(f"reply message is not JSON: {preview}") from None
        if self._is_error(document):
            return self._failure(document)
        text = self._text(document)
        if self._is_end(document):
            return (Chunk(text), End(document)) if type(text) is str and text else (End(document),)
        return (Chunk(text),) if type(text) is str and text else ()

    def chunk_text(self, message: Message) -> str | None:
        # The hot path of a streamed reply, once a chunk (see Protocol.chunk_text): feed's tests, in
        # its order, with no events made; anything else (an end, an error, not JSON) is feed's. The
        # usual message is one JSON value and nothing else: the C scanner straight, as loads calls
        # it; loads for the rest (whitespace around it, a binary message).
        try:
            document, end = scan_once(message, 0)  # type: ignore[arg-type]
            if end != len(message):
                document = loads(message)
        except (StopIteration, ValueError, TypeError):
            try:
                document = loads(message)
            except ValueError:
                return None
        stops = self._stops
        if stops is None or type(document) is not dict:
            if self._is_error(document) or self._is_end(document):
                return None
            text = self._text(document)
        else:  # the conditions as one look-up a key (most configurations: type=end, type=error)
            for key, texts in stops:
                value = document.get(key)
                if (type(value) is str and value in texts) if texts is not None else value:
                    return None
            text = document.get(self.chunk_path)
        return text if type(text) is str and text else None

    def _events(self, document: Any) -> Sequence[Event]:
        if self._is_error(document):
            return self._failure(document)
        text = self._text(document)
        ended = self._is_end(document)
        if type(text) is str and text:
            return (Chunk(text), End(document)) if ended else (Chunk(text),)
        return (End(document),) if ended else ()

    def _failure(self, document: Any) -> Sequence[Event]:
        detail = get_path(document, self.error_path)
        return (Failure(str(detail) if detail is not None else json.dumps(document)[:200]),)
