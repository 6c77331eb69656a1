"""Who links to whom: the topology a network's nodes are joined in, seeded and reproducible.

In a full mesh every node is one hop away and a search's TTL never matters; real unstructured
networks are sparse (Gnutella ultrapeers keep 15–32 links, leaves ~3). A ``Topology`` is built
once per launch from a spec and a seed (networkx), always connected, the same graph for the same
seed; the launcher joins each node to its neighbours that started before it (nodes are numbered
so that every node but n1 has one: the network is connected at every step of its start), the
descriptor and the run record carry it (``to_dict``: ``{"spec", "nodes", "edges"}``), and the
conformance checks and reports read hop counts from it (``hops_from``, ``within``).

Specs (``parse`` says what is wrong with one in a line):

- ``full``: every node linked to every other;
- ``line``: n1 - n2 - ... - nN;  ``ring``: the line closed (nN - n1);
- ``random:d=4``: a random d-regular graph (a connected random graph of mean degree d when
  N·d is odd);
- ``smallworld:k=4,p=0.1``: connected Watts–Strogatz: a ring lattice of k neighbours, each link
  rewired with probability p;
- ``twotier:ultra=U,leaf=3``: the first U nodes are ultrapeers, linked to each other (fully up
  to ``ULTRA_LINKS`` of them, else a random graph of that degree), every other node a leaf
  linked to ``leaf`` ultrapeers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import networkx as nx

FULL, LINE, RING, RANDOM, SMALLWORLD, TWOTIER = (
    "full", "line", "ring", "random", "smallworld", "twotier",
)  # fmt: skip
DEFAULT = FULL
#: Each kind's parameters and their defaults (``None``: derived from the node count).
PARAMS: dict[str, dict[str, int | float | None]] = {
    FULL: {},
    LINE: {},
    RING: {},
    RANDOM: {"d": 4},
    SMALLWORLD: {"k": 4, "p": 0.1},
    TWOTIER: {"ultra": None, "leaf": 3},
}
#: Ultrapeers fully linked to each other up to this many links each (Gnutella kept 15–32).
ULTRA_LINKS = 30
#: Default share of ultrapeers in a two-tier network: one in ten (at least ``leaf``).
ULTRA_SHARE = 10
#: The node attribute a two-tier graph marks its ultrapeers with.
ROLE, ULTRA = "role", "ultra"
#: Draws of a random graph before giving up on a connected one.
TRIES = 200
MAX_SPEC_CHARS = 100


@dataclass(frozen=True)
class Spec:
    """A parsed topology spec: its kind and parameters (defaults filled in where fixed)."""

    kind: str
    params: Mapping[str, int | float | None]

    def text(self, params: Mapping[str, Any] | None = None) -> str:
        """The canonical spec, ``random:d=4``; ``params`` overrides (derived values)."""
        values = {**self.params, **(params or {})}
        shown = ",".join(f"{k}={v}" for k, v in values.items() if v is not None)
        return f"{self.kind}:{shown}" if shown else self.kind


def parse(text: str) -> Spec:
    """``"smallworld:k=4,p=0.1"`` -> Spec; ValueError with one line for a bad spec."""
    raw = str(text).strip()
    if not raw or len(raw) > MAX_SPEC_CHARS:
        raise ValueError(f"topology {raw[:40]!r}: expected one of {', '.join(PARAMS)}")
    kind, _, rest = raw.partition(":")
    kind = kind.strip().lower()
    if kind not in PARAMS:
        raise ValueError(f"topology {raw!r}: unknown kind {kind!r}; one of {', '.join(PARAMS)}")
    params = dict(PARAMS[kind])
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or key not in params:
            allowed = ", ".join(f"{k}=" for k in params) or "no parameters"
            raise ValueError(f"topology {raw!r}: {item!r} is not a parameter ({allowed})")
        params[key] = _number(raw, key, value)
    return Spec(kind, params)


def _number(raw: str, key: str, value: str) -> int | float:
    try:
        return float(value) if key == "p" else int(value)
    except ValueError:
        kind = "a number" if key == "p" else "a whole number"
        raise ValueError(f"topology {raw!r}: {key} must be {kind}, not {value!r}") from None


@dataclass(frozen=True)
class Topology:
    """A built topology: its canonical spec, the node names in start order, the links."""

    spec: str
    nodes: tuple[str, ...]
    edges: tuple[tuple[str, str], ...]
    #: The ultrapeers of a two-tier topology (fault targets by role); empty for the others.
    ultrapeers: tuple[str, ...] = ()

    @cached_property
    def graph(self) -> nx.Graph:
        graph = nx.Graph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from(self.edges)
        return graph

    @property
    def kind(self) -> str:
        return self.spec.partition(":")[0]

    @property
    def is_full(self) -> bool:
        """Every node one hop from every other: a search's TTL cannot show."""
        n = len(self.nodes)
        return len(self.edges) == n * (n - 1) // 2

    @cached_property
    def diameter(self) -> int:
        return nx.diameter(self.graph) if len(self.nodes) > 1 else 0

    def degrees(self) -> dict[str, int]:
        return dict(self.graph.degree())

    def degree_stats(self) -> tuple[int, float, int]:
        """(fewest, mean, most) links of a node."""
        values = list(self.degrees().values()) or [0]
        return min(values), sum(values) / len(values), max(values)

    def neighbours(self, node: str) -> list[str]:
        """``node``'s neighbours, in start order."""
        linked = set(self.graph[node])
        return [n for n in self.nodes if n in linked]

    def earlier_neighbours(self, node: str) -> list[str]:
        """The neighbours started before ``node``: whom it joins (every link made once)."""
        before = self.nodes[: self.nodes.index(node)]
        return [n for n in self.neighbours(node) if n in before]

    def hops_from(self, node: str) -> dict[str, int]:
        """Every node's hop count from ``node`` (0 for itself)."""
        return dict(nx.single_source_shortest_path_length(self.graph, node))

    def within(self, node: str, ttl: int) -> set[str]:
        """The nodes a search with this TTL from ``node`` may reach (``node`` included)."""
        return {n for n, hops in self.hops_from(node).items() if hops <= ttl}

    def eccentricity(self, node: str) -> int:
        """The TTL a search from ``node`` needs to reach every node."""
        return max(self.hops_from(node).values())

    def flood_bound(self) -> int:
        """Messages of one flooded query reaching every node, with dedupe: 2E − (N − 1)."""
        return max(0, 2 * len(self.edges) - (len(self.nodes) - 1))

    def summary(self) -> str:
        """``ring on 5 nodes: 5 links, degree 2..2 (mean 2.0), diameter 2``."""
        low, mean, high = self.degree_stats()
        return (
            f"{self.spec} on {len(self.nodes)} nodes: {len(self.edges)} links, "
            f"degree {low}..{high} (mean {mean:.1f}), diameter {self.diameter}"
        )

    def plus(self, links: Iterable[tuple[str, str]]) -> Topology:
        """This topology with ``links`` added (those between its nodes, each once): the links
        the nodes hold now, after re-linking around a dead neighbour."""
        known = {frozenset(e) for e in self.edges}
        extra = {
            tuple(sorted((a, b), key=self.nodes.index))
            for a, b in links
            if a in self.nodes and b in self.nodes and a != b and frozenset((a, b)) not in known
        }
        return replace(self, edges=self.edges + tuple(sorted(extra)))

    def to_dict(self) -> dict[str, Any]:
        """The descriptor's and the run record's ``topology`` (docs/contracts.md)."""
        out: dict[str, Any] = {
            "spec": self.spec,
            "nodes": list(self.nodes),
            "edges": [list(e) for e in self.edges],
        }
        if self.ultrapeers:
            out["ultrapeers"] = list(self.ultrapeers)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Topology:
        """From ``to_dict``'s shape; ValueError when it is not one (unknown node, self-link)."""
        try:
            nodes = tuple(str(n) for n in data["nodes"])
            edges = tuple(_edge(nodes, a, b) for a, b in data["edges"])
            spec = str(data["spec"])
            ultras = tuple(str(n) for n in data.get("ultrapeers") or ())
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"topology: not a {{spec, nodes, edges}} record ({exc})") from None
        if not set(ultras) <= set(nodes):
            raise ValueError("topology: an ultrapeer is not one of its nodes")
        return cls(spec, nodes, edges, ultras)


