"""What a search can reach on a topology: the TTL that reaches a node, who is within k hops,
and what a TTL-k answer got wrong (networks/verify.py's checks, the integrity check).

Without a topology (nodes given by URL, a descriptor from before topologies) every node is
taken to be within ``SEARCH_TTL``, the checks' assumption for a full mesh.
"""

from __future__ import annotations

import re
from collections import Counter

from .adapter import Hit, NodeInfo
from .topology import Topology

SEARCH_TTL = 3
#: The highest TTL a check asks for (Gnutella's classic 7; peerload's node caps there too).
MAX_TTL = 7


def within(topology: Topology | None, origin: str, ttl: int) -> set[str] | Everyone:
    """The nodes a search with ``ttl`` from ``origin`` may reach (everyone if unknown)."""
    return Everyone() if topology is None else topology.within(origin, ttl)


class Everyone:
    """Every node is within reach (links unknown: the search check's old assumption)."""

    def __contains__(self, name: object) -> bool:
        return True


def search_ttl(topology: Topology | None, origin: str, target: str | None = None) -> int:
    """A TTL that reaches ``target`` (every node when None) from ``origin``: ``SEARCH_TTL``
    unless the topology needs more, at most ``MAX_TTL``."""
    if topology is None:
        return SEARCH_TTL
    hops = topology.eccentricity(origin) if target is None else topology.hops_from(origin)[target]
    return min(MAX_TTL, max(SEARCH_TTL, hops))


def searcher(nodes: list[NodeInfo], owner: NodeInfo, topology: Topology | None) -> NodeInfo:
    """Who searches for ``owner``'s file: the next node, or on a topology its first neighbour."""
    if topology is not None and topology.neighbours(owner.name):
        return next(n for n in nodes if n.name == topology.neighbours(owner.name)[0])
    return nodes[(nodes.index(owner) + 1) % len(nodes)]


def shared_term(nodes: list[NodeInfo]) -> str | None:
    """A word of every seeded node's first file name (the corpus gives each a popular word), so
    one search can hit every node; of those, the one in the fewest seeded names (the smallest
    answer). None if there is none."""
    seeded = [n for n in nodes if n.files]
    if not seeded:
        return None
    common = set.intersection(*(set(_words(n.files[0]["name"])) for n in seeded))
    uses = Counter(w for n in seeded for f in n.files for w in set(_words(f["name"])))
    return min(common, key=lambda w: (uses[w], w)) if common else None


def _words(name: str) -> list[str]:
    return re.findall(r"[A-Za-z0-9]+", name)


def depth_problems(
    hits: tuple[Hit, ...],
    reached: tuple[str, ...] | None,
    hops: dict[str, int],
    seeded: set[str],
    ttl: int,
) -> str | None:
    """What one TTL-``ttl`` answer got wrong, in one clause (None: nothing): hits or answers
    from beyond the TTL, hits claiming fewer hops than their node is away (a link the topology
    does not have), seeded nodes within the TTL missing. ``hops``: from the search's origin."""
    far = MAX_TTL + 1  # a node the topology does not know is beyond any TTL
    named = sorted({h.node for h in hits})
    beyond = [n for n in named + sorted(set(reached or ()) - set(named)) if hops.get(n, far) > ttl]
    short = sorted({h.node for h in hits if h.hops is not None and h.hops < hops.get(h.node, 0)})
    missing = sorted(n for n in seeded if hops[n] <= ttl and n not in named)
    parts = []
    if beyond:
        parts.append("hits from beyond TTL: " + _listed(beyond, hops))
    if short:
        parts.append("fewer hops claimed than the topology has: " + _listed(short, hops))
    if missing:
        parts.append("missing nodes within TTL: " + _listed(missing, hops))
    return "; ".join(parts) or None


def _listed(names: list[str], hops: dict[str, int], most: int = 5) -> str:
    """``n3 (2 hops), n4 (3 hops) and 2 more``."""
    shown = ", ".join(f"{n} ({_hops(hops.get(n))})" for n in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _hops(count: int | None) -> str:
    return "? hops" if count is None else f"{count} hop{'s' * (count != 1)}"
