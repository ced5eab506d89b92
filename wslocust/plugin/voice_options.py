"""The voice options' groups: ``wslocust voice protocols`` (how ``openai-realtime`` ends an audio
turn, ``twilio``'s and ``binary-stt``'s options) and ``wslocust voice gates``."""

from __future__ import annotations

from typing import Any

from ..gates.voice import add_voice_gate_arguments
from ..values import argument_type, count, milliseconds, number
from ..wire.protocols import BinarySttProtocol
from ..wire.protocols.openai_realtime import TURN_ENDS
from .option_marks import add_option

__all__ = ["add_voice_arguments", "add_voice_gates", "add_voice_protocol_arguments"]


def add_voice_gates(group: Any) -> None:
    """The ``wslocust voice gates`` group: limits on the audio turns' figures (docs/gates.md)."""
    add_voice_gate_arguments(group, add_option)


def add_voice_protocol_arguments(group: Any) -> None:
    """The ``wslocust voice protocols`` group: how ``openai-realtime`` ends an audio turn, and the
    options of ``twilio`` and ``binary-stt`` (:mod:`wslocust.wire.protocols.twilio`, ``binary_stt``)."""
    add_option(
        group,
        "--realtime-turn-end",
        choices=TURN_ENDS,
        help="openai-realtime audio turns: commit (the client commits the audio and asks for a response; "
        "server VAD turned off; default) or server-vad (the server detects the end of speech and answers)",
    )
    add_option(
        group,
        "--twilio-quiet-ms",
        type=argument_type(milliseconds, positive=True, keep_text=True),
        help="twilio: an answer ends once no audio came for this many ms (default: at the bot's mark)",
    )
    add_option(
        group, "--twilio-end-mark", help="twilio: only a mark of this name ends an answer (default: any)"
    )
    add_option(
        group,
        "--stt-rate",
        type=argument_type(count, minimum=8000, maximum=192000, keep_text=True),
        help=f"binary-stt: sample rate (Hz) of the PCM16 sent (default {BinarySttProtocol.DEFAULT_RATE})",
    )
    add_option(
        group,
        "--stt-text-path",
        help="binary-stt: dotted path of a result's transcript "
        f"(default {BinarySttProtocol.DEFAULT_TEXT_PATH})",
    )
    add_option(
        group,
        "--stt-final-path",
        help="binary-stt: dotted path saying a result is final "
        f"(default {BinarySttProtocol.DEFAULT_FINAL_PATH})",
    )
    add_option(
        group,
        "--stt-close-message",
        help="binary-stt: message sent after an utterance "
        f"(default {BinarySttProtocol.DEFAULT_CLOSE_MESSAGE}; "
        'AssemblyAI: {"type": "Terminate"})',
    )
    add_option(
        group,
        "--stt-end",
        help=f"binary-stt: condition of a message ending the reply, as --json-end's "
        f"(default {BinarySttProtocol.DEFAULT_END}); a final result after the close message also ends it",
    )
    add_option(
        group,
        "--stt-error",
        help=f"binary-stt: condition of an error message (default {BinarySttProtocol.DEFAULT_ERROR})",
    )
    add_option(
        group,
        "--stt-keepalive-message",
        help="binary-stt: message keeping an idle connection open "
        f"(default {BinarySttProtocol.DEFAULT_KEEPALIVE_MESSAGE})",
    )
    add_option(
        group,
        "--stt-keepalive-ms",
        type=argument_type(milliseconds, positive=True, keep_text=True),
        help="binary-stt: send the keep-alive message every this many ms while the connection is idle "
        "between turns (default: never; Deepgram closes a stream idle for 10 s: e.g. 3000)",
    )


def add_voice_arguments(group: Any) -> None:
    """The ``wslocust voice`` group: how audio turns send their utterances (:mod:`wslocust.voice`)."""
    positive_ms = argument_type(milliseconds, positive=True, keep_text=True)
    add_option(
        group,
        "--audio-frame-ms",
        type=positive_ms,
        metavar="MS",
        help="Audio turns: ms of audio in each frame sent (default 20)",
    )
    add_option(
        group,
        "--audio-speed",
        type=argument_type(number, positive=True, keep_text=True),
        metavar="X",
        help="Audio turns: send utterances X times as fast as real time (default 1.0)",
    )
    add_option(
        group,
        "--audio-trailing-silence-ms",
        type=argument_type(milliseconds, keep_text=True),
        metavar="MS",
        help="Audio turns: silence sent after each utterance, for voice activity detection (default 0)",
    )
    add_option(
        group,
        "--audio-packets",
        type=argument_type(count, minimum=1, keep_text=True),
        metavar="N",
        help="Every turn an utterance of N binary packets (see --audio-packet-bytes, --audio-packet-ms)",
    )
    add_option(
        group,
        "--audio-packet-bytes",
        type=argument_type(count, minimum=1, keep_text=True),
        metavar="B",
        help="--audio-packets: bytes a packet (default 3200)",
    )
    add_option(
        group,
        "--audio-packet-ms",
        type=positive_ms,
        metavar="MS",
        help="--audio-packets: ms between packets (default 100)",
    )
