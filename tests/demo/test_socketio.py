"""The demo bot speaks Socket.IO v4 and Rasa's socketio channel: driven by python-socketio's own
client (WebSocket transport only), and by a raw Engine.IO peer where a real client would hide what
is checked (pings, a pong that never comes, a refused handshake)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import socketio
import websocket

from wslocust.demo.server import DEFAULT_DATASET, Knowledge
from wslocust.demo.server import main as demo_main

from ..conftest import UNIT, bot_counts

FAST = ("--ttft-ms", "5", "--itl-ms", "1", "--chunks", "3")
"""Quick replies: three chunks, 5 ms to the first."""

BILLING = "Why is my bill higher this month?"
"""A question of the sample dataset (intent ``billing``)."""


class Bot:
    """A python-socketio client of the demo bot that records every event it receives, in order."""

    def __init__(self, url: str, *events: str) -> None:
        self.url = url.replace("ws://", "http://")
        self.client = socketio.Client(reconnection=False)
        self.received: list[tuple[str, Any]] = []
        self.connect_errors: list[Any] = []
        for name in events or ("bot_uttered", "session_confirm", "error"):
            self.client.on(name, self._recorder(name))
        self.client.on("connect_error", self.connect_errors.append)

    def _recorder(self, name: str) -> Callable[[Any], None]:
        return lambda data: self.received.append((name, data))

    def connect(self, **options: Any) -> None:
        self.client.connect(self.url, transports=["websocket"], wait_timeout=5 * UNIT, **options)

    def call(self, event: str, data: Any, namespace: str | None = None) -> Any:
        """Emit ``event`` asking for an ack; return the ack's argument."""
        return self.client.call(event, data, namespace=namespace, timeout=10 * UNIT)


@pytest.fixture
def bots() -> Iterator[Callable[..., Bot]]:
    """Socket.IO clients of a demo bot (``bots(url)``), disconnected after the test."""
    made: list[Bot] = []

    def make(url: str, *events: str) -> Bot:
        made.append(Bot(url, *events))
        return made[-1]

    yield make
    for bot in made:
        bot.client.disconnect()


def the_answer(question: str = BILLING) -> str:
    """The sample dataset's answer to ``question``."""
    return Knowledge(DEFAULT_DATASET).answer(question, random.Random(), wrong=False)[1]


