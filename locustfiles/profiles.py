"""User profiles in a locustfile: three kinds of users of the support bot, weighted with Locust's
``weight``, each with its own ``wait_time``, one of them asking from two prompt files mixed by weight.

Each class that subclasses :class:`~wslocust.profiles.ProfiledUser` is a profile named after it: its
requests are named ``active/billing``..., and the JSON summary's ``by_profile`` sums each. The same
run from the command line, over ``locustfiles/chatbot.py``::

    locust -f locustfiles/chatbot.py --headless -u 10 -r 10 -t 30s \\
        --user-profile active:2:think=0.5-1 --user-profile regular:5:think=2-4 \\
        --user-profile passive:3:think=8-12
"""

from __future__ import annotations

from locust import between

from wslocust import ChatbotUser
from wslocust.metrics import intent_accuracy, reference_recall
from wslocust.profiles import ProfiledUser


class SupportBotUser(ChatbotUser):
    """What every profile shares: the bot, its protocol, the prompts and the metrics."""

    abstract = True  # not spawned itself: its profiles are
    protocol = "json"
    prompts = "datasets/support_bot.jsonl"
    shuffle_seed = 1
    demo_when_no_host = True
    metrics = (intent_accuracy("Intent"), reference_recall("Keywords"))


class active(ProfiledUser, SupportBotUser):  # the class name is the profile's, in every output
    """Asks one question after another."""

    weight = 2
    wait_time = between(0.5, 1)


class regular(ProfiledUser, SupportBotUser):
    """Pauses between questions, three in four from the support questions, one in four small talk."""

    weight = 5
    wait_time = between(2, 4)
    prompt_mix = {"datasets/support_bot.jsonl": 3, "datasets/prompts.txt": 1}


class passive(ProfiledUser, SupportBotUser):
    """Asks now and then."""

    weight = 3
    wait_time = between(8, 12)
