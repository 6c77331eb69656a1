"""What happens on a search: Gnutella-style flooding with query ids, TTL, hops and dedupe.

The origin gives a query an id and a TTL and sends it to every live neighbour (its links, a
bounded few of the members it knows: ``node/neighbours.py``); each node that sees an id for the
first time answers from its catalog and, while TTL remains, forwards it to its live neighbours
except the sender; an id seen before is answered at once as a duplicate. Hits
travel back along the path the query came (each forward is a request whose answer carries the
hits of everything behind it). Every forward costs one message, so with dedupe a query that
reaches all N nodes over E links, each first by a shortest path, costs 2E - (N - 1) messages.

A copy that arrives with more TTL than the first one brought came a shorter way, and can reach
nodes the first could not (within the TTL asked, but past where the longer path ran out): it is
forwarded again, without our own hits, which went back with the first. Each node does so at most
once per TTL value, which bounds the cost (``reports.checker.flood_bound``).

Copies race: a node can see a query first by a longer path (n2 -> n3 -> n1 before n2 -> n1)
and answer from there, with the longer path's hop count. Its answer to the shorter copy, a
duplicate, says at how many hops that copy reached it (``hops_to``); every answer carries the
fewest hops at which each node was reached, and the origin gives each hit that count: a direct
neighbour's file is always one hop away, whichever copy won the race.

A deadline bounds the whole search: each hop forwards with a slightly smaller budget, so an
inner node answers (flagged partial) before its caller gives up on it.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict

from .catalog import Catalog
from .config import MAX_BUDGET_MS, MAX_HOPS, MAX_QUERY_CHARS, MAX_QUERY_ID, SEEN_MAX
from .metrics import NO_METRICS, NodeMetrics
from .neighbours import Neighbours
from .peerclient import PeerClient, PeerError

SEEN_TTL_S = 60.0
QUERY_ID_CHARS = frozenset("0123456789abcdefABCDEF-")
MIN_MARGIN_S = 0.02
MARGIN_SHARE = 0.1
MIN_FORWARD_BUDGET_S = 0.01
#: What a copy of a query is to the node it reaches (``SeenCache.admit``).
NEW, FARTHER, DUPLICATE = "new", "farther", "duplicate"


def valid_message(msg: dict, ttl_cap: int) -> bool:
    """A forwarded query as peers must send it (checked before anything reads it)."""
    qid, q, ttl, hops, budget = (msg.get(k) for k in ("id", "q", "ttl", "hops", "budget_ms"))
    return (
        isinstance(qid, str)
        and 0 < len(qid) <= MAX_QUERY_ID
        and QUERY_ID_CHARS.issuperset(qid)
        and isinstance(q, str)
        and 0 < len(q) <= MAX_QUERY_CHARS
        and type(ttl) is int
        and 0 <= ttl <= ttl_cap
        and type(hops) is int
        and 0 <= hops <= MAX_HOPS
        and type(budget) in (int, float)
        and 0 < budget <= MAX_BUDGET_MS
    )


def valid_answer(answer: object) -> bool:
    """A relay's answer has the shape the origin merges (a peer cannot crash a search)."""
    return (
        isinstance(answer, dict)
        and isinstance(answer.get("results", []), list)
        and isinstance(answer.get("nodes", []), list)
        and type(answer.get("messages", 0)) is int
        and all(isinstance(r, dict) for r in answer.get("results", []))
        and isinstance(answer.get("hops_to", {}), dict)
        and all(type(h) is int for h in answer.get("hops_to", {}).values())
    )


def fewest_hops(hit: dict, hops_to: dict[str, int]) -> dict:
    """``hit`` with the fewest hops at which the query reached its node (see the module doc)."""
    fewest, hops = hops_to.get(hit.get("node")), hit.get("hops")
    if fewest is None or type(hops) is not int or hops <= fewest:
        return hit
    return {**hit, "hops": fewest}


class SeenCache:
    """Query ids seen recently, each with the most TTL a copy of it brought; expiry bounds
    memory, the size cap bounds a flood of ids."""

    def __init__(self, ttl_s: float = SEEN_TTL_S, max_items: int = SEEN_MAX) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: OrderedDict[str, tuple[float, int]] = OrderedDict()

    def admit(self, query_id: str, ttl: int) -> str:
        """Record a copy of ``query_id`` that came with ``ttl``: NEW the first time, FARTHER
        when it brings more TTL than any copy before (it came a shorter way and can reach
        nodes the first could not), else DUPLICATE."""
        now = time.monotonic()
        while self._items:
            oldest, (expires, _) = next(iter(self._items.items()))
            if expires > now and len(self._items) < self.max_items:
                break
            del self._items[oldest]
        seen = self._items.get(query_id)
        if seen is not None and seen[1] >= ttl:
            return DUPLICATE
        self._items[query_id] = (now + self.ttl_s, ttl)
        return NEW if seen is None else FARTHER


