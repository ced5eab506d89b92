"""The main job: ask a chatbot the prompts of a dataset, over WebSocket.

With no ``--host``, an embedded demo chatbot is started on a free loopback port and stopped at the
end. Every setting is an option (``wslocust --help`` lists them, groups "wslocust ..."), also
editable in the web UI; ``wslocust`` and ``locust`` run this file alike::

    locust -f locustfiles/chatbot.py                       # web UI, demo bot
    locust -f locustfiles/chatbot.py --headless -u 20 -r 5 -t 1m --csv results/run
    locust -f locustfiles/chatbot.py --headless --host wss://bot.example/prod \\
        --protocol openai-realtime --header 'Authorization: Bearer ${OPENAI_API_KEY}'
"""

from __future__ import annotations

from locust import between

from wslocust import ChatbotUser
from wslocust.metrics import intent_accuracy, reference_recall


class SupportBotUser(ChatbotUser):
    """A customer asking the support bot one question after another."""

    protocol = "json"
    prompts = "datasets/support_bot.jsonl"
    shuffle_seed = 1  # mix the intents (the file groups them); --shuffle-seed -1 keeps file order
    wait_time = between(1, 3)
    demo_when_no_host = True
    metrics = (
        intent_accuracy("Intent"),  # the intent the bot names in its reply's end message vs the record's
        reference_recall("Keywords"),  # share of the expected keywords in the answer; fails at none
    )
