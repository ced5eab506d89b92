"""The voice settings of a user class and its audio turns: which records (and conversations' turns)
are utterances, how they are framed (``--audio-frame-ms``, ``--audio-trailing-silence-ms``, or
``--audio-packets``' fixed shape) and sent (``--audio-speed``); the sending and reading are
:mod:`wslocust.voice`'s.
"""

from __future__ import annotations

import locust  # noqa: F401  (gevent's monkey patching comes first)
from locust.env import Environment

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from .audio.frames import Frames, packet_frames
from .audio.source import AudioSource, utterance
from .audio.wav import AudioError
from .client import ChatClient
from .datasets import PromptRecord, Turn
from .errors import ConfigurationError
from .report import report_reply
from .settings import given, required, setting
from .values import count, number
from .voice import ask_audio
from .wire.protocols import Protocol
from .wire.reply import Reply

__all__ = ["Speaking", "VoiceAsker", "VoiceSettings", "check_voice"]


class Speaking:
    """The voice settings of a user class (a mixin of :class:`~wslocust.users.ChatbotUser`)."""

    audio_frame_ms: ClassVar[float] = 20.0
    """The length of each audio frame sent, in ms of audio (``--audio-frame-ms``)."""

    audio_speed: ClassVar[float] = 1.0
    """How fast utterances are sent: 1.0 is real time, 2.0 twice as fast (``--audio-speed``)."""

    audio_trailing_silence_ms: ClassVar[float] = 0.0
    """Silence sent after each utterance, in ms, for servers that detect the end of speech
    (``--audio-trailing-silence-ms``)."""

    audio_packets: ClassVar[int | None] = None
    """Every turn an utterance of this many binary packets (``--audio-packets``), each
    ``audio_packet_bytes`` long and ``audio_packet_ms`` apart; None: records with ``audio`` only."""

    audio_packet_bytes: ClassVar[int] = 3200
    """The size of each packet of ``audio_packets`` (``--audio-packet-bytes``)."""

    audio_packet_ms: ClassVar[float] = 100.0
    """The time between packets of ``audio_packets`` (``--audio-packet-ms``)."""


@dataclass(frozen=True)
class VoiceSettings:
    """How a user class sends utterances, resolved from its attributes and the options."""

    frame_ms: float = 20.0
    speed: float = 1.0
    trailing_silence_ms: float = 0.0
    packets: int | None = None
    packet_bytes: int = 3200
    packet_ms: float = 100.0

    @classmethod
    def of(cls, user_class: type, options: Any) -> VoiceSettings:
        """Resolve the settings (an option wins over its class attribute).

        Raises:
            ConfigurationError: a value is not a number above 0 (0 or more for the trailing silence;
                a whole number for the packets), naming the option or the attribute.
        """

        def positive(value: Any, name: str) -> float:
            return number(value, name, positive=True, what="a number")

        def ms(value: Any, name: str) -> float:
            return number(value, name, positive=True, what="a number of ms")

        def silence_ms(value: Any, name: str) -> float:
            return number(value, name, what="a number of ms")

        def whole(value: Any, name: str) -> int:
            return count(value, name, minimum=1)

        return cls(
            frame_ms=required(setting(user_class, options, "audio_frame_ms", ms)),
            speed=required(setting(user_class, options, "audio_speed", positive)),
            trailing_silence_ms=required(
                setting(user_class, options, "audio_trailing_silence_ms", silence_ms)
            ),
            packets=setting(user_class, options, "audio_packets", whole),
            packet_bytes=required(setting(user_class, options, "audio_packet_bytes", whole)),
            packet_ms=required(setting(user_class, options, "audio_packet_ms", ms)),
        )

    def frames(self, audio: AudioSource | None, rate: int | None) -> Frames | None:
        """The utterance a turn sends: the packets of ``--audio-packets`` when set (every turn, the
        record's audio or not), else the record's ``audio`` at ``rate`` Hz (None: its own); None when
        the turn is a text prompt.

        Raises:
            AudioError: the audio cannot be read now or cut into frames.
        """
        if self.packets is not None:
            try:
                return _packets(self.packets, self.packet_bytes, self.packet_ms, self.trailing_silence_ms)
            except ValueError as error:
                raise AudioError(f"--audio-packets {self.packets}: {error}") from None
        if audio is not None:
            return utterance(audio, rate, self.frame_ms, self.trailing_silence_ms)
        return None


_packets = lru_cache(maxsize=8)(packet_frames)


