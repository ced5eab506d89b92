"""What a voice turn in flight leaves for the garbage collector to walk: a turn lives as long as its
utterance (seconds), so its objects outlive the young collections, and every collection of the
middle generation walks those of every turn in flight (at a thousand speaking users, each object a
turn is a thousand more a walk: the pauses that made frames late)."""

from __future__ import annotations

import gc

import gevent
from gevent.event import Event

from wslocust.client import ChatClient
from wslocust.voice import ask_audio
from wslocust.wire.reply import Reply

from .conftest import UNIT
from .test_voice import client_of, tone, voice_server

TURNS = 20
OBJECTS_A_TURN = 30
"""The most objects the collector tracks that a turn in flight may hold (the reply and its times, the
utterance's stream, its reading's state, watcher and timer): 23 here, 40 when the reading's state
was a closure's cells and each frame's lateness a float object in a list."""


def test_a_turns_frame_lateness_holds_no_object_a_frame(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    server = raw_server(voice_server([], answer_at_frame=5))
    reply = ask_audio(client_of(environment, server), tone(5), prompt="hello")
    assert reply.error is None, reply.error
    assert len(reply.voice.lateness_ms) == 5
    # plain doubles: no float object a frame for the collector to visit
    assert not any(type(referent) is float for referent in gc.get_referents(reply.voice.lateness_ms))


def test_a_turn_in_flight_holds_few_objects_the_collector_walks(recorded_env, raw_server) -> None:
    environment, _ = recorded_env
    server = raw_server(voice_server([], answer_at_frame=50))
    clients = [client_of(environment, server) for _ in range(TURNS)]
    assert all(client.connect() for client in clients)
    utterance = tone(50)
    go = Event()

    def speak(client: ChatClient) -> Reply:
        go.wait()
        return ask_audio(client, utterance, prompt="hello")

    speakers = [gevent.spawn(speak, client) for client in clients]
    gevent.sleep(0)  # every speaker waits: its greenlet is not the turn's
    gc.collect()
    before = len(gc.get_objects())
    go.set()
    gevent.sleep(0.2 * UNIT)  # a second of speech each: every turn is mid-utterance
    assert not any(speaker.dead for speaker in speakers)
    held = len(gc.get_objects()) - before
    gevent.joinall(speakers, timeout=10 * UNIT)
    assert all(speaker.value is not None and speaker.value.error is None for speaker in speakers)
    assert held <= TURNS * OBJECTS_A_TURN, f"{held / TURNS:.1f} objects a turn in flight"
