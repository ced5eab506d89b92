"""The stages of a :class:`~wslocust.load.shapes.simple.StagesShape` and their compact syntax."""

from __future__ import annotations

from typing import NamedTuple

from ...values import DURATION_FORMS, seconds

__all__ = ["Stage", "parse_stages"]


class Stage(NamedTuple):
    """One stage of a :class:`StagesShape`: move linearly to ``users`` over ``duration`` seconds."""

    duration: float
    """Length of the stage in seconds; 0 makes an instant jump to ``users``."""
    users: int
    """User count reached at the end of the stage."""


def parse_stages(text: str) -> tuple[int | None, list[Stage]]:
    """Parses the compact stages syntax of ``--stages``.

    The syntax is comma-separated ``DURATION:USERS`` stages, optionally preceded by ``START@`` to ramp from
    ``START`` users instead of 0. Durations take :func:`~wslocust.values.seconds`'s forms. Example:
    ``"1@2m:10,5m:50,5m:100,10m:100,3m:10"`` warms up from 1 to 10 users over 2 minutes, ramps to 50 and
    then 100 over 5 minutes each, holds 100 for 10 minutes and cools down to 10 over 3 minutes.

    Args:
        text: The stages string.

    Returns:
        ``(start_users, stages)``; ``start_users`` is ``None`` when there is no ``START@`` prefix.

    Raises:
        ValueError: The string is empty or malformed; the message names the bad token.
    """
    body = text.strip()
    if not body:
        raise ValueError("no stages given: expected DURATION:USERS[,DURATION:USERS...], e.g. '2m:10,5m:50'")
    start: int | None = None
    if "@" in body:
        prefix, _, body = body.partition("@")
        prefix = prefix.strip()
        if "@" in body:
            raise ValueError(f"more than one '@' in {text!r}: only the start may be given, as START@...")
        if not prefix.isdigit():
            raise ValueError(
                f"bad start {prefix!r} in {text!r}: expected a whole number of users before '@', "
                "e.g. '1@2m:10'"
            )
        start = int(prefix)
    stages: list[Stage] = []
    for nth, raw in enumerate(body.split(","), start=1):
        token = raw.strip()
        if not token:
            raise ValueError(f"stage {nth} is empty in {text!r} (a stray comma?)")
        duration_text, colon, users_text = token.partition(":")
        if not colon:
            raise ValueError(f"stage {nth} {token!r}: expected DURATION:USERS, e.g. '2m:10'")
        try:
            duration = seconds(duration_text, positive=False)
        except ValueError:
            raise ValueError(
                f"stage {nth} {token!r}: bad duration {duration_text.strip()!r} ({DURATION_FORMS})"
            ) from None
        users_text = users_text.strip()
        if not users_text.isdigit():
            raise ValueError(
                f"stage {nth} {token!r}: bad user count {users_text!r} (expected a whole number >= 0)"
            )
        stages.append(Stage(duration, int(users_text)))
    if sum(stage.duration for stage in stages) <= 0:
        raise ValueError(f"the stages in {text!r} last 0 s in total")
    return start, stages
