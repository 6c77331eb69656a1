"""The runner's hooks: how the load test, the monitor and the CLI learn what the faults do.

Modelled on Locust's events (without importing Locust, which monkey-patches on import): each
hook is declared once with its parameters documented, fired with keyword arguments only, and a
listener that raises is logged and skipped; it never stops the fault run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("faults")
HOOKS = ("step_started", "step_finished", "fault_started", "fault_healed", "run_finished")


class EventHook:
    """A list of listeners called in order with the event's keyword arguments."""

    def __init__(self, name: str = "event") -> None:
        self.name = name
        self._listeners: list[Callable[..., Any]] = []

    def add_listener(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``listener``; returns it so this also works as a decorator."""
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Callable[..., Any]) -> None:
        self._listeners.remove(listener)

    def fire(self, **kwargs: Any) -> None:
        for listener in list(self._listeners):
            try:
                listener(**kwargs)
            except Exception:
                log.exception("listener %r of %s failed (ignored)", listener, self.name)


class Events:
    """The runner's hooks. Listeners take keyword arguments and should accept ``**kwargs``."""

    step_started: EventHook
    """Before a step acts. ``step`` (faults.types.Step), ``record`` (the journal's begin line)."""

    step_finished: EventHook
    """After every step. ``step``, ``record`` (the journal line: outcome, error, detail...)."""

    fault_started: EventHook
    """After a fault's start step, whatever its outcome (check ``record["outcome"]``).
    ``step``, ``record``. The window of the fault opens at ``record["wall"]``."""

    fault_healed: EventHook
    """After a fault's end step: on schedule, by a heal fault, or in the final heal (then
    ``record["detail"]["reason"]`` says which). ``step``, ``record``."""

    run_finished: EventHook
    """Once, after the final heal. ``result`` (faults.runner.RunResult)."""

    def __init__(self) -> None:
        for name in HOOKS:
            setattr(self, name, EventHook(name))
