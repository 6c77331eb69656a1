"""stress: a marker window only. The load shape listens for it and ramps up; the cluster is
left alone, so a plan can say *when* the stress stage runs next to its faults."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from ..types import FaultSpec, PlanError, Resolved, Step
from .base import FaultKind

MARKER_NOTE = "marker only: the load shape ramps up, nothing is done to the cluster"


class Stress(FaultKind):
    name = "stress"
    default_target = "all"
    selectors = ("all",)

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        if fault.target != "all":
            raise PlanError(f'{fault.where}.target: a stress window is cluster-wide: "all" only')

    @classmethod
    def resolve(cls, fault: FaultSpec, nodes: Sequence[str], rng: random.Random) -> list[Resolved]:
        return [Resolved("all", (), {})]  # no node is touched, so it overlaps nothing

    def inject(self, step: Step) -> dict[str, Any]:
        return {"note": MARKER_NOTE}

    def recover(self, step: Step) -> dict[str, Any]:
        return {"note": MARKER_NOTE}
