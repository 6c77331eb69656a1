"""stress: a marker only. The cluster is left alone and the step is journaled, so a plan can
record when it expects stress; the Locust suite's stress ramp is set by its load shape
(``--stress-levels``), not by this marker."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from .. import targets
from ..types import FaultSpec, PlanError, Resolved, Step
from .base import FaultKind

MARKER_NOTE = "marker only: nothing is done to the cluster"


class Stress(FaultKind):
    name = "stress"
    summary = "a marker window for the load shape; the cluster is not touched"
    heals_by = "nothing to undo (a marker)"
    default_target = "all"
    selectors = ("all",)

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        if fault.target != "all":
            raise PlanError(f'{fault.where}.target: a stress window is cluster-wide: "all" only')

    @classmethod
    def resolve(
        cls,
        fault: FaultSpec,
        nodes: Sequence[str],
        rng: random.Random,
        layout: targets.Layout = targets.FULL_MESH,
    ) -> list[Resolved]:
        return [Resolved("all", (), {})]  # no node is touched, so it overlaps nothing

    def inject(self, step: Step) -> dict[str, Any]:
        return {"note": MARKER_NOTE}

    def recover(self, step: Step) -> dict[str, Any]:
        return {"note": MARKER_NOTE}
