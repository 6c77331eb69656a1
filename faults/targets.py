"""Who is hit, as pure functions: pick nodes, and say who cannot reach whom.

Targeting is kept apart from the mechanism that cuts a link (Jepsen's nemesis does the same), so
every draw is testable and replayable from the seed alone.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx

Grudge = dict[str, list[str]]
"""node -> the peers it drops (both directions, as the admin API applies it)."""

SELECTORS = ("one", "each", "minority", "all", "ultrapeer")
#: The selector that needs to know the network's roles: one ultrapeer of a two-tier topology.
ULTRAPEER = "ultrapeer"
#: A share of the nodes, ``"10%"``: at scale a plan names a fraction, not a count.
SHARE = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)%$")
#: The selector a share stands in for where a kind says which selectors it takes: a group.
SHARE_LIKE = "minority"


@dataclass(frozen=True)
class Layout:
    """What a plan knows of the network's links: the edges and, on a two-tier topology, the
    ultrapeers. Empty: not known (nodes given by URL, or a run before topologies), taken as a
    full mesh."""

    edges: tuple[tuple[str, str], ...] = ()
    ultrapeers: tuple[str, ...] = ()

    @classmethod
    def of(cls, topology: Mapping[str, Any] | None) -> Layout:
        """From a cluster descriptor's ``topology`` record (``{"edges", "ultrapeers"}``)."""
        if not topology:
            return cls()
        edges = tuple((str(a), str(b)) for a, b in topology.get("edges") or ())
        return cls(edges, tuple(str(n) for n in topology.get("ultrapeers") or ()))

    def graph(self, nodes: Sequence[str]) -> nx.Graph:
        """The links over ``nodes``; a full mesh when none are known."""
        if not self.edges:
            return nx.complete_graph(nodes)
        graph = nx.Graph()
        graph.add_nodes_from(nodes)
        graph.add_edges_from((a, b) for a, b in self.edges if a in graph and b in graph)
        return graph


FULL_MESH = Layout()


def share(spec: object) -> float | None:
    """``"10%"`` -> 10.0; None when ``spec`` is not a share of 0 < p <= 100 percent."""
    match = SHARE.match(spec) if isinstance(spec, str) else None
    pct = float(match.group(1)) if match else 0.0
    return pct if 0 < pct <= 100 else None


def is_selector(spec: object) -> bool:
    """A selector or a share, as opposed to node names."""
    return isinstance(spec, str) and (spec in SELECTORS or share(spec) is not None)


def fraction(nodes: Sequence[str], pct: float, rng: random.Random) -> list[str]:
    """``pct`` percent of the nodes (rounded up, at least one), drawn from ``rng``."""
    count = min(len(nodes), max(1, math.ceil(len(nodes) * pct / 100)))
    chosen = set(rng.sample(list(nodes), count))
    return [n for n in nodes if n in chosen]


def pick_one(nodes: Sequence[str], rng: random.Random) -> str:
    return rng.choice(list(nodes))


def each(nodes: Sequence[str]) -> list[str]:
    """Every node in turn, in the cluster's order (readable, and stable across seeds)."""
    return list(nodes)


def minority_size(n: int) -> int:
    """The most nodes that can go while a strict majority stays up."""
    return (n - 1) // 2


def minority(nodes: Sequence[str], rng: random.Random) -> list[str]:
    chosen = set(rng.sample(list(nodes), minority_size(len(nodes))))
    return [n for n in nodes if n in chosen]


def halves(nodes: Sequence[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Split into (smaller, larger) halves; the smaller has ``len // 2`` nodes."""
    chosen = set(rng.sample(list(nodes), len(nodes) // 2))
    return [n for n in nodes if n in chosen], [n for n in nodes if n not in chosen]


def isolate(node: str, nodes: Sequence[str]) -> Grudge:
    """One node cut off from all the others."""
    return {node: [n for n in nodes if n != node]}


def split(side: Sequence[str], other: Sequence[str]) -> Grudge:
    """Two groups that cannot reach each other (one side drops the other, both directions)."""
    return {n: list(other) for n in side}


def symmetric_pairs(grudge: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """Every ordered pair (a, b) whose traffic a -> b is cut, both directions included."""
    pairs = {(a, b) for a, drops in grudge.items() for b in drops}
    pairs |= {(b, a) for a, b in pairs}
    return sorted(pairs)


def components(nodes: Sequence[str], grudge: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Groups of nodes that can still reach each other, largest first."""
    cut = set(symmetric_pairs(grudge))
    seen: set[str] = set()
    groups = []
    for start in nodes:
        if start in seen:
            continue
        group, todo = [], [start]
        seen.add(start)
        while todo:
            a = todo.pop()
            group.append(a)
            for b in nodes:
                if b not in seen and (a, b) not in cut:
                    seen.add(b)
                    todo.append(b)
        groups.append([n for n in nodes if n in group])
    return sorted(groups, key=len, reverse=True)


def cut_off(nodes: Sequence[str], grudge: Mapping[str, Sequence[str]]) -> set[str]:
    """Nodes outside the largest group: down, as far as the majority is concerned."""
    groups = components(nodes, grudge)
    return set(nodes) - set(groups[0]) if groups else set()


def bridge(layout: Layout, nodes: Sequence[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Two halves joined by as few links as a seeded Kernighan–Lin bisection finds: where a
    network would split at its weakest (a full mesh has none: any halves)."""
    a, b = nx.community.kernighan_lin_bisection(layout.graph(nodes), seed=rng.randrange(2**32))
    small, large = sorted((a, b), key=len)
    return [n for n in nodes if n in small], [n for n in nodes if n in large]


def select(
    spec: str | Sequence[str],
    nodes: Sequence[str],
    rng: random.Random,
    layout: Layout = FULL_MESH,
) -> list[list[str]]:
    """A target spec -> the node groups it hits, one group per application, in order;
    ValueError for a role the layout does not have."""
    if not isinstance(spec, str):
        return [list(spec)]
    if spec == ULTRAPEER:
        ultras = [n for n in nodes if n in layout.ultrapeers]
        if not ultras:
            raise ValueError("the network has no ultrapeers (a twotier topology has them)")
        return [[pick_one(ultras, rng)]]
    if spec == "one":
        return [[pick_one(nodes, rng)]]
    if spec == "each":
        return [[n] for n in each(nodes)]
    if spec == "minority":
        return [minority(nodes, rng)]
    if spec == "all":
        return [list(nodes)]
    if (pct := share(spec)) is not None:
        return [fraction(nodes, pct, rng)]
    return [[spec]]


def label(group: Sequence[str]) -> str:
    """How a group shows up as a journal/window target: ``n2`` or ``n1+n3``."""
    return "+".join(group)
