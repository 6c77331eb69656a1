"""stop: SIGTERM (a clean shutdown) through the control API; heal starts the node again."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import FaultKind


class Stop(FaultKind):
    name = "stop"
    takes_down = True

    def inject(self, step: Step) -> dict[str, Any]:
        return {"nodes": [self.ctx.control.node_action(n, "stop") for n in step.nodes]}

    def recover(self, step: Step) -> dict[str, Any]:
        return {"nodes": [self.ctx.control.node_action(n, "start") for n in step.nodes]}
