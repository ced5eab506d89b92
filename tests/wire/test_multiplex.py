"""Several replies in flight on one connection, socket-free: server bytes and their times in, each
reply completed on its own, with its own times."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wslocust.errors import BotError, ConfigurationError, ConnectionClosed, ProtocolError, ReplyTimeout
from wslocust.wire.connection import Close, Pong
from wslocust.wire.frames import OP_CLOSE, OP_PING, OP_TEXT, FrameReader, encode_frame
from wslocust.wire.multiplex import Multiplexer
from wslocust.wire.protocols import JsonProtocol, OpenAIRealtimeProtocol, PlainProtocol
from wslocust.wire.protocols.openai_realtime import REQUEST_ID_KEY
from wslocust.wire.reply import Reply
from wslocust.wire.traffic import Traffic

TEMPLATE = '{"prompt": "{prompt}", "id": "{request_id}"}'


def json_text(document: Any) -> bytes:
    """A JSON message as a server sends it: one unmasked text frame."""
    return encode_frame(OP_TEXT, json.dumps(document).encode(), mask=False)


def chunk(request_id: str, text: str) -> bytes:
    return json_text({"type": "chunk", "text": text, "id": request_id})


def end(request_id: str) -> bytes:
    return json_text({"type": "end", "id": request_id})


def sent_messages(frames: bytes) -> list[str]:
    """The client's messages in ``frames`` (masked, as sent)."""
    return [payload.decode() for _opcode, payload in FrameReader(accept_masked=True).feed(frames)]


def started(
    *request_ids: str, at_s: tuple[float, ...] | None = None, timeout_s: float = 60.0
) -> tuple[Multiplexer, dict[str, Reply]]:
    """A json multiplexer with a reply in flight under each id (started at the times given, else 0 s)."""
    mux = Multiplexer(JsonProtocol(template=TEMPLATE, id_path="id"))
    replies = {}
    for index, request_id in enumerate(request_ids):
        replies[request_id] = Reply(prompt=f"prompt {request_id}", name=request_id)
        mux.start(replies[request_id], request_id, at_s[index] if at_s else 0.0, timeout_s)
    return mux, replies


def test_each_prompt_goes_out_tagged_with_its_request_id() -> None:
    mux = Multiplexer(JsonProtocol(template=TEMPLATE, id_path="id"))
    frames = mux.start(Reply(prompt="hello", name="ask"), "r7", 0.0, 60.0)
    assert [json.loads(message) for message in sent_messages(frames)] == [{"prompt": "hello", "id": "r7"}]


def test_a_multiplexer_counts_into_the_traffic_it_is_given_as_a_connection_does() -> None:
    traffic = Traffic()
    mux = Multiplexer(JsonProtocol(template=TEMPLATE, id_path="id"), traffic=traffic)
    sent = mux.start(Reply(prompt="hello", name="ask"), "r1", 0.0, 60.0)
    received = chunk("r1", "hi") + end("r1")
    mux.receive(received, 0.1)
    assert (traffic.prompts, traffic.messages_sent, traffic.bytes_sent) == (1, 1, len(sent))
    assert (traffic.frames_received, traffic.bytes_received) == (2, len(received))


def test_interleaved_chunks_of_three_replies_end_each_with_its_own_exact_times() -> None:
    """Each reply's TTFT, chunk times and end are measured from its own send, whatever streams between."""
    mux, replies = started("a", "b", "c", at_s=(10.0, 10.1, 10.2))
    assert mux.receive(chunk("b", "B1") + chunk("a", "A1"), 10.25) == ([], [])
    assert mux.receive(chunk("c", "C1") + chunk("a", "A2"), 10.3)[0] == []
    done, _ = mux.receive(end("a") + chunk("b", "B2"), 10.5)
    assert done == [replies["a"]]
    done, _ = mux.receive(end("c") + end("b"), 10.6)
    assert done == [replies["c"], replies["b"]]
    a, b, c = replies["a"], replies["b"], replies["c"]
    assert (a.text, b.text, c.text) == ("A1A2", "B1B2", "C1")
    assert a.chunk_times_ms == pytest.approx([250.0, 300.0])
    assert a.total_time_ms == pytest.approx(500.0)
    assert b.chunk_times_ms == pytest.approx([150.0, 400.0])
    assert b.time_to_first_chunk_ms == pytest.approx(150.0)
    assert b.total_time_ms == pytest.approx(500.0)
    assert c.chunk_times_ms == pytest.approx([100.0])
    assert c.total_time_ms == pytest.approx(400.0)
    assert (a.chunks, b.chunks, c.chunks) == (2, 2, 1)
    assert all(reply.error is None for reply in replies.values())
    assert not mux.outstanding
    assert mux.unmatched == 0