def _edge(nodes: Sequence[str], a: str, b: str) -> tuple[str, str]:
    if a not in nodes or b not in nodes or a == b:
        raise ValueError(f"link {a}-{b}")
    return (a, b) if nodes.index(a) < nodes.index(b) else (b, a)


def build(spec: str | Spec, nodes: Sequence[str], seed: int = 0) -> Topology:
    """The topology ``spec`` over ``nodes`` (in start order), drawn from ``seed``; ValueError
    (one line) when it cannot be built on this many nodes."""
    parsed = spec if isinstance(spec, Spec) else parse(spec)
    names = tuple(nodes)
    n = len(names)
    if n == 0:
        raise ValueError("topology: no nodes")
    kind, params = parsed.kind, dict(parsed.params)
    where = f"topology {parsed.text()!r} on {n} nodes"
    if kind == FULL:
        graph = nx.complete_graph(n)
    elif kind == LINE or (kind == RING and n < 3):
        graph = nx.path_graph(n)
    elif kind == RING:
        graph = nx.cycle_graph(n)
    elif kind == RANDOM:
        graph = _random(n, int(params["d"]), seed, where)
    elif kind == SMALLWORLD:
        graph = _smallworld(n, int(params["k"]), float(params["p"]), seed, where)
    else:
        params["ultra"] = params["ultra"] or min(
            n, max(int(params["leaf"]), math.ceil(n / ULTRA_SHARE))
        )
        graph = _twotier(n, int(params["ultra"]), int(params["leaf"]), seed, where)
    graph = _start_order(graph)
    edges = sorted(tuple(sorted((a, b))) for a, b in graph.edges())
    ultras = tuple(names[v] for v in sorted(graph) if graph.nodes[v].get(ROLE) == ULTRA)
    links = tuple((names[a], names[b]) for a, b in edges)
    return Topology(parsed.text(params), names, links, ultras)


