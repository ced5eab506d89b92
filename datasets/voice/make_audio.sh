#!/bin/sh
# Makes the WAV files of datasets/voice_support.jsonl: a support bot's callers' utterances, spoken by
# espeak-ng and turned into PCM16 mono 16 kHz by sox, with the silence at either end trimmed.
# Needs Debian's espeak-ng and sox (apt-get install espeak-ng sox). Not run by the tests or CI: the
# files it made are in the repository; run it again to remake them (the same text makes the same audio).
set -eu
cd "$(dirname "$0")"
RATE=16000
VOICE=en-us
SPEED=175

say() {
    # say NAME TEXT: voice/NAME.wav
    espeak-ng -v "$VOICE" -s "$SPEED" -w "$1.raw.wav" "$2"
    sox "$1.raw.wav" -r "$RATE" -c 1 -b 16 -e signed-integer "$1.wav" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
    rm -f "$1.raw.wav"
}

say billing_due "When is my payment due?"
say autopay "How do I set up AutoPay?"
say roaming "How do I turn on roaming?"
say order_status "Where is my order?"
say refund "Can I get a refund?"
say no_signal "My phone has no signal."
