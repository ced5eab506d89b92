"""``--user-profile`` on Locust's runner: the run's user classes become the profiles' classes.

Locust spawns users of ``environment.user_classes`` by their ``weight``; with profiles, those are the
classes :func:`~wslocust.profiles.profile_class` makes from the locustfile's one ChatbotUser class
(the one named on the command line, or picked in the web UI). They are set:

- at start-up (``init``), before the checks, on every process;
- when the web UI starts a test (after Locust's view chose the picked classes, before its runner
  spawns, which it does in a greenlet of its own), from the form's profiles;
- on a worker when a test starts (``test_start``, before it spawns): the master's options reach the
  worker with each spawn message, so a worker makes the same classes (same names) as its master,
  whatever its own command line said.

Profiles take effect at a test's start: changed in the web UI during a test, they apply to the next.
"""

from __future__ import annotations

from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WorkerRunner

import logging
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigurationError, WsLocustError
from ..outputs.summary import reply_section
from ..profiles import PROFILE_SEPARATOR, ProfiledUser, parse_user_profiles, profile_class
from ..settings import as_strings, given
from ..stats.aggregates import ChatStats, ReplyStats
from ..users import ChatbotUser, WebSocketUser

__all__ = ["apply_profiles", "by_profile_section", "follow_profiles_on_workers", "profiled_classes"]

_log = logging.getLogger("wslocust")


def profiled_classes(
    environment: Environment, users: Sequence[type[WebSocketUser]]
) -> list[type[WebSocketUser]]:
    """The classes a run of ``users`` spawns: the profiles' classes with ``--user-profile``, else the
    locustfile's classes (a profile's class stands for the class it was made from).

    Raises:
        ConfigurationError: a profile is wrong, or the run has not exactly one ChatbotUser class.
    """
    bases: list[type[WebSocketUser]] = []
    for cls in users:
        base = (cls.profile_base if issubclass(cls, ProfiledUser) else None) or cls
        if base not in bases:
            bases.append(base)
    texts = given(environment.parsed_options, "user_profile")
    if texts is None:
        return bases
    profiles = parse_user_profiles(as_strings(texts, "--user-profile"))
    if len(bases) != 1:
        names = ", ".join(cls.__name__ for cls in bases)
        raise ConfigurationError(
            f"--user-profile makes its classes from one user class; this run has {len(bases)} ({names}): "
            "name one after the locustfile (locust -f FILE CLASS) or pick one in the web UI, or give "
            "the classes weights in the locustfile instead"
        )
    (base,) = bases
    if not issubclass(base, ChatbotUser):
        raise ConfigurationError(
            f"--user-profile makes its classes from a ChatbotUser; {base.__name__} is not one"
        )
    return [profile_class(base, profile) for profile in profiles]


def apply_profiles(environment: Environment) -> None:
    """Set the run's user classes to :func:`profiled_classes` of its WebSocket classes (others kept),
    unless a test is running (the next test's start applies them).

    Raises:
        ConfigurationError: as :func:`profiled_classes`.
    """
    runner = environment.runner
    if (
        runner is not None
        and not isinstance(runner, WorkerRunner)
        and runner.state in (STATE_RUNNING, STATE_SPAWNING)
    ):
        return
    classes = environment.user_classes
    others = [cls for cls in classes if not issubclass(cls, WebSocketUser)]
    websocket = [cls for cls in classes if issubclass(cls, WebSocketUser)]
    if websocket:
        environment.user_classes = [*others, *profiled_classes(environment, websocket)]


def follow_profiles_on_workers(environment: Environment) -> None:
    """On a worker, make the master's profile classes at each test's start, before it spawns."""
    if not isinstance(environment.runner, WorkerRunner):
        return

    def on_test_start(**_: Any) -> None:
        try:
            apply_profiles(environment)
        except WsLocustError as error:  # the master checked the same values: not expected
            _log.error("%s", error)

    environment.events.test_start.add_listener(on_test_start)


def by_profile_section(environment: Environment, stats: ChatStats, duration_s: float) -> dict[str, Any]:
    """The summary's ``by_profile`` section (with profiles): each profile's settings and the figures
    of its requests (those named ``PROFILE/...``), in the order the profiles were given."""
    profiles = [cls for cls in environment.user_classes if issubclass(cls, ProfiledUser)]
    if not profiles:
        return {}
    section: dict[str, Any] = {}
    for profile in profiles:
        merged = ReplyStats()
        prefix = profile.profile_name() + PROFILE_SEPARATOR
        for name, reply_stats in stats.by_name.items():
            if name.startswith(prefix):
                merged.merge(reply_stats)
        section[profile.profile_name()] = {**profile.profile_settings(), **reply_section(merged, duration_s)}
    return {"by_profile": section}