def test_a_message_naming_an_unknown_id_is_counted_as_unmatched_and_changes_no_reply() -> None:
    mux, replies = started("a")
    done, actions = mux.receive(chunk("zz", "stray") + json_text({"type": "chunk", "text": "no id"}), 0.1)
    assert (done, actions) == ([], [])
    assert mux.unmatched == 2
    assert replies["a"].chunk_times_ms == []
    assert list(mux.outstanding) == ["a"]


def test_a_second_end_of_a_completed_reply_is_unmatched_and_keeps_its_times() -> None:
    mux, replies = started("a")
    mux.receive(chunk("a", "one") + end("a"), 0.2)
    done, _ = mux.receive(chunk("a", "late") + end("a"), 0.9)
    assert done == []
    assert mux.unmatched == 2
    assert (replies["a"].text, replies["a"].total_time_ms) == ("one", pytest.approx(200.0))


def test_a_message_carrying_no_reply_event_is_ignored_without_counting() -> None:
    mux, _ = started("a")
    assert mux.receive(json_text({"type": "status", "id": "a"}), 0.1) == ([], [])
    assert mux.unmatched == 0
    assert list(mux.outstanding) == ["a"]


def test_a_bot_error_fails_only_the_reply_it_names() -> None:
    mux, replies = started("a", "b")
    done, _ = mux.receive(json_text({"type": "error", "message": "overloaded", "id": "b"}), 0.3)
    assert done == [replies["b"]]
    assert isinstance(replies["b"].error, BotError)
    assert "overloaded" in str(replies["b"].error)
    assert list(mux.outstanding) == ["a"]


def test_only_the_reply_past_its_own_deadline_times_out() -> None:
    mux, replies = started("a", "b", at_s=(0.0, 0.5), timeout_s=1.0)
    assert mux.next_deadline_s == pytest.approx(1.0)
    assert mux.expire(0.99) == []
    assert mux.expire(1.2) == [replies["a"]]
    assert isinstance(replies["a"].error, ReplyTimeout)
    assert replies["a"].total_time_ms == pytest.approx(1200.0)
    assert list(mux.outstanding) == ["b"]
    assert mux.next_deadline_s == pytest.approx(1.5)


def test_a_late_send_is_timed_from_when_it_was_due_and_times_out_a_timeout_after_its_send() -> None:
    mux = Multiplexer(JsonProtocol(template=TEMPLATE, id_path="id"))
    reply = Reply(prompt="p", name="ask")
    mux.start(reply, "a", 1.0, 2.0, sent_s=1.5)
    assert mux.next_deadline_s == pytest.approx(3.5)
    mux.receive(end("a"), 1.75)
    assert reply.total_time_ms == pytest.approx(750.0)


def test_a_close_fails_every_outstanding_reply_with_its_code_and_asks_for_a_close() -> None:
    mux, replies = started("a", "b", "c")
    mux.receive(end("b"), 0.1)
    done, actions = mux.receive(
        chunk("a", "part") + encode_frame(OP_CLOSE, (1011).to_bytes(2, "big") + b"overloaded", mask=False),
        0.4,
    )
    assert done == [replies["a"], replies["c"]]
    assert all(isinstance(replies[name].error, ConnectionClosed) for name in "ac")
    assert "1011" in str(replies["c"].error)
    assert replies["a"].text == "part"
    assert replies["b"].error is None
    assert actions == [Close(1000)]
    assert not mux.outstanding


