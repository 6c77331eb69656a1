"""crash: SIGKILL through the control API; heal restarts it on the same ports and data dir."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import FaultKind


class Crash(FaultKind):
    name = "crash"
    takes_down = True

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "kill")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "start")
