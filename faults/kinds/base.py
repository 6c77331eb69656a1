"""What every fault kind is: plan checks, targeting, and a start that always has its heal.

A kind is a small class (Jepsen's nemesis shape): class methods validate and resolve plan
entries (pure, no cluster needed); an instance, bound to a running cluster, injects and
recovers. The bookkeeping lives here, once: a second start of an active fault is refused, a
heal with nothing to heal says so, and a fault whose start failed half-way stays active so the
final heal still undoes whatever part of it took effect.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .. import targets
from ..backends.control import each_node
from ..types import FaultSpec, PlanError, Resolved, Step

if TYPE_CHECKING:
    from ..backends import ClusterContext

NOTHING_TO_HEAL = "nothing to heal"


class FaultStateError(RuntimeError):
    """A start or heal that does not fit the fault's current state (e.g. a second start)."""


class FaultKind:
    """Base for fault kinds. Subclasses set the class attributes and implement inject/recover."""

    name: ClassVar[str] = ""
    takes_down: ClassVar[bool] = False
    """Its nodes count as down for the majority guard (crash, stop, pause)."""
    instant: ClassVar[bool] = False
    """A single step with no duration and nothing to heal afterwards (heal)."""
    exclusive: ClassVar[bool] = False
    """Never overlaps another fault of the same kind, whatever the nodes (partition)."""
    options: ClassVar[frozenset[str]] = frozenset()
    """Plan fields this kind accepts beyond the common ones."""
    default_target: ClassVar[str | None] = "one"
    selectors: ClassVar[tuple[str, ...]] = targets.SELECTORS
    """Which of one/each/minority/all a target may be (node names are always allowed)."""

    # -- plan side (pure) ----------------------------------------------------------------
    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        """Check the kind-specific fields; raise PlanError naming the field."""
        spec = fault.target
        if isinstance(spec, str) and spec in targets.SELECTORS and spec not in cls.selectors:
            allowed = ", ".join(cls.selectors) or "none"
            raise PlanError(
                f'{fault.where}.target: "{spec}" is not allowed for {cls.name} '
                f"(selectors allowed: {allowed}, or node names)"
            )

    @classmethod
    def named_nodes(cls, fault: FaultSpec) -> list[tuple[str, str]]:
        """(field, node name) for every node the plan names, checked against the cluster."""
        spec = fault.target
        if spec is None or isinstance(spec, str) and spec in targets.SELECTORS:
            return []
        names = [spec] if isinstance(spec, str) else list(spec)
        return [(f"{fault.where}.target", n) for n in names]

    @classmethod
    def resolve(cls, fault: FaultSpec, nodes: Sequence[str], rng: random.Random) -> list[Resolved]:
        """The concrete applications of this fault, in order (several for target = "each")."""
        groups = targets.select(fault.target or "all", nodes, rng)
        return [Resolved(targets.label(g), tuple(g), cls.params(fault)) for g in groups]

    @classmethod
    def params(cls, fault: FaultSpec) -> dict[str, Any]:
        return dict(fault.options)

    @classmethod
    def down(cls, step: Resolved | Step, nodes: Sequence[str]) -> set[str]:
        """Nodes this fault takes away from the majority while it is active."""
        return set(step.nodes) if cls.takes_down else set()

    # -- run side ------------------------------------------------------------------------
    def __init__(self, ctx: ClusterContext) -> None:
        self.ctx = ctx
        self.active: dict[str, Step] = {}

    def start(self, step: Step) -> dict[str, Any]:
        """Inject the fault; refused if the same fault instance is already active."""
        if self.instant:
            return self.inject(step)
        if step.key in self.active:
            raise FaultStateError(f"{step.key} is already active; heal it first")
        self.active[step.key] = step
        return self.inject(step)

    def heal(self, step: Step) -> dict[str, Any]:
        """Undo the fault started as ``step.key``; says so when there is nothing to heal."""
        started = self.active.get(step.key)
        if started is None:
            return {"note": NOTHING_TO_HEAL}
        detail = self.recover(started)
        del self.active[step.key]
        return detail

    def inject(self, step: Step) -> dict[str, Any]:
        raise NotImplementedError

    def control_each(self, step: Step, action: str) -> dict[str, Any]:
        """The control API's ``action`` (kill, start, pause, ...) on every node of the step."""
        return {"nodes": each_node(step.nodes, lambda n: self.ctx.control.node_action(n, action))}

    def recover(self, step: Step) -> dict[str, Any]:
        raise NotImplementedError