def test_a_message_that_is_not_json_fails_every_outstanding_reply_and_the_connection() -> None:
    mux, replies = started("a", "b")
    done, actions = mux.receive(encode_frame(OP_TEXT, b"garbage{", mask=False), 0.2)
    assert done == [replies["a"], replies["b"]]
    assert all(isinstance(reply.error, ProtocolError) for reply in done)
    assert actions == [Close(1002)]


def test_a_ping_while_replies_are_in_flight_asks_for_a_pong() -> None:
    mux, _ = started("a")
    assert mux.receive(encode_frame(OP_PING, b"hb", mask=False), 0.1) == ([], [Pong(b"hb")])


def test_fail_all_fails_every_reply_in_send_order_keeping_their_chunks() -> None:
    mux, replies = started("a", "b")
    mux.receive(chunk("b", "half"), 0.2)
    failed = mux.fail_all(ConnectionClosed(None, "(dropped)"), 0.3)
    assert failed == [replies["a"], replies["b"]]
    assert replies["b"].text == "half"
    assert replies["b"].total_time_ms == pytest.approx(300.0)


def test_openai_realtime_routes_deltas_by_the_response_its_metadata_binds_to_the_prompt() -> None:
    mux = Multiplexer(OpenAIRealtimeProtocol())
    one, two = Reply(prompt="one", name="ask"), Reply(prompt="two", name="ask")
    sent = json.loads(sent_messages(mux.start(one, "p1", 0.0, 60.0))[0])
    mux.start(two, "p2", 0.0, 60.0)
    assert sent["event_id"] == "p1"
    assert sent["response"]["conversation"] == "none"
    assert sent["response"]["metadata"] == {REQUEST_ID_KEY: "p1"}
    assert sent["response"]["input"][0]["content"][0]["text"] == "one"

    def created(response_id: str, request_id: str) -> bytes:
        return json_text(
            {
                "type": "response.created",
                "response": {"id": response_id, "metadata": {REQUEST_ID_KEY: request_id}},
            }
        )

    def delta(response_id: str, text: str) -> bytes:
        return json_text({"type": "response.output_text.delta", "response_id": response_id, "delta": text})

    mux.receive(created("r2", "p2") + created("r1", "p1") + delta("r2", "deux") + delta("r1", "un"), 0.1)
    done, _ = mux.receive(
        json_text(
            {
                "type": "response.done",
                "response": {"id": "r1", "status": "completed", "metadata": {REQUEST_ID_KEY: "p1"}},
            }
        ),
        0.2,
    )
    assert done == [one]
    assert (one.text, one.error) == ("un", None)
    done, _ = mux.receive(
        json_text({"type": "error", "error": {"message": "rate limited", "event_id": "p2"}}), 0.3
    )
    assert done == [two]
    assert isinstance(two.error, BotError)
    assert two.text == "deux"


def test_json_replies_are_told_apart_only_with_an_id_path() -> None:
    assert JsonProtocol(template=TEMPLATE, id_path="id").correlates
    assert not JsonProtocol(template=TEMPLATE).correlates
    assert not PlainProtocol().correlates


def test_an_id_path_without_request_id_in_the_template_is_refused_naming_both() -> None:
    with pytest.raises(ConfigurationError, match=r"--json-id-path id: .*--json-template.*\{request_id\}"):
        JsonProtocol(id_path="id")


def test_a_template_with_request_id_sent_one_prompt_at_a_time_numbers_its_prompts() -> None:
    protocol = JsonProtocol(template=TEMPLATE)
    ids = [json.loads(protocol.request("p", {})[0])["id"] for _ in range(2)]
    assert ids == ["1", "2"]
    assert protocol.record_fields() == []


def test_a_records_own_request_id_is_kept_when_prompts_go_one_at_a_time() -> None:
    protocol = JsonProtocol(template=TEMPLATE)
    assert json.loads(protocol.request("p", {"request_id": "mine"})[0])["id"] == "mine"
