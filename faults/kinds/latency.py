"""latency: a delay on every peer message the target sends, set in the node (no tc netem here)."""

from __future__ import annotations

from typing import Any

from ..types import FaultSpec, PlanError, Step
from .base import FaultKind

MAX_LATENCY_MS = 10_000  # the node's own limit (node/netfaults.py)


class Latency(FaultKind):
    name = "latency"
    options = frozenset({"ms"})

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        ms = fault.options.get("ms")
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= MAX_LATENCY_MS:
            raise PlanError(
                f"{fault.where}.ms: expected a whole number of milliseconds, 1..{MAX_LATENCY_MS}"
                f" (got {ms!r})"
            )

    def inject(self, step: Step) -> dict[str, Any]:
        ms = step.params["ms"]
        return {"nodes": {n: self.ctx.control.admin(n, "latency", {"ms": ms}) for n in step.nodes}}

    def recover(self, step: Step) -> dict[str, Any]:
        return {"nodes": {n: self.ctx.control.admin(n, "latency", {"ms": 0}) for n in step.nodes}}
