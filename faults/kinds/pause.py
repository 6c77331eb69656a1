"""pause: SIGSTOP through the control API, a frozen process that only shows as silence."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import FaultKind


class Pause(FaultKind):
    name = "pause"
    takes_down = True

    def inject(self, step: Step) -> dict[str, Any]:
        return {"nodes": [self.ctx.control.node_action(n, "pause") for n in step.nodes]}

    def recover(self, step: Step) -> dict[str, Any]:
        return {"nodes": [self.ctx.control.node_action(n, "resume") for n in step.nodes]}
