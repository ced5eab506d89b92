"""The load shapes' wiring into Locust: their options on the parser and in the web UI, the shape run.

:func:`add_shape_arguments` adds the options of :data:`~wslocust.load.shapes.options.SHAPE_OPTIONS`
(through the plugin's one :func:`~wslocust.plugin.options.add_option`); the web UI's form shows those
of the installed shape only. :func:`install_shape`, called from the ``init`` listener, hands Locust
the shape chosen by ``--shape`` (every shape with ``--class-picker``), and, when a test stops, closes
the running shape's open step and writes its ``PREFIX_steps.csv``. :func:`connect_steps` feeds the
running shape's steps with the recorder's seconds of replies, and puts them in the JSON summary.
"""

from __future__ import annotations

from locust.env import Environment
from locust.runners import WorkerRunner

import argparse
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from ..load.shapes import SHAPES, ConfigurableShape, RecordingShape, shape_from_options, write_steps_csv
from ..load.shapes.options import SHAPE_OPTIONS
from ..stats.aggregates import ReplyStats
from .recording import Recording

__all__ = ["add_shape_arguments", "connect_steps", "install_shape"]

logger = logging.getLogger("wslocust.load.shapes")


class _WebUi:
    """Which shape's options the web UI shows: those of the installed shape (``"*"``: every shape's, when
    ``--class-picker`` offers them all), none before one is installed."""

    shape: str | None = None


def add_shape_arguments(parser_group: Any) -> None:
    """Registers the shape options on a Locust argument parser or one of its argument groups.

    Call it from an ``init_command_line_parser`` listener. Every option defaults to ``None``, meaning the
    shape class's own default. The options of the installed shape (see :func:`install_shape`) are shown
    in the web UI's form and re-read at each start; ``--shape`` itself is command-line only.

    Args:
        parser_group: ``parser`` or ``parser.add_argument_group(...)``.
    """
    from .options import add_option  # here: wslocust.plugin.options imports this module

    add_option(
        parser_group,
        "--shape",
        choices=["none", *SHAPES],
        default="none",
        include_in_web_ui=False,
        help="Load shape to run instead of a fixed --users count (default none). See docs/shapes.md",
    )
    for option in SHAPE_OPTIONS:
        add_option(
            parser_group,
            option.flag,
            type=option.convert,
            metavar=option.metavar,
            default=None,
            include_in_web_ui=_WebUi.shape == "*" or _WebUi.shape in option.shapes,
            help=option.help_text(),
        )


def install_shape(environment: Environment, *, write_csv: bool = True) -> ConfigurableShape | None:
    """Makes Locust run the shape chosen by ``--shape``; call it from an ``init`` event listener.

    It sets ``environment.shape_class`` (Locust reads it when the headless run or the web UI's start button
    starts the test), attaches the runner to the shape (Locust does that only for a shape known when the
    runner is created), lists the shape in ``environment.available_shape_classes``; with ``--class-picker``
    it lists every shape there, built from the options, so the web UI can pick any. When a test stops,
    the running shape closes its open step and, with ``write_csv`` and ``--csv PREFIX``, a step or stress
    shape writes ``PREFIX_steps.csv``. It does nothing on workers: the shape runs on the master.

    Args:
        environment: The Locust environment, with ``parsed_options`` set.
        write_csv: Write the step results next to Locust's CSV files.

    Returns:
        The installed shape, or ``None`` (``--shape none``, a worker, or no parsed options).

    Raises:
        ValueError: A shape option is bad.
    """
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return None
    shape = shape_from_options(options)
    offered = (
        _offer_every_shape(environment, options, shape) if getattr(options, "class_picker", False) else 0
    )
    if shape is None and not offered:
        return None
    _stop_hooks(environment, options, write_csv)
    if shape is None:
        return None
    if environment.shape_class is not None:
        logger.warning(
            "wslocust: --shape %s replaces the locustfile's shape %s",
            shape.shape_name,
            type(environment.shape_class).__name__,
        )
    common = {"--users": "num_users", "--spawn-rate": "spawn_rate", "--run-time": "run_time"}
    ignored = [flag for flag, dest in common.items() if getattr(options, dest, None)]
    if ignored:
        logger.warning(
            "wslocust: %s ignored with --shape %s; the shape sets users, spawn rate and duration",
            ", ".join(ignored),
            shape.shape_name,
        )
    if environment.runner is not None:
        shape.runner = environment.runner
    environment.shape_class = shape
    if environment.available_shape_classes is None:
        environment.available_shape_classes = {}
    environment.available_shape_classes[type(shape).__name__] = shape
    if _WebUi.shape != "*":
        _WebUi.shape = shape.shape_name
    logger.info("wslocust: load shape %r", shape)
    return shape


