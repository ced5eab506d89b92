"""User profiles: weighted kinds of users, each with its own think time and optionally its own prompts.

``--user-profile NAME:WEIGHT[:FIELDS]`` (repeatable), FIELDS a comma-separated list of:

- ``think=N`` or ``think=MIN-MAX``: seconds between the profile's prompts (else ``--think-time``, else
  the class's ``wait_time``);
- ``prompts=FILE``: the profile's own prompts (else the run's); it comes last and takes the rest of
  the text, so a path may hold ``,`` and ``:``.

Each profile becomes a Locust user class made from the locustfile's :class:`~wslocust.users.ChatbotUser`
class (a subclass: every other setting of the locustfile still applies), named after the profile and
weighted with the profile's weight, so Locust spawns ``active:0.2 regular:0.5 passive:0.3`` as two,
five and three users of ten. A profile's requests are named ``PROFILE/NAME`` (``active/billing``), so
every output that reads per request name (Locust's tables, the chatbot statistics, the CSV files, the
JSON summary's ``by_name``) reads per profile too; the JSON summary's ``by_profile`` sums them.
"""

from __future__ import annotations

from locust.env import Environment

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from .datasets import PromptRecord
from .errors import ConfigurationError
from .prompt_mix import Mix
from .settings import DatasetSettings
from .users import ChatbotUser
from .values import number, seconds_range

__all__ = [
    "PROFILE_SEPARATOR",
    "ProfiledUser",
    "UserProfile",
    "parse_user_profile",
    "parse_user_profiles",
    "profile_class",
    "profile_of_name",
]

PROFILE_SEPARATOR = "/"
"""Between a profile's name and a request's name: ``active/billing``."""

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FIELDS = ("think", "prompts")
_OPTION = "--user-profile"


@dataclass(frozen=True)
class UserProfile:
    """One profile of ``--user-profile``.

    Attributes:
        name: its name, the prefix of its requests' names (letters, digits, ``_``, ``.``, ``-``).
        weight: its share of the users, relative to the other profiles' (Locust's ``weight``).
        think_s: the bounds of its think time in seconds, or None for the run's.
        prompts: its own prompts file or folder, or None for the run's.
    """

    name: str
    weight: float
    think_s: tuple[float, float] | None = None
    prompts: str | None = None

    def describe(self) -> dict[str, Any]:
        """The profile's settings, for the JSON summary."""
        think = None if self.think_s is None else list(self.think_s)
        return {"weight": self.weight, "think_s": think, "prompts": self.prompts}


def parse_user_profile(text: str, option: str = _OPTION) -> UserProfile:
    """Parse ``NAME:WEIGHT[:think=MIN-MAX][,prompts=FILE]``.

    Raises:
        ConfigurationError: the name, weight or a field is wrong (names the profile and the culprit).
    """
    name, colon, rest = str(text).strip().partition(":")
    if not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"{option} {text!r}: give NAME:WEIGHT[:think=MIN-MAX][,prompts=FILE], NAME of letters, digits, "
            "_ . -"
        )
    if not colon:
        raise ConfigurationError(f"{option} {name}: the weight is missing (NAME:WEIGHT, e.g. {name}:0.5)")
    where = f"{option} {name}"
    weight_text, _, fields = rest.partition(":")
    weight = number(weight_text.strip(), f"{where}: the weight", positive=True, what="a number")
    think: tuple[float, float] | None = None
    prompts: str | None = None
    seen: set[str] = set()
    while fields.strip():
        if fields.lstrip().startswith("prompts="):
            key, value, fields = "prompts", fields.lstrip()[len("prompts=") :], ""
        else:
            field, _, fields = fields.partition(",")
            key, equals, value = field.strip().partition("=")
            if key not in _FIELDS or not equals:
                known = ", ".join(f"{known}=" for known in _FIELDS)
                raise ConfigurationError(f"{where}: unknown field {field.strip()!r} (fields: {known})")
        if key in seen:
            raise ConfigurationError(f"{where}: {key}= is given twice")
        seen.add(key)
        if key == "think":
            think = seconds_range(value.strip(), f"{where}: think")
        elif not value.strip():
            raise ConfigurationError(f"{where}: prompts= names no file")
        else:
            prompts = value
    return UserProfile(name, weight, think, prompts)


