"""heal: at one instant, heal every active fault on the target nodes (default: all), then
clear any leftover partition, latency or loss there (e.g. from an earlier, interrupted run)."""

from __future__ import annotations

from typing import Any

from ..types import Step
from .base import FaultKind


class Heal(FaultKind):
    name = "heal"
    summary = "heals every active fault on its target now, then clears leftover drops/latency/loss"
    instant = True
    default_target = "all"
    selectors = ("all",)

    def inject(self, step: Step) -> dict[str, Any]:
        healed = self.ctx.heal_faults(step.nodes, by=step.fault_id)
        leftovers = self.ctx.network.reset(step.nodes)
        return {"healed": healed, "reset": leftovers}

    def recover(self, step: Step) -> dict[str, Any]:
        return {}
