"""pause: SIGSTOP through the control API, a frozen process that only shows as silence."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import FaultKind


class Pause(FaultKind):
    name = "pause"
    takes_down = True

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "pause")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "resume")
