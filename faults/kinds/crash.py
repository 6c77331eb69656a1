"""crash: SIGKILL through the control API; heal restarts it on the same ports and data dir."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import PROCESS, FaultKind, Manual


class Crash(FaultKind):
    name = "crash"
    summary = "SIGKILL through the control API"
    takes_down = True
    acts_on = PROCESS
    heals_by = "restart on the same ports and data dir"
    manual = Manual("crash", "restart")

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "kill")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "start")