def _offer_every_shape(
    environment: Environment, options: argparse.Namespace, chosen: ConfigurableShape | None
) -> int:
    """List every shape for the web UI's class picker; return how many were listed."""
    if environment.available_shape_classes is None:
        environment.available_shape_classes = {}
    offered = 0
    for name, shape_class in SHAPES.items():
        if chosen is not None and chosen.shape_name == name:
            shape: ConfigurableShape = chosen
        else:
            try:
                shape = shape_class.from_options(options)
            except ValueError as error:  # e.g. stages without --stages: not offered
                logger.info("wslocust: shape %s not offered in the class picker: %s", name, error)
                continue
        environment.available_shape_classes[type(shape).__name__] = shape
        offered += 1
    _WebUi.shape = "*"
    return offered


def _stop_hooks(environment: Environment, options: argparse.Namespace, write_csv: bool) -> None:
    """When a test stops, the running shape (whichever was picked) closes its step and writes its CSV."""

    def on_test_stopping(**_kwargs: object) -> None:
        shape = environment.shape_class
        if isinstance(shape, ConfigurableShape):
            shape.finish()

    def on_test_stop(**_kwargs: object) -> None:
        shape = environment.shape_class
        prefix = getattr(options, "csv_prefix", None)
        if write_csv and prefix and isinstance(shape, RecordingShape):
            path = write_steps_csv(prefix, shape.step_results)
            logger.info("wslocust: step results written to %s", path)

    environment.events.test_stopping.add_listener(on_test_stopping)
    environment.events.test_stop.add_listener(on_test_stop)


def connect_steps(environment: Environment, recorder: Recording) -> None:
    """Feeds the running shape's steps from the recorder's exact statistics, and reports them.

    The running shape is the one Locust runs (``--shape``, the one picked in the web UI, or the
    locustfile's). Each second of replies the recorder takes as finished is merged into the step it
    belongs to; a step that closes also counts the seconds still being gathered (on a master, the
    workers' reports still to come), so it is judged on what has arrived, and is computed again as its
    late seconds come in. When the recorder closes a test's books (every second in), the JSON summary
    gets the ``steps`` section and, with ``--csv``, ``PREFIX_steps.csv`` is written again with them.
    A statistics reset (the web UI's button, ``--reset-stats``) makes the open step count anew.

    Args:
        environment: The Locust environment.
        recorder: The process's recorder (on the master or the single process).
    """

    def running() -> RecordingShape | None:
        shape = environment.shape_class
        return shape if isinstance(shape, RecordingShape) else None

    def pending() -> Iterator[tuple[int, Iterable[ReplyStats]]]:
        for second, names in list(recorder.stats.seconds.items()):
            yield second, list(names.values())

    def on_seconds(seconds: list[tuple[int, dict[str, ReplyStats]]]) -> None:
        shape = running()
        if shape is not None:
            shape.recorder.pending = pending
            for second, names in seconds:
                shape.recorder.add_second(second, names.values())

    def on_test_start(**_: object) -> None:
        shape = running()
        if shape is not None:
            shape.recorder.pending = pending

    def on_reset(**_: object) -> None:
        shape = running()
        if shape is not None:
            shape.recorder.forget_open_step()

    def steps_section() -> dict[str, Any]:
        shape = running()
        if shape is None:
            return {}
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if prefix:
            write_steps_csv(prefix, shape.step_results)
        return {"steps": shape.summary()}

    recorder.second_listeners.append(on_seconds)
    recorder.summary_extras.append(steps_section)
    events = environment.events
    events.test_start.add_listener(on_test_start)
    events.reset_stats.add_listener(on_reset)
    if getattr(environment.parsed_options, "reset_stats", False):  # Locust's reset once users are spawned
        events.spawning_complete.add_listener(on_reset)
