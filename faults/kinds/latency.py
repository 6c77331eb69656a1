"""latency: a delay on every peer message the target sends, set in the node (no tc netem here)."""

from __future__ import annotations

from typing import Any

from proto.admin import MAX_LATENCY_MS  # the node's admin API limit, defined once

from ..types import FaultSpec, PlanError, Step
from .base import NETWORK, FaultKind


class Latency(FaultKind):
    name = "latency"
    summary = "delays every peer message the target sends (in the node: no tc netem here)"
    acts_on = NETWORK
    heals_by = "ms = 0"
    params = {"ms": f"the delay in milliseconds, 1..{MAX_LATENCY_MS}"}

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        if "ms" not in fault.options:
            raise PlanError(f"{fault.where}.ms: missing (the delay in milliseconds)")
        ms = fault.options["ms"]
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= MAX_LATENCY_MS:
            raise PlanError(
                f"{fault.where}.ms: expected a whole number of milliseconds, 1..{MAX_LATENCY_MS}"
                f" (got {ms!r})"
            )

    @classmethod
    def needs_admin_api(cls, backend: str) -> bool:
        """Set in the node, whatever the backend (no tc netem here)."""
        return True

    def inject(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.slow(step.key, step.nodes, step.params["ms"])

    def recover(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.fast(step.key, step.nodes)
