"""One checker for every search answer: each answer and each hit classified against the model.

Instead of a check per known bug, every answer is compared with what the model (``reports.model``)
says the network held and could reach when it was asked. From the origin, the TTL and the time:

- **required** hits: files matching the term, certainly there before the search began
  (acknowledged at least ``ACK_SLACK_S`` earlier), on nodes within TTL hops over links and nodes
  up for the whole search; and every such file of a node the answer says answered (``reached``);
- **allowed** hits: files matching the term that existed at some moment of the search, on nodes
  within TTL hops over any link that existed during it; a name put on a node but never
  acknowledged is *unknown*, never phantom;
- each hit's **hop count**: never fewer than the fewest hops over any link that existed (a
  count below it makes the TTL horizon unjudgeable); where the network promises the fewest
  (``Model.fewest_hops``), exactly the shortest way over the links up in a calm answer (not
  partial, no fault near it).

An answer is ``complete``, ``missing`` (a required hit absent and the answer not partial, or a
hit of a node that answered absent, or more peer messages than the nodes that answered account
for), ``degraded`` (partial while no fault was active), ``partial_during_fault``, ``unknown``
(near a fault's start or the network's recovery, or asked on a node a fault affected), or carries
a wrong hit: ``beyond_ttl``, ``phantom``, ``wrong_metadata``, ``duplicate`` — each counted hit
by hit too. Unknown is never a pass: it is left out of the population a row judges, and said.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from reports.breakdown import OUTSIDE, WHOLE_RUN, attribute
from reports.evidence import Evidence
from reports.model import ACK_SLACK_S, Model
from reports.samples import Sample

COMPLETE, MISSING, DEGRADED, PARTIAL_DURING_FAULT, UNKNOWN = (
    "complete",
    "missing",
    "degraded",
    "partial_during_fault",
    "unknown",
)
OK, BEYOND_TTL, PHANTOM, WRONG_METADATA, DUPLICATE = (
    "ok",
    "beyond_ttl",
    "phantom",
    "wrong_metadata",
    "duplicate",
)
#: Hit classes that are a wrong answer whenever they happen, the worst first: an answer with
#: one of them takes the worst one's class.
WRONG_HITS = (WRONG_METADATA, PHANTOM, BEYOND_TTL, DUPLICATE)
HIT_CLASSES = (OK, UNKNOWN, *WRONG_HITS)
ANSWER_CLASSES = (COMPLETE, MISSING, DEGRADED, PARTIAL_DURING_FAULT, UNKNOWN, *WRONG_HITS)
#: Hex characters of a hit's sha256 a sample keeps: enough to tell a wrong digest.
SHA_PREFIX = 16
#: Fields of a compact hit in a sample (``[node, name, size, sha256 prefix, hops]``).
HIT_FIELDS = ("node", "name", "size", "sha256", "hops")
MEMO_KEY = "checker"


def compact_hit(hit: Any) -> list[Any]:
    """A search hit as a sample keeps it: ``[node, name, size, sha256[:16] or None, hops]``."""
    sha = hit.sha256[:SHA_PREFIX] if isinstance(hit.sha256, str) else None
    return [hit.node, hit.name, hit.size, sha, hit.hops]


def flood_bound(graph: nx.Graph, origin: Any, ttl: int) -> int:
    """The most peer messages one query from ``origin`` with ``ttl`` may cost over ``graph``'s
    links, every node deduping by query id (node/flood.py). A node forwards each copy that
    brings more TTL than any before to its links but the sender (the origin to all of them).
    A node ``d`` hops away gets copies with 1 .. ttl - d TTL left, by simple paths of at most
    N - 1 hops: it forwards at most min(ttl - d, N - d) times; on links without a cycle, one
    path each, once. When every node is first reached the shortest way this is the classic
    2E - (N - 1)."""
    if ttl <= 0 or origin not in graph:
        return 0
    n, tree = graph.number_of_nodes(), nx.is_forest(graph)
    dist = nx.single_source_shortest_path_length(graph, origin, cutoff=ttl - 1)
    return sum(
        graph.degree(v) if v == origin else copies * (graph.degree(v) - 1)
        for v, d in dist.items()
        if (copies := 1 if tree else min(ttl - d, n - d))
    )


def full_flood_bound(nodes: int, ttl: int) -> int:
    """``flood_bound`` over a full mesh of ``nodes``."""
    return flood_bound(nx.complete_graph(nodes), 0, ttl)


def hides_silent_peers(
    messages: int | None,
    reached: Sequence[str] | None,
    partial: bool | None,
    graph: nx.Graph,
    origin: str,
    ttl: int,
) -> bool:
    """An answer that is not partial although a peer it asked never answered: among the nodes
    that answered no flood costs more than ``flood_bound`` over the links between them, so more
    messages went to peers outside them."""
    if messages is None or reached is None or partial:
        return False
    return messages > flood_bound(graph.subgraph(reached), origin, ttl)


@dataclass(frozen=True)
class Judged:
    """One answer's class, its hits by class, and the first problem found (for a detail)."""

    answer: str
    hits: Counter[str]
    note: str = ""


