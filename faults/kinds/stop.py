"""stop: SIGTERM (a clean shutdown) through the control API; heal starts the node again."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import FaultKind


class Stop(FaultKind):
    name = "stop"
    takes_down = True

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "stop")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "start")
