"""latency: a delay on every peer message the target sends, set in the node (no tc netem here)."""

from __future__ import annotations

from typing import Any

from proto.admin import MAX_LATENCY_MS  # the node's admin API limit, defined once

from ..types import FaultSpec, Step
from .base import NETWORK, FaultKind, whole_number


class Latency(FaultKind):
    name = "latency"
    summary = "delays every peer message the target sends (in the node: no tc netem here)"
    acts_on = NETWORK
    heals_by = "ms = 0"
    params = {"ms": f"the delay in milliseconds, 1..{MAX_LATENCY_MS}"}

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        whole_number(fault, "ms", 1, MAX_LATENCY_MS, "the delay in milliseconds", "milliseconds")

    @classmethod
    def needs_admin_api(cls, backend: str) -> bool:
        """Set in the node, whatever the backend (no tc netem here)."""
        return True

    def inject(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.slow(step.key, step.nodes, step.params["ms"])

    def recover(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.fast(step.key, step.nodes)