def parse_user_profiles(texts: Iterable[str], option: str = _OPTION) -> tuple[UserProfile, ...]:
    """Parse every ``--user-profile``, refusing a name given twice.

    Raises:
        ConfigurationError: a profile is wrong, or two share a name.
    """
    profiles: list[UserProfile] = []
    for text in texts:
        profile = parse_user_profile(text, option)
        if any(profile.name == other.name for other in profiles):
            raise ConfigurationError(f"{option} {profile.name}: two profiles have this name; name each once")
        profiles.append(profile)
    return tuple(profiles)


class ProfiledUser(ChatbotUser):
    """A profile's class: its think time, prompts and request names (``PROFILE/NAME``).

    A profile's own setting wins over the option (``--think-time``, ``--prompts``), which wins over the
    class attribute. In a locustfile, a subclass of it and of your ChatbotUser class is a profile named
    after the class, weighted with Locust's ``weight``, pacing with its ``wait_time`` and reading its
    ``prompts`` (or ``prompt_mix``)::

        class active(ProfiledUser, SupportBotUser):
            weight = 2
            wait_time = between(0.5, 1)
    """

    abstract = True

    profile: ClassVar[UserProfile | None] = None
    """The ``--user-profile`` this class stands for; None for a locustfile's class (named after it)."""

    profile_base: ClassVar[type[ChatbotUser] | None] = None
    """The class a ``--user-profile``'s class was made from; None for a locustfile's class."""

    @classmethod
    def profile_name(cls) -> str:
        """The profile's name: the ``--user-profile``'s, else the class's."""
        return cls.profile.name if cls.profile is not None else cls.__name__

    @classmethod
    def profile_settings(cls) -> dict[str, Any]:
        """The profile's settings, for the JSON summary (a locustfile's class: its weight)."""
        if cls.profile is not None:
            return cls.profile.describe()
        return {"weight": cls.weight, "think_s": None, "prompts": None}

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        prefix = self.profile_name() + PROFILE_SEPARATOR
        self._prefix = prefix
        self.client.default_name = prefix + self.client.default_name
        if self.request_name is not None:
            self.request_name = prefix + self.request_name

    @classmethod
    def think_time_s(cls, environment: Environment) -> tuple[float, float] | None:
        """The profile's think time, else the run's (see :meth:`WebSocketUser.think_time_s`)."""
        own = cls.profile.think_s if cls.profile is not None else None
        return own if own is not None else super().think_time_s(environment)

    @classmethod
    def dataset_settings(cls, environment: Environment) -> DatasetSettings:
        """The run's dataset settings, with the profile's prompts when it has its own."""
        settings = super().dataset_settings(environment)
        prompts = cls.profile.prompts if cls.profile is not None else None
        return settings if prompts is None else replace(settings, path=prompts)

    @classmethod
    def mix_settings(cls, environment: Environment) -> Mix | None:
        """The run's prompt mix, unless the profile has its own prompts."""
        own = cls.profile is not None and cls.profile.prompts is not None
        return None if own else super().mix_settings(environment)

    def next_record(self) -> PromptRecord:
        """The next record, its name prefixed with the profile's (when it has one)."""
        record = super().next_record()
        return record if record.name is None else replace(record, name=self._prefix + record.name)


_classes: dict[tuple[type[ChatbotUser], UserProfile], type[ProfiledUser]] = {}


def profile_class(base: type[ChatbotUser], profile: UserProfile) -> type[ProfiledUser]:
    """The user class of ``profile`` made from ``base`` (the same class for the same pair: a web UI
    run started twice, or a worker's next test, finds the classes its runner knows).

    The class is named after the profile and weighted with its weight (``fixed_count`` 0), with the
    base's tasks.
    """
    key = (base, profile)
    found = _classes.get(key)
    if found is None:
        namespace = {
            "__module__": base.__module__,
            "__qualname__": profile.name,
            "__doc__": f"Profile {profile.name!r} of {base.__name__}.",
            "abstract": False,
            "weight": profile.weight,
            "fixed_count": 0,
            "profile": profile,
            "profile_base": base,
        }
        bases = (base,) if issubclass(base, ProfiledUser) else (ProfiledUser, base)
        found = type(profile.name, bases, namespace)
        found.tasks = list(base.tasks)  # Locust gathers the tasks of both bases: keep the base's alone
        _classes[key] = found
    return found


def profile_of_name(request_name: str, profiles: Iterable[str]) -> str | None:
    """The profile a request name belongs to (``active/billing`` → ``active``), or None."""
    prefix, separator, _ = request_name.partition(PROFILE_SEPARATOR)
    return prefix if separator and prefix in profiles else None
