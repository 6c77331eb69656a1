"""pause: SIGSTOP through the control API, a frozen process that only shows as silence."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import PROCESS, FaultKind, Manual


class Pause(FaultKind):
    name = "pause"
    summary = "SIGSTOP through the control API (a frozen node: only silence shows it)"
    takes_down = True
    acts_on = PROCESS
    heals_by = "resume (SIGCONT)"
    manual = Manual("pause", "resume")

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "pause")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "resume")