def _speaks(records: Sequence[PromptRecord]) -> bool:
    """True when a record, or a conversation's turn, has audio."""
    return any(
        record.audio is not None or any(turn.audio is not None for turn in record.turns) for record in records
    )


class VoiceAsker:
    """Asks a user's audio turns: a record with ``audio``, or any record with ``--audio-packets``.

    Args:
        settings: the class's voice settings.
        rate: the protocol's ``audio_rate``.
    """

    def __init__(self, settings: VoiceSettings, rate: int | None) -> None:
        self.settings = settings
        self.rate = rate

    @classmethod
    def of(
        cls, user_class: type, environment: Environment, protocol: Protocol, records: Sequence[PromptRecord]
    ) -> VoiceAsker | None:
        """The asker of a user of ``user_class`` speaking ``protocol`` and asking ``records``; None when
        no turn speaks (no ``--audio-packets``, no record with ``audio``): text prompts pay nothing."""
        settings = VoiceSettings.of(user_class, environment.parsed_options)
        if settings.packets is None and not _speaks(records):
            return None
        return cls(settings, protocol.audio_rate)

    def speaks(self, record: PromptRecord | Turn) -> bool:
        """True when the record's (or the conversation turn's) turn is an audio turn."""
        return record.audio is not None or self.settings.packets is not None

    def ask(
        self,
        client: ChatClient,
        record: PromptRecord | Turn,
        name: str | None,
        scheduled_at: float | None = None,
        *,
        source: str | None = None,
    ) -> Reply | None:
        """Ask the record's (or a conversation turn's) utterance on ``client`` (see
        :func:`~wslocust.voice.ask_audio`); None when it is a text prompt.

        Args:
            source: where the utterance comes from, for the message of a failure to make it (a
                record's own ``source`` when None).
        """
        try:
            frames = self.settings.frames(record.audio, self.rate)
        except AudioError as error:  # checked at start-up: the file went away since
            where = source or getattr(record, "source", "")
            reply = Reply(prompt=record.prompt, name=name or client.default_name, record=record.fields)
            reply.error, reply.started_at = ConfigurationError(f"{where}: {error}"), time.time()
            report_reply(client.environment, client.checks, reply)
            return reply
        if frames is None:
            return None
        return ask_audio(
            client,
            frames,
            prompt=record.prompt,
            record=record.fields,
            name=name,
            speed=self.settings.speed,
            scheduled_at=scheduled_at,
        )


def _protocol_name(user_class: type, environment: Environment) -> str:
    """The name of the protocol a class's users speak (``--protocol``, else its ``protocol``)."""
    chosen = given(environment.parsed_options, "protocol") or getattr(user_class, "protocol", "")
    return chosen if isinstance(chosen, str) else str(getattr(chosen, "name", chosen))


def check_voice(
    user_class: type,
    environment: Environment,
    records: Sequence[PromptRecord],
    rate: int | None,
    in_flight: int,
    *,
    audio_only: bool = False,
) -> None:
    """Check a class's voice settings and that every utterance (a record's or a conversation turn's)
    can be made at the protocol's rate.

    Args:
        audio_only: the protocol sends audio turns only (its ``audio_only``): a text
            prompt (a record or a turn without audio, and no ``--audio-packets``) is refused.

    Raises:
        ConfigurationError: an option or attribute is wrong, an utterance cannot be made, audio
            turns are asked with several prompts in flight, or a text prompt would go to an
            audio-only protocol; naming the record's ``file:line`` (and the turn).
    """
    settings = VoiceSettings.of(user_class, environment.parsed_options)
    speaking = settings.packets is not None or _speaks(records)
    if speaking and in_flight > 1:
        raise ConfigurationError(
            f"--in-flight {in_flight}: audio turns are asked one at a time on a connection"
        )
    for record in records:
        numbered: list[tuple[str, PromptRecord | Turn]] = [(f"{record.source}", record)]
        if record.turns:
            numbered = [(f"{record.source}: turn {n}", turn) for n, turn in enumerate(record.turns, 1)]
        for where, utterance_of in numbered:
            if utterance_of.audio is not None:
                try:
                    settings.frames(utterance_of.audio, rate)
                except AudioError as error:
                    raise ConfigurationError(f"{where}: {error}") from None
            elif audio_only and settings.packets is None:
                name = _protocol_name(user_class, environment)
                raise ConfigurationError(
                    f"{where}: a text prompt, and --protocol {name} sends audio turns only "
                    "(give it audio, or --audio-packets)"
                )
    if settings.packets is not None:
        try:
            settings.frames(None, rate)
        except AudioError as error:
            raise ConfigurationError(str(error)) from None
