"""link: one link cut, both directions, where every node still reaches every other around it.

Two neighbours stop hearing each other (the partition's cut, for one pair: nftables in netns,
the nodes dropping each other's messages with the control backend), and nothing else changes:
every node stays reachable over the other links. No node is down, so none may be declared dead
(``keeps_reach``: reports/accuracy.py judges every view while it lasts): a failure detector
that trusts its own probe alone, as SWIM's indirect probes are there to prevent, accuses both
ends. Messages over the cut link are lost, so the answers of its two ends are not judged
(``loses_messages``).

The link is drawn from the topology among those whose loss leaves it connected (a full mesh:
any pair); a plan may name it instead: ``target = ["n1", "n2"]``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import networkx as nx

from .. import targets
from ..types import FaultSpec, PlanError, Resolved
from .base import NETWORK, FaultKind
from .partition import Cut

#: The shape its steps record (the partition's ``shape`` field), read by the fault stage.
SHAPE = "link"


class Link(Cut, FaultKind):
    name = "link"
    summary = "cuts one link between two neighbours, both directions; every node stays reachable"
    acts_on = NETWORK
    loses_messages = True
    keeps_reach = True
    heals_by = "restoring the link"
    default_target = None
    selectors = ()

    @classmethod
    def validate(cls, fault: FaultSpec) -> None:
        spec = fault.target
        if spec is None:
            return
        if isinstance(spec, str) or len(spec) != 2 or spec[0] == spec[1]:
            raise PlanError(
                f"{fault.where}.target: a link is two different nodes, e.g. "
                '["n1", "n2"] (or no target: one drawn)'
            )

    @classmethod
    def resolve(
        cls,
        fault: FaultSpec,
        nodes: Sequence[str],
        rng: random.Random,
        layout: targets.Layout = targets.FULL_MESH,
    ) -> list[Resolved]:
        if fault.target is not None:
            a, b = fault.target
        else:
            a, b = cls.draw(nodes, rng, layout, fault.where)
        grudge = {a: [b], b: [a]}
        return [Resolved(targets.label([a, b]), (a, b), {"shape": SHAPE, "grudge": grudge})]

    @staticmethod
    def draw(
        nodes: Sequence[str], rng: random.Random, layout: targets.Layout, where: str
    ) -> tuple[str, str]:
        """A link of the topology whose loss leaves every node reachable, in node order."""
        graph = layout.graph(nodes)
        bridges = {frozenset(e) for e in nx.bridges(graph)}
        order = {n: i for i, n in enumerate(nodes)}
        links = sorted(
            (tuple(sorted(e, key=order.__getitem__)) for e in graph.edges),
            key=lambda e: (order[e[0]], order[e[1]]),
        )
        spare = [e for e in links if frozenset(e) not in bridges]
        if not spare:
            raise PlanError(f"{where}.kind: no link of this topology can be cut without a split")
        return rng.choice(spare)
