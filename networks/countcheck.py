"""The ``counts`` check of conformance: a node's own totals (its metrics) count what it did.

An operator watches a network through the counts its nodes report; a counter that never moves,
counts a success as a failure or counts twice tells them a wrong story while every answer is
right, and no load run reads it. Where the network reports them (the ``counts`` capability), one
node is asked for a few searches and downloads while nothing else asks it for anything (the
initial verification), and its totals must rise by exactly that: the searches, the downloads
served to the end and their bytes, and no download failed.
"""

from __future__ import annotations

import time

from .adapter import (
    COUNTS,
    DOWNLOAD,
    SEARCH,
    SEARCHES,
    SERVED,
    SERVED_BYTES,
    SERVED_FAILED,
    Adapter,
    NodeInfo,
    Refused,
    Unavailable,
)
from .corpuscheck import download_problem
from .outcomes import FAIL, NOT_MEASURABLE, PASS
from .verify import Check

NAME = "counts"
ASKED = 3  # searches and downloads asked of the node
#: A server counts a stream once its handler returns, a moment after the client has the last
#: byte: the totals are read again until they add up or this runs out.
SETTLE_S = 2.0
POLL_S = 0.1
WORDS = {
    SEARCHES: "searches",
    SERVED: "downloads served",
    SERVED_FAILED: "failed",
    SERVED_BYTES: "bytes served",
}


def _read(net: Adapter, node: NodeInfo) -> dict[str, float] | str:
    try:
        return net.counts(node)
    except (Unavailable, Refused) as exc:
        return f"{node.name}'s counts could not be read: {exc}"


def _ask(net: Adapter, node: NodeInfo, file: dict) -> str | None:
    """``ASKED`` local searches and downloads of ``file`` from ``node``; what failed, or None."""
    for _ in range(ASKED):
        try:
            net.search(node, file["name"], 0)
        except (Unavailable, Refused) as exc:
            return f"a search from {node.name}: {exc}"
        if problem := download_problem(net, node, file):
            return problem
    return None


def _off(before: dict, after: dict, expected: dict) -> dict[str, tuple[float, float]]:
    """Keys whose rise is not the expected one: key -> (rise, expected)."""
    rises = {k: after[k] - before[k] for k in expected if k in before and k in after}
    return {k: (rise, expected[k]) for k, rise in rises.items() if rise != expected[k]}


def check_counts(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not net.has(COUNTS):
        return Check(NAME, NOT_MEASURABLE, "the network does not report its nodes' own counts")
    node = next((n for n in nodes if n.files), None)
    if node is None or not (net.has(SEARCH) and net.has(DOWNLOAD)):
        return Check(NAME, NOT_MEASURABLE, "no seeded file to search for and download")
    file = node.files[0]
    before = _read(net, node)
    if isinstance(before, str):
        return Check(NAME, FAIL, before)
    if problem := _ask(net, node, file):
        return Check(NAME, NOT_MEASURABLE, f"the work to count failed: {problem}")
    served_bytes = ASKED * file["size"]
    expected = {SEARCHES: ASKED, SERVED: ASKED, SERVED_FAILED: 0, SERVED_BYTES: served_bytes}
    deadline = time.monotonic() + SETTLE_S
    while True:
        after = _read(net, node)
        if isinstance(after, str):
            return Check(NAME, FAIL, after)
        off = _off(before, after, expected)
        over = any(rise > want for rise, want in off.values())
        if not off or over or time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)
    asked = f"{ASKED} searches from {node.name} and {ASKED} downloads of a {file['size']}-byte file"
    if off:
        wrong = "; ".join(f"{k} rose by {rise:g}, not {want:g}" for k, (rise, want) in off.items())
        return Check(NAME, FAIL, f"after {asked}: {wrong}")
    kept = [k for k in expected if k in before and k in after]
    counted = ", ".join(f"{expected[k]} {WORDS[k]}" for k in kept)
    missing = [k for k in expected if k not in kept]
    unverified = f"; unverified: {', '.join(missing)} (not reported)" if missing else ""
    return Check(NAME, PASS, f"after {asked}, {node.name} counted {counted}{unverified}")