def _start_order(graph: nx.Graph) -> nx.Graph:
    """The graph renumbered breadth first from node 0 if some node other than 0 has no
    neighbour numbered below it: nodes start in number order and join earlier neighbours, so
    then every node but the first joins one already running, and the network is connected at
    every step of its start (a node that joins no one waits to be found)."""
    if all(v == 0 or min(graph[v], default=v) < v for v in graph):
        return graph
    order = [0] + [v for _, v in nx.bfs_edges(graph, 0)]
    return nx.relabel_nodes(graph, {old: new for new, old in enumerate(order)})


def _connected(draw, where: str, why: str) -> nx.Graph:
    """The first connected graph of up to ``TRIES`` draws (``draw(i)``)."""
    for attempt in range(TRIES):
        graph = draw(attempt)
        if nx.is_connected(graph):
            return graph
    raise ValueError(f"{where}: no connected graph in {TRIES} draws ({why})")


def _random(n: int, d: int, seed: int, where: str) -> nx.Graph:
    if not 2 <= d < n:
        raise ValueError(f"{where}: d must be 2..{n - 1} (below the node count)")
    regular = n * d % 2 == 0  # else no d-regular graph exists: as many links, at random

    def draw(attempt: int) -> nx.Graph:
        if regular:
            return nx.random_regular_graph(d, n, seed=seed * TRIES + attempt)
        return nx.gnm_random_graph(n, round(n * d / 2), seed=seed * TRIES + attempt)

    return _connected(draw, where, "try a larger d")


def _smallworld(n: int, k: int, p: float, seed: int, where: str) -> nx.Graph:
    if not 2 <= k < n or k % 2:
        raise ValueError(f"{where}: k must be even and 2..{n - 1}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{where}: p must be 0..1")
    try:
        return nx.connected_watts_strogatz_graph(n, k, p, tries=TRIES, seed=seed)
    except nx.NetworkXError:
        raise ValueError(
            f"{where}: no connected graph in {TRIES} draws (try a smaller p)"
        ) from None


def _twotier(n: int, ultra: int, leaf: int, seed: int, where: str) -> nx.Graph:
    if not 1 <= ultra <= n:
        raise ValueError(f"{where}: ultra must be 1..{n}")
    if not 1 <= leaf <= ultra:
        raise ValueError(f"{where}: leaf must be 1..{ultra} (the ultrapeers)")
    if ultra - 1 <= ULTRA_LINKS:
        graph = nx.complete_graph(ultra)
    else:
        graph = _random(ultra, ULTRA_LINKS, seed, where)
    rng = random.Random(seed)
    nx.set_node_attributes(graph, ULTRA, ROLE)  # kept through the renumbering for the start
    graph.add_nodes_from(range(ultra, n))
    for node in range(ultra, n):
        graph.add_edges_from((node, up) for up in rng.sample(range(ultra), leaf))
    return graph
