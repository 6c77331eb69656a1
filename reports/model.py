"""The model a search answer is judged against: what each node held when, who was up, which
links existed, as the run record shows them (Jepsen's model, for a file-sharing network).

Built from raw facts only, so ``python -m reports DIR`` rebuilds it exactly:

- **files**: each node's seeded corpus (``run["nodes"][*]["files"]``), every acknowledged
  upload with the time it was acknowledged (``run["acked"]``), every pull a node acknowledged
  (``node_download`` samples); an upload or pull never acknowledged (failed, or cut off) may or
  may not have landed: its name is *unsure* from the moment it was attempted. A fault window
  that ``wipes`` its node's data (churn with ``data = "wipe"``) ends, at its start, everything
  the node held before it;
- **liveness**: each fault window takes its target out (down, frozen or cut off) from its start
  until the network was whole again (the heal plus the faults side's ``recovered_s``), widened
  by a slack; a fault on no single node takes every node out. A fault that loses messages on
  its target's links (``loses_messages``: loss, bandwidth) takes it out of the model too, though
  not out of service: its peers may legitimately stop hearing from it, or mark it dead;
- **links**: ``run["topology"]`` (``{"spec", "nodes", "edges"}``), else a full mesh, plus any
  links the monitor rows saw (``links``); a partition cuts its target's links while it lasts.

A file matches a term as the network matches (``run["network_match"]``): by default, as our node
does, a case-insensitive substring of the name. A hit's hop count is judged as the network
counts (``run["network_hops"]``, ``HOPS_RULES``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from reports.evidence import FAULT, Evidence
from reports.faultsteps import failed_steps, of_fault
from reports.integrity import wipe_times, wiped_after

#: A file is certain to be on its node only once acknowledged this long before a search starts
#: (clocks of distributed workers, the time an acknowledgement travels).
ACK_SLACK_S = 1.0
#: Around a fault's start and the network's recovery the network may be in either state.
BOUNDARY_SLACK_S = 1.0
#: Hops of a node no link reaches.
UNREACHABLE = math.inf
#: How a network matches a search term to a file name (``run["network_match"]``).
MATCH_RULES: dict[str, Callable[[str, str], bool]] = {
    "substring": lambda term, name: term.lower() in name.lower(),
    "exact": lambda term, name: term == name,
    "prefix": lambda term, name: name.lower().startswith(term.lower()),
}
DEFAULT_MATCH = "substring"
#: What a hit's hop count means (``run["network_hops"]``): ``path``, the links one copy of the
#: query crossed to reach the holder (at least the fewest over any link that existed: a count
#: below it is wrong); ``fewest``, the fewest hops at which the query reached the holder (in a
#: calm answer, exactly the shortest way over the links up, as our node promises).
HOPS_PATH, HOPS_FEWEST = "path", "fewest"
HOPS_RULES = (HOPS_PATH, HOPS_FEWEST)
#: Sample ops that put a named file on a node.
PUTS_FILES = ("index", "node_download")

#: (node, name) -> the earliest attempt to put ``name`` there, never acknowledged; node None:
#: it may be on any node.
Unsure = dict[tuple[str | None, str], float]


@dataclass(frozen=True)
class Held:
    """A file on a node: certainly there from ``since``, possibly from ``maybe``."""

    node: str
    name: str
    size: int | None
    sha256: str | None
    since: float
    maybe: float
    until: float = math.inf
    """Gone from the node from then on (its data wiped); inf: never."""

    def possible(self, t0: float, t1: float) -> bool:
        """Whether it may have been on its node at some moment of a search over ``[t0, t1]``."""
        return self.maybe <= t1 + ACK_SLACK_S and self.until >= t0 - ACK_SLACK_S

    def required(self, t0: float, t1: float) -> bool:
        """Whether it was certainly on its node for the whole of a search over ``[t0, t1]``."""
        return self.since <= t0 - ACK_SLACK_S and self.until >= t1 + ACK_SLACK_S


@dataclass(frozen=True)
class Outage:
    """Nodes out of the network (down, frozen or cut off) from ``start`` until ``back``; the
    fault itself (a partition's cut) lasted until ``end``."""

    start: float
    end: float
    back: float
    nodes: frozenset[str]
    takes_down: bool
    """Its nodes may be out of the network: down, frozen, cut off, or behind lossy links."""
    cuts_links: bool
    #: A step of the fault failed or was not applied (reports/faultsteps.py): what it did to
    #: the network is not known, so every answer while it lasted is unknown, never judged.
    unsure: bool = False
    #: The links a partition cut (each an unordered pair); None: every link of ``nodes`` (a
    #: record from before windows named their cut, or a fault that cuts its target off).
    cut: frozenset[frozenset[str]] | None = None
    #: Every node stayed reachable around it (one link cut): none of its nodes was out of the
    #: network, though messages between them were lost (reports/accuracy.py).
    reachable: bool = False


@dataclass
class Model:
    """What the network held and how it was connected over the run."""

    nodes: tuple[str, ...]
    files: dict[tuple[str, str], Held]
    unsure: Unsure
    topology: nx.Graph
    seen: nx.Graph
    outages: list[Outage]
    match: Callable[[str, str], bool]
    #: Earlier holdings a wipe ended before the node got the same file again (``files`` has
    #: the latest holding of each node and name).
    ended: dict[tuple[str, str], list[Held]] = field(default_factory=dict)
    #: A hit's hops are the fewest at which the query reached its holder (``HOPS_FEWEST``).
    fewest_hops: bool = False
    _matching: dict[str, list[Held]] = field(default_factory=dict)

    def matching(self, term: str) -> list[Held]:
        """Every holding of a file any node ever held whose name matches ``term`` (computed
        once a term)."""
        if term not in self._matching:
            every = [*self.files.values(), *(h for hs in self.ended.values() for h in hs)]
            self._matching[term] = [f for f in every if self.match(term, f.name)]
        return self._matching[term]

    def held(self, node: str, name: str, t0: float = -math.inf, t1: float = math.inf):
        """The holding of ``name`` on ``node`` that may overlap ``[t0, t1]``, else its latest
        (None: never held)."""
        latest = self.files.get((node, name))
        earlier = (h for h in self.ended.get((node, name), ()) if h.possible(t0, t1))
        return next(earlier, latest)

    def unsure_since(self, node: str, name: str) -> float:
        """From when ``name`` may be on ``node`` without the model knowing (inf: never)."""
        return min(self.unsure.get((node, name), math.inf), self.unsure.get((None, name), math.inf))

    def overlapping(self, t0: float, t1: float) -> list[Outage]:
        """The outages (each from its start to the recovery) that overlap ``[t0, t1]``,
        boundaries widened by the slack."""
        return [
            o
            for o in self.outages
            if o.start - BOUNDARY_SLACK_S <= t1 and t0 <= o.back + BOUNDARY_SLACK_S
        ]

    def out_during(self, t0: float, t1: float) -> set[str]:
        """Nodes out at any moment of ``[t0, t1]``, boundaries widened by the slack."""
        return {n for o in self.overlapping(t0, t1) if o.takes_down for n in o.nodes}

    def out_of_reach(self, t0: float, t1: float) -> set[str] | None:
        """Nodes a fault may have put out of the others' reach at some moment of ``[t0, t1]``
        (``out_during``, but the ends of one cut link are not: every node reached them around
        it); None when a fault whose steps failed overlaps it (what it did is unknown)."""
        overlapping = self.overlapping(t0, t1)
        if any(o.unsure for o in overlapping):
            return None
        return {n for o in overlapping if o.takes_down and not o.reachable for n in o.nodes}

    def fault_during(self, t0: float, t1: float) -> bool:
        """Whether any fault (or the recovery after it) overlaps ``[t0, t1]``, with the slack."""
        return bool(self.overlapping(t0, t1))

    def near_boundary(self, t0: float, t1: float) -> bool:
        """Whether ``[t0, t1]`` comes within the slack of a fault's start or of the recovery."""
        return any(
            b - BOUNDARY_SLACK_S <= t1 and t0 <= b + BOUNDARY_SLACK_S
            for o in self.outages
            for b in (o.start, o.back)
        ) or any(o.unsure for o in self.overlapping(t0, t1))

    def hops(self, origin: str, t0: float, t1: float, *, required: bool) -> dict[str, float]:
        """Fewest hops from ``origin`` to each node over the links of ``[t0, t1]``: with
        ``required``, only over links and nodes up for the whole of it; else over any link that
        existed at some moment of it (a link cut for the whole search does not)."""
        if required:
            out = frozenset(self.out_during(t0, t1))
            cut: frozenset[frozenset[str]] = frozenset()
        else:
            out = frozenset()
            cut = frozenset(
                pair
                for o in self.outages
                if o.cuts_links
                and o.start + BOUNDARY_SLACK_S <= t0
                and t1 <= o.end - BOUNDARY_SLACK_S
                for pair in self._cut_by(o)
            )
        return _distances(self, origin, out, cut, not required)

    def _cut_by(self, outage: Outage) -> Iterable[frozenset[str]]:
        """The links ``outage`` cut: its recorded pairs, else every link of its nodes."""
        if outage.cut is not None:
            return outage.cut
        return (frozenset((a, b)) for a in outage.nodes for b in self.nodes if a != b)

    @classmethod
    def from_evidence(cls, ev: Evidence) -> Model | None:
        """The model of a run; None when its record names no nodes (recorded before the model)."""
        nodes = tuple(str(n["name"]) for n in ev.nodes if isinstance(n, dict) and "name" in n)
        if not nodes:
            return None
        wipes = wipe_times(ev.windows)
        files, ended, unsure = _files(ev, nodes, wipes)
        files = {key: _ends(wipes, held) for key, held in files.items()}
        topology = _topology(ev.topology, nodes)
        seen = nx.Graph(topology)
        for links in [*(row.get("links") for row in ev.series), ev.topology.get("held")]:
            seen.add_edges_from(tuple(e) for e in links or () if len(e) == 2)
        match = MATCH_RULES.get(ev.network_match or DEFAULT_MATCH, MATCH_RULES[DEFAULT_MATCH])
        outages = _outages(ev, nodes)
        fewest = ev.network_hops == HOPS_FEWEST
        return cls(nodes, files, unsure, topology, seen, outages, match, ended, fewest)


def _distances(
    model: Model, origin: str, out: frozenset[str], cut: frozenset, seen: bool
) -> dict[str, float]:
    key = (origin, out, cut, seen)
    memo = model.__dict__.setdefault("_hops", {})
    if key not in memo:
        graph = nx.Graph(model.seen if seen else model.topology)
        graph.add_nodes_from(model.nodes)
        graph.remove_nodes_from(out - {origin})
        graph.remove_edges_from(tuple(e) for e in cut if len(e) == 2)
        lengths = nx.single_source_shortest_path_length(graph, origin) if origin in graph else {}
        memo[key] = {n: float(lengths.get(n, UNREACHABLE)) for n in model.nodes}
    return memo[key]


def _topology(spec: dict[str, Any], nodes: tuple[str, ...]) -> nx.Graph:
    """The links built; a full mesh when the run record does not say."""
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    edges = spec.get("edges") if isinstance(spec, dict) else None
    if isinstance(edges, list):
        graph.add_edges_from(tuple(e) for e in edges if isinstance(e, list | tuple) and len(e) == 2)
    else:
        graph.add_edges_from((a, b) for i, a in enumerate(nodes) for b in nodes[i + 1 :])
    return graph


def _files(
    ev: Evidence, nodes: tuple[str, ...], wipes: dict[str, list[float]]
) -> tuple[dict[tuple[str, str], Held], dict[tuple[str, str], list[Held]], Unsure]:
    """Corpus, acknowledged uploads and pulls (the latest holding of each, and the earlier ones
    a wipe ended); the names attempted but never acknowledged."""
    files: dict[tuple[str, str], Held] = {}
    ended: dict[tuple[str, str], list[Held]] = {}
    corpus: dict[str, dict] = {}
    for node in ev.nodes:
        for f in node.get("files") or ():
            files[(node["name"], f["name"])] = Held(
                node["name"], f["name"], f.get("size"), f.get("sha256"), -math.inf, -math.inf
            )
            corpus.setdefault(f["name"], f)
    # An ``unfinished`` sample is a write whose user was stopped mid-call (client.py): the node
    # may have done it all the same.
    attempts = [
        s
        for s in ev.samples
        if (s.get("op") in PUTS_FILES or s.get("of") in PUTS_FILES) and s.get("name")
    ]
    started: dict[str, float] = {}
    for s in attempts:
        started[s["name"]] = min(s["t"], started.get(s["name"], math.inf))
    acked = {}
    for a in ev.acked:
        t = float(a.get("t", -math.inf))
        maybe = min(started.get(a["name"], t - ACK_SLACK_S), t)
        acked[a["name"]] = Held(a["node"], a["name"], a.get("size"), a.get("sha256"), t, maybe)
    files.update({(h.node, h.name): h for h in acked.values()})
    unsure: dict[tuple[str | None, str], float] = {}
    for s in attempts:
        name, end = s["name"], s["t"] + s["latency_ms"] / 1000
        pulled = s["op"] == "node_download" and s.get("ok") and s.get("node") in nodes
        if pulled and name in corpus:
            f, key = corpus[name], (s["node"], name)
            # The earliest pull counts; after a wipe took what the node held, a new holding.
            again = key in files and wipe_between(wipes, files[key], s["t"])
            if again:  # ended by that wipe (``until`` set here: it is not the latest)
                ended.setdefault(key, []).append(_ends(wipes, files[key]))
            if key not in files or files[key].since > end or again:
                files[key] = Held(s["node"], name, f.get("size"), f.get("sha256"), end, s["t"])
            if s.get("failover"):  # the node that did not answer in time may have pulled it too
                unsure[(None, name)] = min(s["t"], unsure.get((None, name), math.inf))
        elif not (s["op"] == "index" and name in acked):
            # Never acknowledged: it may have landed where it was sent (anywhere, after a
            # failover: the node that did not answer in time may have kept it).
            where = None if s.get("failover") or not s.get("node") else s["node"]
            unsure[(where, name)] = min(s["t"], unsure.get((where, name), math.inf))
    return files, ended, unsure


def wipe_between(wipes: dict[str, list[float]], held: Held, t: float) -> bool:
    """Whether a wipe of ``held``'s node took it before ``t``."""
    return wiped_after(wipes, held.node, held.since) < t


def _ends(wipes: dict[str, list[float]], held: Held) -> Held:
    """``held``, ended at the start of the first fault that wiped its node's data after it
    came (the node is away from then on, and comes back empty)."""
    end = wiped_after(wipes, held.node, held.since)
    return replace(held, until=end) if end < math.inf else held


def _back(ev: Evidence, window: dict[str, Any]) -> float:
    """When the network was whole again after a fault: the heal plus the faults side's
    ``recovered_s``; never, if it did not recover; the recovery window's end when unmeasured."""
    result = ev.fault_result(window) or {}
    if "recovered_s" in result or "recovered" in result:
        recovered = result.get("recovered_s")
        return math.inf if recovered is None else window["end"] + float(recovered)
    after = ev.recovery_window(window)
    return after["end"] if after else window["end"]


def _outages(ev: Evidence, nodes: Iterable[str]) -> list[Outage]:
    everyone = frozenset(nodes)
    failed = failed_steps(ev.journal)
    out = []
    for w in ev.of_kind(FAULT):
        target = w.get("target")
        named = frozenset(n for n in w.get("nodes") or () if n in everyone)
        hit = frozenset({target}) if target in everyone else named or everyone
        pairs = [p for p in w.get("cut") or () if isinstance(p, list | tuple) and len(p) == 2]
        cut = frozenset(frozenset(p) for p in pairs) if pairs else None
        unsure = bool(of_fault(failed, w.get("fault_id"), target))
        reachable = w.get("keeps_reach") is True  # one link cut: its ends are cut, not out
        network = w.get("acts_on") == "network"
        cuts = network and (w.get("takes_down", True) is not False or reachable) and not unsure
        takes_down = w.get("takes_down", True) is not False or w.get("loses_messages") is True
        back = _back(ev, w)
        out.append(
            Outage(w["start"], w["end"], back, hit, takes_down, cuts, unsure, cut, reachable)
        )
    return out
