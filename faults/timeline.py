"""Resolve a plan against a cluster's nodes into a concrete, sorted list of steps.

Every random draw comes from the seed: each fault draws from its own ``Random(f"{seed}:{id}")``
so adding a fault to a plan does not change the draws of the others. The guard runs here, on
the resolved steps: no two faults on one node at once, one partition at a time, and a strict
majority of nodes up at every instant unless the plan says ``allow_majority = true``.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import targets
from .kinds import REGISTRY
from .types import END, START, Plan, PlanError, Step

SEED_BITS = 32


@dataclass(frozen=True)
class Timeline:
    """A plan with every draw made: what happens when, to whom. Replayable from ``seed``."""

    seed: int
    nodes: tuple[str, ...]
    backend: str
    steps: tuple[Step, ...]
    source: str = "<plan>"

    @property
    def end_s(self) -> float:
        return max((s.offset_s for s in self.steps), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "seed": self.seed,
            "nodes": list(self.nodes),
            "backend": self.backend,
            "steps": [s.to_dict() for s in self.steps],
        }

    def format(self) -> str:
        """A human-readable table of the steps (what ``--dry-run`` prints)."""
        head = (
            f"{self.source}: seed {self.seed}, {len(self.nodes)} nodes ({brief(self.nodes)}),"
            f" backend {self.backend}, {len(self.steps)} steps, ends at {self.end_s:.1f}s"
        )
        rows = [f"{'offset':>9}  {'phase':<5}  {'fault':<16} {'kind':<9}  {'target':<10} params"]
        for s in self.steps:
            rows.append(
                f"{s.offset_s:>8.1f}s  {s.phase:<5}  {s.fault_id:<16} {s.kind:<9}  "
                f"{brief(s.target.split('+'), '+'):<10} {format_params(s.params)}".rstrip()
            )
        return "\n".join([head, *rows])


#: Names shown of a long group of nodes in a timeline (a 10 % target of 200 nodes is 20).
BRIEF_NAMES = 8


def brief(names: Sequence[str], sep: str = ", ") -> str:
    """``names`` joined, the first few of a long list then how many there are in all."""
    if len(names) <= BRIEF_NAMES:
        return sep.join(names)
    return f"{sep.join(names[:BRIEF_NAMES])}{sep}… ({len(names)} nodes)"


def format_params(params: dict[str, Any] | Any) -> str:
    parts = []
    for key, value in params.items():
        if key == "grudge" and len(value) > BRIEF_NAMES:
            cut = {b for drops in value.values() for b in drops}
            value = f"{len(value)} nodes x {len(cut)} nodes"
        elif key == "grudge":
            value = "; ".join(f"{a} x {','.join(b)}" for a, b in value.items())
        parts.append(f"{key}={value}")
    return " ".join(parts)


def validate_against(plan: Plan, nodes: Sequence[str]) -> None:
    """Check every node name the plan uses against the cluster's; PlanError otherwise."""
    if not nodes:
        raise PlanError("cluster: no nodes")
    if len(set(nodes)) != len(nodes):
        raise PlanError(f"cluster: duplicate node names in {list(nodes)}")
    for fault in plan.faults:
        for where, name in REGISTRY[fault.kind].named_nodes(fault):
            if name not in nodes:
                raise PlanError(f'{where}: unknown node "{name}" (cluster has {", ".join(nodes)})')


def resolve(
    plan: Plan,
    nodes: Sequence[str],
    *,
    seed: int | None = None,
    layout: targets.Layout = targets.FULL_MESH,
) -> Timeline:
    """Validate against ``nodes``, make every draw from the seed (targets that need the links
    or roles read ``layout``), check the guard, sort."""
    nodes = tuple(nodes)
    validate_against(plan, nodes)
    if seed is None:
        seed = plan.seed if plan.seed is not None else secrets.randbits(SEED_BITS)
    steps: list[Step] = []
    for fault in plan.faults:
        kind = REGISTRY[fault.kind]
        offset = fault.at
        for r in kind.resolve(fault, nodes, random.Random(f"{seed}:{fault.id}"), layout):
            common = dict(
                fault_id=r.fault_id or fault.id,
                kind=fault.kind,
                target=r.target,
                nodes=r.nodes,
                params=r.params,
                index=fault.index,
            )
            start = offset if r.at is None else fault.at + r.at
            steps.append(Step(offset_s=start, phase=START, **common))
            if not kind.instant:
                lasts = fault.duration if r.duration is None else r.duration
                steps.append(Step(offset_s=start + lasts, phase=END, **common))
                if r.at is None:
                    offset += fault.duration + fault.gap
    # At one instant, heals go before starts: gap = 0 hands a node from one fault to the next.
    steps.sort(key=lambda s: (s.offset_s, s.phase == START, s.index))
    check_guard(plan, steps, nodes)
    return Timeline(seed, nodes, plan.backend, tuple(steps), plan.source)


def check_guard(plan: Plan, steps: Sequence[Step], nodes: Sequence[str]) -> None:
    """Refuse overlapping faults on one node, two partitions at once, and a lost majority."""
    faults = {f.index: f for f in plan.faults}
    active: dict[str, Step] = {}
    for step in steps:
        if step.phase == END:
            active.pop(step.key, None)
            continue
        kind = REGISTRY[step.kind]
        if kind.instant:
            continue
        where = f"fault[{step.index}]"
        for other in active.values():
            shared = sorted(set(step.nodes) & set(other.nodes))
            clash = shared or (kind.exclusive and other.kind == step.kind)
            if clash:
                on = f"on {', '.join(shared)}" if shared else f"(one {step.kind} at a time)"
                raise PlanError(
                    f'{where}.at: "{step.fault_id}" overlaps "{other.fault_id}" '
                    f"(fault[{other.index}]) {on} at {step.offset_s:g}s"
                )
        active[step.key] = step
        down: set[str] = set()
        for s in active.values():
            down |= REGISTRY[s.kind].down(s, nodes)
        up = len(nodes) - len(down)
        allowed = plan.allow_majority or any(
            faults[s.index].allow_majority for s in active.values()
        )
        if 2 * up <= len(nodes) and not allowed:
            others = sorted({f'"{s.fault_id}"' for s in active.values()} - {f'"{step.fault_id}"'})
            together = f" together with {', '.join(others)}" if others else ""
            raise PlanError(
                f"{where}.target: at {step.offset_s:g}s{together} it would take down "
                f"{', '.join(sorted(down))} ({len(down)} of {len(nodes)} nodes); a majority must "
                f"stay up (set allow_majority = true to allow this)"
            )
