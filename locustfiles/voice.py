"""Voice users: each speaks utterances at real-time pace and waits for the spoken answer.

Every record of the dataset with ``audio`` (a WAV file beside the dataset, or synthetic seconds of a
tone or noise) is one audio turn: its frames go out on a real-time schedule (``--audio-frame-ms``,
default 20 ms; ``--audio-speed`` to go faster), the answer is read meanwhile, and one ``WS``
request reports it with its voice times (time to first audio, voice-to-voice latency, the lateness
of the frames sent). With no ``--host``, the embedded demo bot answers::

    locust -f locustfiles/voice.py --headless -u 20 -r 5 -t 1m
    locust -f locustfiles/voice.py --headless --host wss://api.openai.com/v1/realtime?model=gpt-realtime \\
        --header 'Authorization: Bearer ${OPENAI_API_KEY}' --prompts datasets/voice_synthetic.jsonl
    # two-turn calls (conversations whose turns speak), 0.5 s between the turns:
    locust -f locustfiles/voice.py --headless -u 5 -r 5 -t 30s --prompts datasets/voice_conversations.jsonl \\
        --turn-think-time 0.5
    # a speech-to-speech service taking 100 binary packets of 3,200 bytes every 100 ms a turn:
    locust -f locustfiles/voice.py --headless --host ws://127.0.0.1:9000 --protocol json \\
        --audio-packets 100 --audio-packet-bytes 3200 --audio-packet-ms 100
"""

from __future__ import annotations

from locust import between

from wslocust import ChatbotUser


class VoiceUser(ChatbotUser):
    """A caller speaking an utterance, listening to the answer, then speaking again."""

    protocol = "openai-realtime"
    prompts = "datasets/voice_synthetic.jsonl"
    wait_time = between(1, 2)  # a caller's pause after the answer
    audio_frame_ms = 20.0
    audio_trailing_silence_ms = 0.0  # e.g. 500 for a server that detects the end of speech itself
    reply_timeout_s = 30.0  # counted from the end of the utterance
    demo_when_no_host = True
