"""The embedded demo bot: started when no ``--host`` is given at all, stopped when Locust quits."""

from __future__ import annotations

from locust.env import Environment

import atexit
import logging
from pathlib import Path
from typing import Any

from ..demo.process import DemoProcess
from ..errors import WsLocustError
from ..users import ChatbotUser, WebSocketUser

__all__ = ["start_demo"]

_log = logging.getLogger("wslocust")

_HELD_PROTOCOLS = ("socketio", "rasa")
"""Client protocols the demo bot is held to (its ``--protocol``) rather than left to detect."""

_SOCKETIO_OPTIONS = ("socketio_event", "socketio_reply_event", "socketio_end_event", "socketio_namespace")
"""The client's Socket.IO options the demo bot is given too, so both sides agree."""


def _protocol_args(environment: Environment, users: list[type[WebSocketUser]]) -> list[str]:
    """The demo bot's ``--protocol`` and Socket.IO options when every user speaks Socket.IO or Rasa;
    its ``--stt-format simple`` when every user speaks JSON (audio packets' transcripts then end with
    ``{"type": "end"}``, which ends a JSON reply; Deepgram's results would never end one)."""
    names = {cls.connection_settings(environment, url="ws://127.0.0.1").protocol.name for cls in users}
    if names == {"json"}:
        return ["--stt-format=simple"]
    if len(names) != 1 or (name := names.pop()) not in _HELD_PROTOCOLS:
        return []  # --protocol auto: each request's shape says
    args = [f"--protocol={name}"]
    for option in _SOCKETIO_OPTIONS:
        value = getattr(environment.parsed_options, option, None)
        if value:
            args.append(f"--{option.replace('_', '-')}={value}")
    return args


def start_demo(environment: Environment, users: list[type[WebSocketUser]]) -> None:
    options = environment.parsed_options
    assert options is not None
    args = [
        f"--ttft-ms={options.demo_ttft_ms}",
        f"--itl-ms={options.demo_itl_ms}",
        f"--chunks={options.demo_chunks}",
        f"--error-rate={options.demo_error_rate}",
        f"--wrong-rate={options.demo_wrong_rate}",
        f"--voice-delay-ms={options.demo_voice_delay_ms}",
        f"--voice-pace={options.demo_voice_pace}",
        *_protocol_args(environment, users),
    ]
    chatbots = [cls for cls in users if issubclass(cls, ChatbotUser)]
    if chatbots:
        prompts = Path(chatbots[0].dataset_settings(environment).path)
        if prompts.suffix == ".jsonl":
            args.append(f"--dataset={prompts}")
    demo = DemoProcess(args)
    try:
        environment.host = demo.start()
    except RuntimeError as error:
        raise WsLocustError(str(error)) from None
    atexit.register(demo.stop)  # also on an exit that skips Locust's quit event
    _log.info("no --host given; embedded demo chatbot at %s", environment.host)

    def stop_demo(**_: Any) -> None:
        demo.stop()

    environment.events.quit.add_listener(stop_demo)  # last: after the test's final stop and outputs
