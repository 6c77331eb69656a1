"""stop: SIGTERM (a clean shutdown) through the control API; heal starts the node again."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import PROCESS, FaultKind, Manual


class Stop(FaultKind):
    name = "stop"
    summary = "SIGTERM through the control API (the node drains)"
    takes_down = True
    acts_on = PROCESS
    heals_by = "restart on the same ports and data dir"
    manual = Manual("stop", "restart")

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "stop")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "start")
