"""A JSON template's request, written from the template's text cut once around its placeholders,
is exactly what filling the document and ``json.dumps`` write (the way before the cut)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest

from wslocust.errors import ConfigurationError
from wslocust.wire.protocols.apigw import ApiGatewayProtocol
from wslocust.wire.protocols.json_messages import JsonTemplate

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def filled_and_dumped(
    template: JsonTemplate, prompt: str, record: Mapping[str, Any], request_id: str | None
) -> str:
    """The reference: every string of the document filled, then the whole document dumped."""

    def value_of(name: str) -> Any:
        if name == "prompt":
            return prompt
        if name == "request_id" and request_id is not None:
            return request_id
        if name in record:
            return record[name]
        raise ConfigurationError(f"request template uses {{{name}}}, which the record lacks")

    def as_text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            whole = PLACEHOLDER.fullmatch(node)
            if whole:
                return value_of(whole.group(1))
            return PLACEHOLDER.sub(lambda match: as_text(value_of(match.group(1))), node)
        if isinstance(node, dict):
            return {key: fill(value) for key, value in node.items()}
        if isinstance(node, list):
            return [fill(value) for value in node]
        return node

    return json.dumps(fill(template.document), ensure_ascii=False)


TEMPLATES = [
    '{"type": "prompt", "prompt": "{prompt}"}',
    '{"action": "sendMessage", "data": {"prompt": "{prompt}", "lang": "{lang}"}}',
    '{"messages": [{"role": "user", "content": "Q: {prompt} ({lang}, {n})"}], "n": "{n}", "id": "{request_id}"}',
    '{"constant": [1, 2.5, true, null, "text"]}',
    '"{prompt}"',
    '["{prompt}", "{n}", {"deep": ["{meta}"]}]',
    '{"{prompt}": "keys are never filled", "v": "{prompt}"}',
    '{"\\u0000": "\\u0000", "p": "{prompt}", "x": "\\u0000\\u0000"}',
    '{"escaped": "caf\\u00e9 \\"{prompt}\\" \\\\ {lang}", "tab": "\\t"}',
]
RECORDS: list[dict[str, Any]] = [
    {"lang": "en", "n": 3, "meta": {"k": [1, None, "é"]}},
    {"lang": 'f"r\\', "n": 2.5, "meta": ["a", {"b": False}]},
    {"lang": None, "n": "3", "meta": "\n\u2028"},
]
PROMPTS = ["What are your opening hours?", 'a "quoted" \\ prompt\nwith é, \u00a0 and \x01']


@pytest.mark.parametrize("text", TEMPLATES)
def test_a_request_is_what_filling_the_document_and_dumping_it_writes(text: str) -> None:
    template = JsonTemplate(text)
    for prompt in PROMPTS:
        for record in RECORDS:
            for request_id in (None, "42"):
                try:
                    expected = filled_and_dumped(template, prompt, record, request_id)
                except ConfigurationError as error:  # {request_id} with none given: the same error
                    with pytest.raises(ConfigurationError, match=re.escape(str(error))):
                        template.render(prompt, record, request_id)
                    continue
                assert template.render(prompt, record, request_id) == expected


def test_the_first_missing_field_in_the_document_s_order_is_the_one_named() -> None:
    template = JsonTemplate('{"a": "{prompt}", "b": "x {second} y", "c": "{third}"}')
    with pytest.raises(ConfigurationError, match=r"\{second\}"):
        template.render("p", {})
    with pytest.raises(ConfigurationError, match=r"\{third\}"):
        template.render("p", {"second": 1})


def test_a_document_set_anew_is_written_anew() -> None:
    protocol = ApiGatewayProtocol(action="ask", template='{"data": {"prompt": "{prompt}"}}')
    assert json.loads(protocol.request("hi", {})[0]) == {"action": "ask", "data": {"prompt": "hi"}}