def test_a_socketio_client_connects_on_the_websocket_transport_to_a_bot_that_detects_the_path(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """With --protocol auto, a handshake to /socket.io/ gets an Engine.IO session and the namespace /."""
    bot = bots(demo(*FAST))
    bot.connect()
    assert bot.client.connected
    assert bot.client.transport() == "websocket"
    assert bot.client.get_sid("/")


def test_an_emit_with_an_ack_streams_the_answer_as_reply_events_then_acks_the_whole_answer(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """``42<id>["user_uttered", ...]``: --chunks ``bot_uttered`` pieces, then ``43<id>[{text, intent}]``."""
    bot = bots(demo("--protocol", "socketio", *FAST))
    bot.connect()
    ack = bot.call("user_uttered", {"message": BILLING})
    pieces = [data["text"] for name, data in bot.received if name == "bot_uttered"]
    assert len(pieces) == 3
    assert ack == {"text": "".join(pieces), "intent": "billing"}
    assert ack["text"].startswith("Your bill is most likely higher")


def test_an_emit_without_an_ack_gets_the_whole_answer_as_one_reply_event(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """Prompts are answered in order: before the second prompt's ack, the first had one ``bot_uttered``."""
    url = demo("--protocol", "socketio", *FAST)
    bot = bots(url)
    bot.connect()
    bot.client.emit("user_uttered", {"message": BILLING})
    second = bot.call("user_uttered", {"message": "hello"})
    whole = the_answer()
    assert bot.received[0] == ("bot_uttered", {"text": whole})
    assert "".join(data["text"] for _, data in bot.received[1:]) == second["text"]


def test_the_bot_reads_the_prompt_and_answers_on_the_event_names_it_is_given(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """--socketio-event and --socketio-reply-event rename the prompt and the reply events."""
    bot = bots(
        demo("--protocol", "socketio", "--socketio-event", "ask", "--socketio-reply-event", "says", *FAST),
        "says",
    )
    bot.connect()
    ack = bot.call("ask", {"message": BILLING})
    assert ack["intent"] == "billing"
    assert "".join(data["text"] for name, data in bot.received if name == "says") == ack["text"]


def test_with_an_end_event_the_answer_streams_as_reply_events_ended_by_that_event(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """--socketio-end-event done: an unacked prompt gets --chunks ``bot_uttered``, then ``done``."""
    bot = bots(demo("--protocol", "socketio", "--socketio-end-event", "done", *FAST), "bot_uttered", "done")
    bot.connect()
    bot.client.emit("user_uttered", {"message": BILLING})
    bot.call("user_uttered", {"message": "hello"})  # answered after the first
    first = bot.received[: bot.received.index(("done", {"intent": "billing"}))]
    assert len(first) == 3
    assert "".join(data["text"] for _, data in first) == the_answer()


def test_an_auth_payload_with_the_required_token_connects(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    bot = bots(demo("--protocol", "socketio", "--require-auth-token", "s3cret", *FAST))
    bot.connect(auth={"token": "s3cret"})
    assert bot.client.connected
    assert bot.call("user_uttered", {"message": BILLING})["intent"] == "billing"


@pytest.mark.parametrize("auth", [None, {"token": "wrong"}], ids=["missing", "wrong"])
def test_a_missing_or_wrong_auth_token_is_refused_with_a_connect_error(
    demo: Callable[..., str], bots: Callable[..., Bot], auth: dict[str, str] | None
) -> None:
    """The namespace connect is answered ``44{"message": ...}``: the client fails to connect."""
    bot = bots(demo("--protocol", "socketio", "--require-auth-token", "s3cret", *FAST))
    with pytest.raises(socketio.exceptions.ConnectionError):
        bot.connect(auth=auth)
    assert bot.connect_errors == [{"message": "Connection rejected by server"}]


def test_the_configured_namespace_is_accepted_and_answers_on_it(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    bot = bots(demo("--protocol", "socketio", "--socketio-namespace", "/chat", *FAST))
    bot.connect(namespaces=["/chat"])
    assert bot.client.get_sid("/chat")
    assert bot.call("user_uttered", {"message": BILLING}, namespace="/chat")["intent"] == "billing"


def test_a_namespace_the_bot_does_not_serve_is_refused_with_a_connect_error(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    bot = bots(demo("--protocol", "socketio", "--socketio-namespace", "/chat", *FAST))
    bot.client.on("connect_error", bot.connect_errors.append, namespace="/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        bot.connect(namespaces=["/admin"])
    assert bot.connect_errors == [{"message": "Invalid namespace"}]


def test_an_injected_bot_error_ends_the_reply_with_an_error_field(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """--error-rate 1: an acked prompt is acked ``{"error": ...}``; an unacked one gets one reply event
    whose text says so and whose ``error`` field says why."""
    bot = bots(demo("--protocol", "socketio", "--error-rate", "1", *FAST))
    bot.connect()
    bot.client.emit("user_uttered", {"message": BILLING})
    ack = bot.call("user_uttered", {"message": BILLING})
    assert ack == {"error": "model overloaded, try again"}
    assert bot.received == [
        ("bot_uttered", {"text": "ERROR: the bot could not answer", "error": "model overloaded, try again"})
    ]


def test_with_an_end_event_an_injected_bot_error_is_that_event_with_an_error_field(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    bot = bots(
        demo("--protocol", "socketio", "--socketio-end-event", "done", "--error-rate", "1", *FAST),
        "bot_uttered",
        "done",
    )
    bot.connect()
    bot.client.emit("user_uttered", {"message": BILLING})
    bot.call("user_uttered", {"message": BILLING})  # answered after the first
    assert bot.received == [("done", {"error": "model overloaded, try again"})]


def test_rasa_confirms_a_session_request_with_its_session_id(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """``session_request`` ``{"session_id": id}`` is answered ``session_confirm`` with that id."""
    bot = bots(demo("--protocol", "rasa", *FAST))
    bot.connect()
    bot.client.emit("session_request", {"session_id": "c0ffee"})
    bot.call("user_uttered", {"message": "hello", "session_id": "c0ffee"})  # answered after the confirm
    assert bot.received[0] == ("session_confirm", "c0ffee")


def test_rasa_makes_up_a_session_id_for_a_session_request_without_one(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    bot = bots(demo("--protocol", "rasa", *FAST))
    bot.connect()
    bot.client.emit("session_request", {})
    bot.call("user_uttered", {"message": "hello"})
    name, session_id = bot.received[0]
    assert name == "session_confirm"
    assert isinstance(session_id, str)
    assert len(session_id) == 32


def test_rasa_answers_each_message_with_one_bot_uttered_and_acks_nothing(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """Rasa's channel: one ``bot_uttered`` ``{"text": answer}`` a message, never streamed."""
    url = demo("--protocol", "rasa", *FAST)
    bot = bots(url)
    bot.connect()
    ack = bot.call("user_uttered", {"message": BILLING, "session_id": "s1"})
    assert ack is None  # Rasa's handler returns nothing: an empty ack
    assert bot.received == [("bot_uttered", {"text": the_answer()})]


def test_rasa_with_session_persistence_ignores_a_message_without_a_session_id(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """As Rasa with ``session_persistence: true``: no reply, ever, to a message without ``session_id``."""
    url = demo("--protocol", "rasa", "--rasa-session-persistence", *FAST)
    bot = bots(url)
    bot.connect()
    bot.client.emit("user_uttered", {"message": "hello"})
    bot.call("user_uttered", {"message": BILLING, "session_id": "s1"})  # answered after the first
    assert bot.received == [("bot_uttered", {"text": the_answer()})]
    assert bot_counts(url)["ignored"] == 1


def test_rasa_without_session_persistence_answers_a_message_without_a_session_id(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    url = demo("--protocol", "rasa", *FAST)
    bot = bots(url)
    bot.connect()
    bot.call("user_uttered", {"message": BILLING})
    assert bot.received == [("bot_uttered", {"text": the_answer()})]


def test_the_stats_count_socketio_connections_and_replies(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    url = demo("--protocol", "socketio", *FAST)
    bot = bots(url)
    bot.connect()
    bot.call("user_uttered", {"message": BILLING})
    bot.call("user_uttered", {"message": "hello"})
    counts = bot_counts(url)
    assert counts["connections"] == 1
    assert counts["replies"] == 2


def test_a_reply_slower_than_several_ping_rounds_arrives_to_a_client_that_answers_pings(
    demo: Callable[..., str], bots: Callable[..., Bot]
) -> None:
    """With pings every 50 ms and 100 ms to answer, a reply 600 ms long keeps its session."""
    bot = bots(
        demo(
            "--protocol",
            "socketio",
            "--ttft-ms",
            str(600 * UNIT),
            "--chunks",
            "1",
            "--eio-ping-interval-ms",
            str(50 * UNIT),
            "--eio-ping-timeout-ms",
            str(100 * UNIT),
        )
    )
    bot.connect()
    assert bot.call("user_uttered", {"message": BILLING})["intent"] == "billing"
    assert bot.client.connected


# A raw Engine.IO peer: what a Socket.IO client would do for us, or hide.


def raw_session(url: str, query: str = "EIO=4&transport=websocket") -> websocket.WebSocket:
    """A WebSocket to the bot's /socket.io/ path, Engine.IO speaking left to the test."""
    return websocket.create_connection(f"{url}/socket.io/?{query}", timeout=10 * UNIT)


def test_pings_come_mid_reply_and_the_session_lives_on_while_they_are_answered(
    demo: Callable[..., str],
) -> None:
    """A prompt answered after 500 ms: pings (every 50 ms) arrive before its first chunk; pongs keep it."""
    url = demo(
        "--protocol", "socketio", "--ttft-ms", str(500 * UNIT), "--chunks", "1",
        "--eio-ping-interval-ms", str(50 * UNIT), "--eio-ping-timeout-ms", str(100 * UNIT),
    )  # fmt: skip
    session = raw_session(url)
    try:
        opened = session.recv()
        assert opened.startswith("0")
        session.send("40")
        assert session.recv().startswith("40{")
        session.send('421["user_uttered",{"message":"hello"}]')
        pings_before_reply = 0
        while (message := session.recv()) == "2":
            pings_before_reply += 1
            session.send("3")
        assert pings_before_reply >= 3
        assert message.startswith('42["bot_uttered",')
        while (message := session.recv()) == "2":
            session.send("3")
        assert message.startswith("431[")
    finally:
        session.close()


def test_a_session_whose_pong_does_not_come_within_the_ping_timeout_is_closed(
    demo: Callable[..., str],
) -> None:
    """After a ping left unanswered, the bot closes the WebSocket once the ping timeout has passed."""
    session = raw_session(
        demo("--eio-ping-interval-ms", str(50 * UNIT), "--eio-ping-timeout-ms", str(150 * UNIT))
    )
    try:
        open_packet = json.loads(session.recv()[1:])
        assert (open_packet["pingInterval"], open_packet["pingTimeout"]) == (
            round(50 * UNIT),
            round(150 * UNIT),
        )
        assert session.recv() == "2"
        pinged = time.monotonic()
        opcode, frame = session.recv_data_frame(control_frame=True)
        waited_s = time.monotonic() - pinged
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert frame.data[2:] == b"ping timeout"
        assert waited_s >= 0.150 * UNIT * 0.9
    finally:
        session.close()


@pytest.mark.parametrize(
    ("query", "refusal"),
    [
        ("EIO=3&transport=websocket", "Unsupported protocol version: EIO=3"),
        ("transport=websocket", "Unsupported protocol version: EIO=(none)"),
        ("EIO=4&transport=polling", "Transport unknown: polling"),
    ],
    ids=["EIO-3", "no-EIO", "polling"],
)
def test_an_engineio_handshake_the_bot_cannot_serve_is_refused_with_http_400_naming_why(
    demo: Callable[..., str], query: str, refusal: str
) -> None:
    url = demo("--protocol", "socketio").replace("ws://", "http://")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{url}/socket.io/?{query}", timeout=5 * UNIT)
    assert refused.value.code == 400
    assert json.load(refused.value)["message"].startswith(refusal)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--socketio-namespace", "chat"),
        ("--socketio-event", ""),
        ("--eio-ping-interval-ms", "0"),
        ("--eio-ping-timeout-ms", "nan"),
    ],
)
def test_a_bad_socketio_option_of_the_bot_stops_it_naming_the_option(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        demo_main([option, value])
    assert stopped.value.code == 2
    assert f"argument {option}: must be" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--socketio-end-event", "connect"], "--socketio-end-event"),
        (
            ["--socketio-end-event", "bot_uttered"],
            "--socketio-end-event 'bot_uttered' is also the --socketio-reply-event",
        ),
        (["--socketio-end-event", "ask", "--socketio-event", "ask"], "is also the --socketio-event"),
    ],
)
def test_an_end_event_that_could_never_end_a_reply_is_refused_at_start(args: list[str], says: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "wslocust.demo", "--protocol", "socketio", "--port", "0", *args],
        capture_output=True, text=True, timeout=20 * UNIT, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