def judge_answer(
    model: Model,
    origin: str,
    term: str,
    ttl: int,
    t0: float,
    t1: float,
    hits: Iterable[Sequence[Any]],
    reached: Sequence[str] | None = None,
    partial: bool | None = None,
    messages: int | None = None,
) -> Judged:
    """Classify the answer ``origin`` gave for ``term`` with ``ttl``, asked over ``[t0, t1]``."""
    near = model.hops(origin, t0, t1, required=False)
    fewest = _fewest(model, origin, t0, t1, partial)
    classes: list[str] = []
    notes: list[str] = []
    present: set[tuple[str, str]] = set()
    for hit in hits:
        span = (t0, t1)
        cls, note = _judge_hit(
            model, term, ttl, span, (near, fewest), present, *hit[: len(HIT_FIELDS)]
        )
        present.add((hit[0], hit[1]))
        classes.append(cls)
        notes += [note] if note else []
    counted = Counter(classes)
    wrong = next((c for c in WRONG_HITS if counted[c]), None)
    if wrong:
        return Judged(wrong, counted, notes[0])
    if origin in model.out_during(t0, t1) or model.near_boundary(t0, t1):
        return Judged(UNKNOWN, counted)
    lacking = _missing(model, origin, term, ttl, t0, t1, present, reached, partial)
    if not lacking and hides_silent_peers(messages, reached, partial, model.seen, origin, ttl):
        lacking = [f"{messages} messages but {len(reached or ())} node(s) answered, not partial"]
    if lacking:
        return Judged(MISSING, counted, f"from {origin}: {lacking[0]}")
    if partial:
        return Judged(PARTIAL_DURING_FAULT if model.fault_during(t0, t1) else DEGRADED, counted)
    return Judged(COMPLETE, counted)


def _fewest(model: Model, origin: str, t0: float, t1: float, partial) -> dict | None:
    """The hops each hit of a calm answer must carry where the network promises the fewest
    (None: not judged): an answer said partial may have lost the shorter way's reply, and
    during a fault or its recovery the links up are not known."""
    if not model.fewest_hops or partial is not False or model.fault_during(t0, t1):
        return None
    return model.hops(origin, t0, t1, required=True)


def _judge_hit(model, term, ttl, span, ways, present, node, name, size, sha, hops) -> tuple:
    """One hit's class and, when wrong, why (``span``: the search's start and end; ``ways``:
    the fewest hops to each node over any link, and over the links up when judged)."""
    t0, t1 = span
    near, fewest = ways
    if (node, name) in present:
        return DUPLICATE, f"{name} on {node} twice"
    if node not in model.nodes:
        return WRONG_METADATA, f"{name} on {node}, which is not a node of the network"
    held = model.held(node, name, t0, t1)
    if not model.match(term, name):
        return PHANTOM, f"{name} on {node} does not match {term!r}"
    if held is None or not held.possible(t0, t1):
        if model.unsure_since(node, name) <= t1 + ACK_SLACK_S:
            return UNKNOWN, ""
        return PHANTOM, f"{node} did not hold {name} during the search"
    if near.get(node, math.inf) > ttl or (isinstance(hops, int) and hops > ttl):
        return BEYOND_TTL, f"{name} from {node}, {hops} hop(s) away, with TTL {ttl}"
    if isinstance(hops, int) and hops < near[node]:
        return WRONG_METADATA, _hops_note(name, node, hops, near[node], "over any link")
    if isinstance(hops, int) and fewest is not None and hops > fewest.get(node, math.inf):
        return WRONG_METADATA, _hops_note(name, node, hops, fewest[node], "over the links up")
    if size is not None and held.size is not None and size != held.size:
        return WRONG_METADATA, f"{name} on {node} said to be {size} bytes, holds {held.size}"
    if sha is not None and held.sha256 and not held.sha256.startswith(sha):
        return WRONG_METADATA, f"{name} on {node} advertised with another sha256"
    return OK, ""


def _hops_note(name: str, node: str, hops: int, shortest: float, way: str) -> str:
    return f"{name} from {node} said {hops} hop(s) away, {shortest:.0f} {way}"


