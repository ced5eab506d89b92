"""The capacity shape's wiring: each level's rate to every process, the generator's probes, its outputs.

Over rates, a level's arrival rate reaches the users through the plugin state's
``arrival_rate_per_s``: set directly in a single process, sent to every worker (message
``wslocust_rate``) by a master. The shape reads the open model's send counts (merged from the
workers' reports on a master) and the load generators' CPU; a master holds each level's load one
report interval past its window so the window's last seconds are in before it is judged. The
summary gets the ``capacity`` section, ``--csv`` the ``PREFIX_capacity.csv`` file, and a headless
run's closing table the verdict (:func:`~wslocust.outputs.capacity_table.format_capacity`).
"""

from __future__ import annotations

from locust.env import Environment
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner, WorkerRunner

import logging
from typing import Any

from ..load.capacity_report import write_capacity_csv, write_capacity_json
from ..load.shapes.capacity import CapacityShape
from ..plugin_state import PluginState
from .recording import Recording

__all__ = ["RATE_MESSAGE", "connect_capacity"]

_log = logging.getLogger("wslocust")

RATE_MESSAGE = "wslocust_rate"


def connect_capacity(environment: Environment, recording: Recording, state: PluginState) -> None:
    """Wire the running capacity shape (if any) to the processes, the probes and the outputs."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):

        def take_rate(environment: Environment, msg: Any, **_: Any) -> None:
            state.arrival_rate_per_s = float(msg.data["rate"])

        runner.register_message(RATE_MESSAGE, take_rate)
        return

    def running() -> CapacityShape | None:
        shape = environment.shape_class
        return shape if isinstance(shape, CapacityShape) else None

    def set_rate(rate: float) -> None:
        state.arrival_rate_per_s = rate
        if isinstance(runner, MasterRunner):
            for client in runner.clients.all:
                runner.send_message(RATE_MESSAGE, {"rate": rate}, client.id)

    def sends() -> tuple[int, int]:
        return state.arrival_stats.scheduled, state.arrival_stats.late

    def cpu() -> float:
        if isinstance(runner, MasterRunner):
            return float(max((client.cpu_usage for client in runner.clients.all), default=0))
        return float(runner.current_cpu_usage) if runner is not None else 0.0

    def on_test_start(**_: Any) -> None:
        shape = running()
        if shape is None:
            return
        shape.rate_listener, shape.sends, shape.cpu = set_rate, sends, cpu
        if isinstance(runner, MasterRunner):
            shape.report_lag = WORKER_REPORT_INTERVAL + 0.5

    def write_csv() -> None:
        shape = running()
        prefix = getattr(environment.parsed_options, "csv_prefix", None)
        if shape is not None and prefix and shape.levels:
            path = write_capacity_csv(prefix, shape.levels)
            write_capacity_json(prefix, shape.capacity_section())
            _log.info("wslocust: capacity levels written to %s (and .json)", path)

    def capacity_section() -> dict[str, Any]:
        shape = running()
        if shape is None:
            return {}
        write_csv()
        return {"capacity": shape.capacity_section()}

    on_test_start()  # the first tick comes before test_start
    environment.events.test_start.add_listener(on_test_start)
    environment.events.test_stop.add_listener(lambda **_: write_csv())
    recording.summary_extras.append(capacity_section)
