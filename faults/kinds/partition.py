"""partition: nodes that cannot reach each other, cut by the network backend.

Shapes: ``isolate-one`` (the target, default one drawn node, cut off from the rest), ``halves``
(a drawn smaller half against the rest), ``bridge`` (the two halves of the topology joined by the
fewest links, cut from each other: where a real network splits) and ``grudge`` (an explicit map:
node -> peers it cannot reach, both directions). Only one partition is active at a time: they
would replace each other.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from .. import targets
from ..backends.control import ControlNetwork
from ..types import FaultSpec, PlanError, Resolved, Step
from .base import NETWORK, FaultKind, Manual

HALVES, BRIDGE = "halves", "bridge"
SHAPES = ("isolate-one", HALVES, BRIDGE, "grudge")
MANUAL_SHAPE = "isolate-one"


class Cut:
    """How a kind that cuts links (a partition, one link) applies its ``grudge`` param: the
    network backend cuts and restores exactly those links; with the control backend the nodes
    drop each other themselves (the admin API), netns needs no node."""

    @classmethod
    def needs_admin_api(cls, backend: str, descriptor: Mapping[str, Any] | None = None) -> bool:
        return backend == ControlNetwork.name

    def inject(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.partition(step.key, step.params["grudge"])

    def recover(self, step: Step) -> dict[str, Any]:
        return self.ctx.network.heal_partition(step.key, step.params["grudge"])


class Partition(Cut, FaultKind):
    name = "partition"
    summary = "cuts links between node groups, both directions"
    takes_down = True  # the cut-off side (see ``down``: everything outside the largest group)
    acts_on = NETWORK
    heals_by = "restoring the links"
    manual = Manual("isolate", "heal")
    exclusive = True
    params = {
        "shape": f"one of {', '.join(SHAPES)} (default isolate-one)",
        "grudge": 'with shape = "grudge": node -> peers it cannot reach, e.g. {n1 = ["n2"]}',
    }
    default_target = None
    selectors = ("one", "each", targets.ULTRAPEER)

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        super().validate(fault)
        shape = fault.options.get("shape", "isolate-one")
        if shape not in SHAPES:
            raise PlanError(
                f"{fault.where}.shape: unknown shape {shape!r} (one of {', '.join(SHAPES)})"
            )
        if shape != "isolate-one" and fault.target is not None:
            raise PlanError(f"{fault.where}.target: shape {shape} takes no target")
        if shape != "grudge":
            if "grudge" in fault.options:
                raise PlanError(f'{fault.where}.grudge: only with shape = "grudge"')
            return
        grudge = fault.options.get("grudge")
        if not isinstance(grudge, Mapping) or not grudge:
            raise PlanError(f'{fault.where}.grudge: expected a table like {{n1 = ["n2"]}}')
        for node, drops in grudge.items():
            where = f"{fault.where}.grudge.{node}"
            if not isinstance(drops, list) or not all(isinstance(d, str) and d for d in drops):
                raise PlanError(f"{where}: expected a list of node names")
            if node in drops:
                raise PlanError(f"{where}: a node cannot be partitioned from itself")

    @classmethod
    def manual_params(cls, target: str, nodes: Sequence[str]) -> dict[str, Any]:
        """The button isolates its node from all the others."""
        return {"shape": MANUAL_SHAPE, "grudge": targets.isolate(target, nodes)}

    @classmethod
    def named_nodes(cls, fault: FaultSpec) -> list[tuple[str, str]]:
        grudge = fault.options.get("grudge", {})
        named = [(f"{fault.where}.grudge", n) for n in grudge]
        named += [(f"{fault.where}.grudge.{n}", d) for n, drops in grudge.items() for d in drops]
        return super().named_nodes(fault) + named

    @classmethod
    def resolve(
        cls,
        fault: FaultSpec,
        nodes: Sequence[str],
        rng: random.Random,
        layout: targets.Layout = targets.FULL_MESH,
    ) -> list[Resolved]:
        shape = fault.options.get("shape", "isolate-one")
        if len(nodes) < 2:
            raise PlanError(f"{fault.where}.kind: a partition needs at least two nodes")
        if shape in (HALVES, BRIDGE):
            split = targets.halves if shape == HALVES else partial(targets.bridge, layout)
            small, large = split(nodes, rng)
            return [cls.cut(shape, small, targets.split(small, large))]
        if shape == "grudge":
            grudge = {n: list(d) for n, d in fault.options["grudge"].items()}
            return [cls.cut(shape, list(grudge), grudge)]
        groups = cls.groups(fault, fault.target or "one", nodes, rng, layout)
        rest = [[n for n in nodes if n not in g] for g in groups]
        return [cls.cut(shape, g, targets.split(g, r)) for g, r in zip(groups, rest, strict=True)]

    @staticmethod
    def cut(shape: str, side: list[str], grudge: targets.Grudge) -> Resolved:
        return Resolved(targets.label(side), tuple(side), {"shape": shape, "grudge": grudge})

    @classmethod
    def down(cls, step: Resolved | Step, nodes: Sequence[str]) -> set[str]:
        return targets.cut_off(nodes, step.params["grudge"])