class Flood:
    """Runs searches for one node, as origin or as a relay."""

    def __init__(
        self,
        me: dict,
        catalog: Catalog,
        neighbours: Neighbours,
        client: PeerClient,
        metrics: NodeMetrics = NO_METRICS,
    ):
        self.me = me
        self.metrics = metrics
        self.catalog = catalog
        self.neighbours = neighbours
        self.client = client
        self.seen = SeenCache()

    def search(self, term: str, ttl: int, deadline_s: float) -> dict:
        """A search started here: local hits plus whatever the flood brings back in time."""
        started = time.monotonic()
        query_id = uuid.uuid4().hex if ttl > 0 else ""  # a local-only search floods nothing
        if ttl > 0:
            self.seen.admit(query_id, ttl)
        answer = self._process(query_id, term, ttl, 0, started + deadline_s, sender=None)
        self.metrics.search(answer["partial"])
        return {
            "query_id": query_id,
            "results": [fewest_hops(hit, answer["hops_to"]) for hit in answer["results"]],
            "reached": len(answer["nodes"]),
            "nodes": sorted(answer["nodes"]),
            "messages": answer["messages"],
            "partial": answer["partial"],
            "elapsed_ms": round((time.monotonic() - started) * 1000, 3),
        }

    def relay(self, message: dict, sender: str | None) -> dict:
        """A query forwarded to us by ``sender``."""
        copy = self.seen.admit(message["id"], message["ttl"])
        self.metrics.relay(copy)
        if copy == DUPLICATE:
            # Nothing new to send back, except that this copy may have come the shorter way.
            return {
                "duplicate": True,
                "results": [],
                "nodes": [],
                "messages": 0,
                "partial": False,
                "hops_to": {self.me["name"]: message["hops"]},
            }
        deadline = time.monotonic() + message["budget_ms"] / 1000
        return self._process(
            message["id"], message["q"], message["ttl"], message["hops"], deadline, sender,
            again=copy == FARTHER,
        )  # fmt: skip

    def _process(self, query_id, term, ttl, hops, deadline, sender, again=False) -> dict:
        """Answer from the catalog and forward while TTL remains; ``again``: a copy that brought
        more TTL than the one already answered, so it only forwards (our hits and our name went
        back with the first)."""
        me = self.me["name"]
        results = [] if again else [self._hit(r, hops) for r in self.catalog.search(term)]
        answer = {
            "results": results,
            "nodes": [] if again else [me],
            "messages": 0,
            "partial": False,
            "hops_to": {me: hops},
        }
        if ttl <= 0:
            return answer
        targets = [p for p in self.neighbours.alive() if p.name != sender]
        # A neighbour declared dead is not asked: what lies behind it may be missing, say so.
        answer["partial"] = self.neighbours.short(sender)
        remaining = deadline - time.monotonic()
        budget = remaining - max(MIN_MARGIN_S, remaining * MARGIN_SHARE)
        if not targets:
            return answer
        if budget < MIN_FORWARD_BUDGET_S:
            answer["partial"] = True
            return answer
        message = {"id": query_id, "q": term, "ttl": ttl - 1, "hops": hops + 1}
        message["budget_ms"] = round(budget * 1000, 1)
        answers = self.client.call_many(
            [(p.http, p.name) for p in targets], "flood", message, timeout=remaining
        )
        subs = [self._checked(answer) for answer in answers]
        for sub in subs:
            answer["messages"] += 1
            if sub is None:
                answer["partial"] = True
                continue
            answer["results"].extend(sub.get("results", []))
            answer["nodes"].extend(sub.get("nodes", []))
            answer["messages"] += sub.get("messages", 0)
            answer["partial"] = answer["partial"] or bool(sub.get("partial"))
            for node, reached in sub.get("hops_to", {}).items():
                answer["hops_to"][node] = min(reached, answer["hops_to"].get(node, reached))
        return answer

    @staticmethod
    def _checked(answer: dict | PeerError) -> dict | None:
        """A peer's answer, or None (counted as partial) whatever went wrong with it."""
        return None if isinstance(answer, PeerError) or not valid_answer(answer) else answer

    def _hit(self, record, hops: int) -> dict:
        me = self.me
        return {
            "name": record.name,
            "size": record.size,
            "sha256": record.sha256,
            "node": me["name"],
            "grpc": me["grpc"],
            "hops": hops,
        }