def _missing(model, origin, term, ttl, t0, t1, present, reached, partial) -> list[str]:
    """Required hits absent: on nodes that answered always; the rest unless ``partial``."""
    up = model.hops(origin, t0, t1, required=True)
    answered = set(reached or ())
    return [
        f"{f.node}'s {f.name} missing"
        for f in model.matching(term)
        if f.required(t0, t1)
        and (f.node, f.name) not in present
        and (f.node in answered or (not partial and up.get(f.node, math.inf) <= ttl))
    ]


def is_answer(sample: Sample) -> bool:
    """A search the network answered, recorded with what was asked and what came back."""
    return (
        sample.get("op") == "search"
        and bool(sample.get("ok"))
        and isinstance(sample.get("hits"), list)
        and isinstance(sample.get("term"), str)
        and isinstance(sample.get("ttl"), int)
        and isinstance(sample.get("node"), str)
    )


@dataclass
class Checked:
    """Every answered search of a run, judged; ``model`` None when the run has none."""

    model: Model | None
    answers: list[Sample] = field(default_factory=list)
    judged: dict[int, Judged] = field(default_factory=dict)

    def of(self, sample: Sample) -> Judged | None:
        """The judgement of one sample (None: not an answer the checker judged)."""
        return self.judged.get(id(sample))

    def with_class(self, cls: str, samples: Iterable[Sample] | None = None) -> list[Sample]:
        """Answers of class ``cls`` (among ``samples``, or all)."""
        pool = self.answers if samples is None else samples
        return [s for s in pool if (j := self.of(s)) is not None and j.answer == cls]

    def hits(self, cls: str, samples: Iterable[Sample] | None = None) -> int:
        """Hits of class ``cls`` (in ``samples``, or all answers)."""
        pool = self.answers if samples is None else samples
        return sum(j.hits[cls] for s in pool if (j := self.of(s)) is not None)

    def hit_count(self, samples: Iterable[Sample] | None = None) -> int:
        pool = self.answers if samples is None else samples
        return sum(sum(j.hits.values()) for s in pool if (j := self.of(s)) is not None)

    def notes(self, samples: Iterable[Sample], limit: int) -> list[str]:
        """The first ``limit`` problems of these samples, as the checker said them."""
        found = [j.note for s in samples if (j := self.of(s)) is not None and j.note]
        return found[:limit]


def check(ev: Evidence) -> Checked:
    """Judge every answered search of the run (once per evidence; criteria and tables share it)."""
    if MEMO_KEY not in ev.memo:
        ev.memo[MEMO_KEY] = _check(ev)
    return ev.memo[MEMO_KEY]


def _check(ev: Evidence) -> Checked:
    model = Model.from_evidence(ev)
    if model is None:
        return Checked(None)
    out = Checked(model, [s for s in ev.samples if is_answer(s)])
    for s in out.answers:
        out.judged[id(s)] = judge_answer(
            model,
            s["node"],
            s["term"],
            s["ttl"],
            s["t"],
            s["t"] + float(s["latency_ms"]) / 1000,
            s["hits"],
            s.get("reached"),
            s.get("partial"),
            s.get("messages"),
        )
    return out


def table(ev: Evidence) -> dict[str, Any]:
    """The answer-checker table of the reports and the JSON: answers and hits by class, per
    origin node and over all; and the windows (``reports.breakdown``) where an answer was not
    complete. Empty ``rows`` when there was nothing to judge."""
    checked = check(ev)
    owner = attribute(ev)
    per: dict[tuple[str, str], Counter[str]] = {}
    for s in checked.answers:
        j = checked.of(s)
        counts = Counter({f"answers:{j.answer}": 1, **{f"hits:{c}": n for c, n in j.hits.items()}})
        for key in ((WHOLE_RUN, s["node"]), (WHOLE_RUN, "all"), (owner.get(id(s), OUTSIDE), "")):
            per.setdefault(key, Counter()).update(counts)
    order = {w["name"]: i for i, w in enumerate(ev.windows)}
    windows = sorted(
        (k for k, c in per.items() if k[1] == "" and _not_complete(c)),
        key=lambda k: order.get(k[0], len(order)),
    )
    nodes = sorted(k for k in per if k[0] == WHOLE_RUN and k[1] != "all")
    keys = nodes + ([(WHOLE_RUN, "all")] if len(nodes) > 1 else []) + windows
    return {
        "judged": checked.model is not None,
        "answer_classes": list(ANSWER_CLASSES),
        "hit_classes": list(HIT_CLASSES),
        "rows": [
            {
                "window": window,
                "origin": node or "–",
                "answers": [per[(window, node)][f"answers:{c}"] for c in ANSWER_CLASSES],
                "hits": [per[(window, node)][f"hits:{c}"] for c in HIT_CLASSES],
            }
            for window, node in keys
        ],
    }


def _not_complete(counts: Counter[str]) -> bool:
    return any(counts[f"answers:{c}"] for c in ANSWER_CLASSES if c != COMPLETE)
