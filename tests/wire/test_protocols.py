"""Protocols, socket-free: prompts to messages, reply messages to events."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from wslocust.errors import ConfigurationError, ProtocolError
from wslocust.wire.protocols import (
    PROTOCOLS,
    ApiGatewayProtocol,
    Chunk,
    Condition,
    End,
    Event,
    Failure,
    JsonProtocol,
    JsonTemplate,
    Message,
    OpenAIRealtimeProtocol,
    PlainProtocol,
    Protocol,
    get_path,
    get_protocol,
)


def feed_json(protocol: Protocol, document: Any) -> Sequence[Event]:
    return protocol.feed(json.dumps(document))


# plain


def test_plain_request_is_the_prompt_as_one_message() -> None:
    assert list(PlainProtocol().request("hello ✓", {"prompt": "hello ✓"})) == ["hello ✓"]


def test_plain_feed_is_a_whole_reply() -> None:
    assert list(PlainProtocol().feed("the answer")) == [Chunk("the answer"), End()]


def test_plain_feed_of_binary_message_decodes_utf8() -> None:
    assert list(PlainProtocol().feed("réponse".encode())) == [Chunk("réponse"), End()]


# JsonTemplate


def test_template_renders_prompt_with_quotes_newlines_and_unicode_as_valid_json() -> None:
    prompt = 'He said "hi"\nthen \\left\t— naïve 日本 🙂'

    text = JsonTemplate('{"type": "prompt", "prompt": "{prompt}"}').render(prompt, {})

    assert json.loads(text) == {"type": "prompt", "prompt": prompt}


def test_whole_string_placeholder_keeps_the_record_field_json_type() -> None:
    template = JsonTemplate('{"q": "{prompt}", "tags": "{tags}", "n": "{n}", "ok": "{ok}", "none": "{none}"}')
    record = {"tags": ["a", "b"], "n": 3, "ok": True, "none": None}

    assert json.loads(template.render("hi", record)) == {
        "q": "hi",
        "tags": ["a", "b"],
        "n": 3,
        "ok": True,
        "none": None,
    }


def test_embedded_placeholder_formats_into_text() -> None:
    template = JsonTemplate('{"text": "[{intent}] {prompt} (#{n})"}')

    rendered = template.render('say "x"', {"intent": "billing", "n": 7})

    assert json.loads(rendered) == {"text": '[billing] say "x" (#7)'}


def test_placeholders_in_nested_objects_and_lists_are_filled() -> None:
    template = JsonTemplate('{"messages": [{"role": "user", "content": "{prompt}"}], "meta": {"id": "{id}"}}')

    assert json.loads(template.render("hi", {"id": 42})) == {
        "messages": [{"role": "user", "content": "hi"}],
        "meta": {"id": 42},
    }


def test_template_lists_the_fields_it_uses() -> None:
    assert JsonTemplate('{"a": "{prompt}", "b": "{lang} {prompt}"}').fields == ["lang", "prompt"]


def test_template_field_missing_from_record_raises_configuration_error_naming_it() -> None:
    template = JsonTemplate('{"prompt": "{prompt}", "lang": "{language}"}')

    with pytest.raises(ConfigurationError, match=r"\{language\}"):
        template.render("hi", {"prompt": "hi"})


def test_template_that_is_not_json_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="not JSON"):
        JsonTemplate('{"prompt": {prompt}}')


# get_path


def test_get_path_reads_nested_objects() -> None:
    assert get_path({"a": {"b": {"c": "deep"}}}, "a.b.c") == "deep"


def test_get_path_indexes_lists_with_integer_segments() -> None:
    document = {"choices": [{"delta": {"content": "x"}}, {"delta": {"content": "y"}}]}

    assert get_path(document, "choices.0.delta.content") == "x"
    assert get_path(document, "choices.1.delta.content") == "y"
    assert get_path(document, "choices.-1.delta.content") == "y"


@pytest.mark.parametrize(
    "path",
    ["missing", "a.missing", "a.b.c.d", "list.5", "list.x", "a.b.0", "list.0.key"],
)
def test_get_path_of_absent_value_is_none(path: str) -> None:
    assert get_path({"a": {"b": "text"}, "list": [1, 2]}, path) is None


def test_get_path_keeps_falsy_values() -> None:
    document = {"zero": 0, "no": False, "empty": ""}

    assert get_path(document, "zero") == 0
    assert get_path(document, "no") is False
    assert get_path(document, "empty") == ""


# Condition


def test_condition_equals_compares_with_string_value() -> None:
    condition = Condition("type=end")

    assert condition({"type": "end"})
    assert not condition({"type": "chunk"})
    assert not condition({})


def test_condition_value_true_is_json_true_not_the_string() -> None:
    condition = Condition("done=true")

    assert condition({"done": True})
    assert not condition({"done": False})
    assert not condition({"done": "true"})


def test_condition_value_that_parses_as_json_number_compares_as_number() -> None:
    condition = Condition("status.code=200")

    assert condition({"status": {"code": 200}})
    assert not condition({"status": {"code": "200"}})


def test_condition_not_equals_holds_when_value_differs_or_is_absent() -> None:
    condition = Condition("status!=ok")

    assert condition({"status": "failed"})
    assert condition({})
    assert not condition({"status": "ok"})


def test_condition_bare_path_holds_when_present_and_truthy() -> None:
    condition = Condition("final")

    assert condition({"final": True})
    assert condition({"final": "yes"})
    assert not condition({"final": False})
    assert not condition({"final": 0})
    assert not condition({"final": None})
    assert not condition({})


def test_condition_alternatives_hold_when_any_holds() -> None:
    condition = Condition("x=1|y=2")

    assert condition({"x": 1})
    assert condition({"y": 2})
    assert not condition({"x": 2, "y": 1})


def test_condition_empty_spec_never_holds() -> None:
    assert not Condition("")({"type": "end"})


@pytest.mark.parametrize("spec", ["=end", "!=end", "type=end|=x", " = x"])
def test_condition_with_empty_path_raises_configuration_error(spec: str) -> None:
    with pytest.raises(ConfigurationError, match="no path"):
        Condition(spec)


# JsonProtocol


def test_json_default_request_renders_the_default_template() -> None:
    [message] = JsonProtocol().request('a "quoted" prompt', {})

    assert json.loads(message) == {"type": "prompt", "prompt": 'a "quoted" prompt'}


def test_json_request_inserts_record_fields() -> None:
    protocol = JsonProtocol(template='{"q": "{prompt}", "session": "{session}"}')

    [message] = protocol.request("hi", {"session": 12})

    assert json.loads(message) == {"q": "hi", "session": 12}


def test_json_feed_of_chunk_message_is_a_chunk() -> None:
    assert list(feed_json(JsonProtocol(), {"type": "chunk", "text": "Hel"})) == [Chunk("Hel")]


def test_json_feed_of_chunk_and_end_in_one_message_is_chunk_then_end_with_meta() -> None:
    document = {"type": "end", "text": "lo", "intent": "greeting"}

    assert list(feed_json(JsonProtocol(), document)) == [Chunk("lo"), End(document)]


def test_json_feed_of_end_without_text_is_an_end_carrying_the_message() -> None:
    events = feed_json(JsonProtocol(), {"type": "end", "tokens": 12})

    assert list(events) == [End({"type": "end", "tokens": 12})]
    assert events[0].meta["tokens"] == 12  # type: ignore[union-attr]


def test_json_feed_of_error_message_is_a_failure_with_its_text() -> None:
    events = feed_json(JsonProtocol(), {"type": "error", "message": "rate limited"})

    assert list(events) == [Failure("rate limited")]


def test_json_feed_of_error_message_without_text_is_a_failure_quoting_the_message() -> None:
    [failure] = feed_json(JsonProtocol(), {"type": "error", "code": 503})

    assert isinstance(failure, Failure)
    assert '"code": 503' in failure.message


def test_json_feed_reads_error_text_at_the_configured_error_path() -> None:
    protocol = JsonProtocol(error_path="detail.reason")

    events = feed_json(protocol, {"type": "error", "detail": {"reason": "model overloaded"}})

    assert list(events) == [Failure("model overloaded")]


@pytest.mark.parametrize("message", ["not json", "{truncated", b"\xff\xfe binary", ""])
def test_json_feed_of_non_json_raises_protocol_error(message: Message) -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        JsonProtocol().feed(message)


@pytest.mark.parametrize(
    "document",
    [{"type": "heartbeat"}, {"type": "chunk", "text": ""}, {"type": "chunk", "text": 5}, [1, 2], None],
)
def test_json_feed_of_unrelated_message_yields_nothing(document: Any) -> None:
    assert list(feed_json(JsonProtocol(), document)) == []


def test_json_feed_accepts_binary_json_messages() -> None:
    assert list(JsonProtocol().feed(b'{"type": "chunk", "text": "x"}')) == [Chunk("x")]


def test_json_configured_like_anthropic_streaming_reads_the_stream() -> None:
    protocol = JsonProtocol(
        template='{"model": "claude", "messages": [{"role": "user", "content": "{prompt}"}], "stream": true}',
        chunk_path="delta.text",
        end="type=message_stop",
        error="type=error",
        error_path="error.message",
    )
    stream = [
        {"type": "message_start", "message": {"id": "msg_1", "role": "assistant", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " there"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]

    [request] = protocol.request("hi", {})
    events = [event for document in stream for event in feed_json(protocol, document)]

    assert json.loads(request)["messages"] == [{"role": "user", "content": "hi"}]
    assert json.loads(request)["stream"] is True
    assert events == [Chunk("Hello"), Chunk(" there"), End({"type": "message_stop"})]


def test_json_configured_like_anthropic_streaming_reads_an_error_event() -> None:
    protocol = JsonProtocol(
        chunk_path="delta.text", end="type=message_stop", error="type=error", error_path="error.message"
    )
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

    assert list(feed_json(protocol, error)) == [Failure("Overloaded")]


def test_json_from_options_reads_the_json_options() -> None:
    options = argparse.Namespace(
        json_template='{"m": "{prompt}"}',
        json_chunk_path="out",
        json_end="fin",
        json_error=None,
        json_error_path=None,
    )
    protocol = JsonProtocol.from_options(options)

    assert json.loads(protocol.request("p", {})[0]) == {"m": "p"}
    assert list(feed_json(protocol, {"out": "x", "fin": True})) == [
        Chunk("x"),
        End({"out": "x", "fin": True}),
    ]


# apigw


def test_apigw_request_adds_the_default_action_to_the_template() -> None:
    [message] = ApiGatewayProtocol().request('say "hi"', {})

    assert json.loads(message) == {"action": "sendMessage", "data": {"prompt": 'say "hi"'}}


def test_apigw_action_and_template_are_overridable() -> None:
    protocol = ApiGatewayProtocol(action="chat", template='{"question": "{prompt}", "lang": "{lang}"}')

    [message] = protocol.request("hi", {"lang": "fr"})

    assert json.loads(message) == {"action": "chat", "question": "hi", "lang": "fr"}


def test_apigw_reads_the_default_stream() -> None:
    protocol = ApiGatewayProtocol()

    assert list(feed_json(protocol, {"type": "chunk", "text": "a"})) == [Chunk("a")]
    assert list(feed_json(protocol, {"type": "end"})) == [End({"type": "end"})]


@pytest.mark.parametrize("message", ["Internal server error", "Forbidden"])
def test_apigw_gateway_error_reply_is_a_failure(message: str) -> None:
    reply = {"message": message, "connectionId": "x", "requestId": "y"}

    assert list(feed_json(ApiGatewayProtocol(), reply)) == [Failure(message)]


def test_apigw_bot_error_message_is_a_failure() -> None:
    assert list(feed_json(ApiGatewayProtocol(), {"type": "error", "message": "no"})) == [Failure("no")]


@pytest.mark.parametrize("template", ['["{prompt}"]', '"{prompt}"', "42"])
def test_apigw_template_that_is_not_an_object_raises_configuration_error(template: str) -> None:
    with pytest.raises(ConfigurationError, match="JSON object"):
        ApiGatewayProtocol(template=template)


# openai-realtime


def realtime_reply(protocol: OpenAIRealtimeProtocol, events: list[dict[str, Any]]) -> list[Event]:
    return [event for document in events for event in feed_json(protocol, document)]


def delta(text: str, response_id: str = "resp_1", kind: str = "response.output_text.delta") -> dict[str, Any]:
    return {"type": kind, "response_id": response_id, "item_id": "item_1", "delta": text}


def created(response_id: str = "resp_1") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}}


def done(response_id: str = "resp_1", status: str = "completed", **extra: Any) -> dict[str, Any]:
    return {"type": "response.done", "response": {"id": response_id, "status": status, **extra}}


@pytest.mark.parametrize(("api", "key"), [("ga", "output_modalities"), ("beta", "modalities")])
def test_realtime_request_is_an_item_then_a_response_create(api: str, key: str) -> None:
    item, create = OpenAIRealtimeProtocol(api=api).request('naïve "q"\n?', {})

    assert json.loads(item) == {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": 'naïve "q"\n?'}],
        },
    }
    assert json.loads(create) == {"type": "response.create", "response": {key: ["text"]}}


def test_realtime_request_carries_instructions_when_given() -> None:
    _, create = OpenAIRealtimeProtocol(instructions="Be brief.").request("hi", {})

    assert json.loads(create)["response"]["instructions"] == "Be brief."


def test_realtime_deltas_of_the_awaited_response_are_collected_until_done() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})

    events = realtime_reply(
        protocol,
        [
            {"type": "session.created", "session": {}},
            created(),
            delta("Hel"),
            delta("lo", kind="response.text.delta"),
            {"type": "response.output_text.done", "response_id": "resp_1", "text": "Hello"},
            done(usage={"total_tokens": 9}),
        ],
    )

    assert events == [
        Chunk("Hel"),
        Chunk("lo"),
        End({"response_id": "resp_1", "usage": {"total_tokens": 9}, "metadata": {}}),
    ]


def test_realtime_events_of_another_response_are_ignored_after_response_created() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})

    events = realtime_reply(
        protocol,
        [
            created("resp_1"),
            delta("mine"),
            delta("other", "resp_2"),
            done("resp_2"),
            delta("!"),
            done("resp_1"),
        ],
    )

    assert events == [Chunk("mine"), Chunk("!"), End({"response_id": "resp_1", "usage": {}, "metadata": {}})]


def test_realtime_later_response_created_does_not_change_the_awaited_response() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})

    events = realtime_reply(
        protocol, [created("resp_1"), created("resp_2"), delta("x", "resp_2"), done("resp_2")]
    )

    assert events == []


def test_realtime_late_events_of_a_previous_response_do_not_count_in_the_next_reply() -> None:
    # An error event ends the first reply as a Failure while resp_1 keeps streaming; the client keeps
    # the connection after a bot error, so resp_1's remaining events arrive after the next request.
    protocol = OpenAIRealtimeProtocol()
    protocol.request("first", {})
    error = {"type": "error", "error": {"type": "server_error", "message": "hiccup"}}
    first = realtime_reply(protocol, [created("resp_1"), delta("a"), error])
    assert first == [Chunk("a"), Failure("server_error: hiccup")]
    protocol.request("second", {})

    late = realtime_reply(protocol, [delta("b", "resp_1"), done("resp_1")])

    assert late == []


def test_realtime_response_done_failed_is_a_failure_with_the_error_message() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})
    failed = done(status="failed", status_details={"type": "failed", "error": {"message": "server error"}})

    assert realtime_reply(protocol, [created(), failed]) == [Failure("response failed: server error")]


def test_realtime_response_done_incomplete_is_a_failure_with_the_reason() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})
    incomplete = done(
        status="incomplete", status_details={"type": "incomplete", "reason": "max_output_tokens"}
    )

    events = realtime_reply(protocol, [created(), delta("part"), incomplete])

    assert events == [Chunk("part"), Failure("response incomplete: max_output_tokens")]


def test_realtime_response_done_cancelled_without_details_is_a_failure() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})

    assert realtime_reply(protocol, [created(), done(status="cancelled")]) == [Failure("response cancelled")]


def test_realtime_error_event_is_a_failure() -> None:
    protocol = OpenAIRealtimeProtocol()
    protocol.request("hi", {})
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "Unknown parameter"}}

    assert realtime_reply(protocol, [error]) == [Failure("invalid_request_error: Unknown parameter")]


@pytest.mark.parametrize("message", ["not json", b"\x00\x01", "[1, 2]", '"text"', '{"no_type": 1}'])
def test_realtime_feed_of_non_event_raises_protocol_error(message: Message) -> None:
    with pytest.raises(ProtocolError, match="not a Realtime API event"):
        OpenAIRealtimeProtocol().feed(message)


def test_realtime_unknown_api_version_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="'v2'"):
        OpenAIRealtimeProtocol(api="v2")


# registry


def test_get_protocol_returns_each_built_in_protocol() -> None:
    assert get_protocol("plain") is PlainProtocol
    assert get_protocol("json") is JsonProtocol
    assert get_protocol("apigw") is ApiGatewayProtocol
    assert get_protocol("openai-realtime") is OpenAIRealtimeProtocol


def test_get_protocol_of_unknown_name_raises_configuration_error_listing_names() -> None:
    with pytest.raises(ConfigurationError, match="nope") as raised:
        get_protocol("nope")

    for name in ("apigw", "json", "openai-realtime", "plain"):
        assert name in str(raised.value)


@pytest.fixture
def restore_protocols() -> Iterator[None]:
    saved = dict(PROTOCOLS)
    yield
    PROTOCOLS.clear()
    PROTOCOLS.update(saved)


@pytest.mark.usefixtures("restore_protocols")
def test_subclass_with_a_name_is_selectable_by_get_protocol() -> None:
    class MyBot(Protocol):
        name = "mybot"

        def request(self, prompt: str, record: Mapping[str, Any]) -> Sequence[Message]:
            return (prompt.upper(),)

        def feed(self, message: Message) -> Sequence[Event]:
            return (End(),)

    assert get_protocol("mybot") is MyBot
    assert get_protocol("mybot")().request("hi", {}) == ("HI",)


@pytest.mark.usefixtures("restore_protocols")
def test_subclass_without_its_own_name_is_not_registered_again() -> None:
    before = dict(PROTOCOLS)

    class Tweaked(JsonProtocol):
        DEFAULT_END = "type=done"

    assert before == PROTOCOLS
    assert get_protocol("json") is JsonProtocol
