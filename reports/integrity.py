"""Acknowledged uploads after the run: still there, with the bytes acknowledged, and findable.

The harness records what it observed of each acknowledged upload once the run had settled (one
file list per node, a search from another node for a sample of them); the counts the verdict
judges (``acked_writes``, ``acked_searchable``) are made here from those observations, so
``python -m reports DIR`` re-judges them. A run recorded before observations were kept carries
only its counts: they are read as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

#: Names of the uploads a summary gives as examples of what went wrong.
EXAMPLES_KEPT = 10
#: The key of the per-upload observations in a run's ``integrity`` record.
OBSERVATIONS = "observations"


def observation(
    item: dict, listed: dict[str, str | None] | None, found: bool | None
) -> dict[str, Any]:
    """What was seen of one acknowledged upload: ``listed`` is its node's file list (name ->
    sha256 or None when the network gives none; None when the list could not be had), ``found``
    whether a search from another node found it (None: not searched)."""
    present = None if listed is None else item["name"] in listed
    digest = listed.get(item["name"]) if listed is not None and present else None
    return {"name": item["name"], "node": item["node"], "sha256": item["sha256"],
            "listed": present, "listed_sha256": digest, "found": found}  # fmt: skip


def wipe_times(windows: Iterable[dict] | None) -> dict[str, list[float]]:
    """node -> when each fault that wiped its data (churn with data = "wipe") began."""
    out: dict[str, list[float]] = {}
    for w in windows or ():
        if w.get("kind") == "fault" and w.get("wipes") and w.get("target"):
            out.setdefault(w["target"], []).append(float(w["start"]))
    return out


def wiped_after(wipes: dict[str, list[float]], node: str, since: float) -> float:
    """The first wipe of ``node``'s data at or after ``since`` (inf: none)."""
    return min((t for t in wipes.get(node, ()) if t >= since), default=math.inf)


def gone_with_data(windows: Iterable[dict] | None, acked: Iterable[dict] | None) -> set[str]:
    """Acknowledged uploads on a node whose data a fault wiped after the acknowledgement: gone
    with the node's data by the plan, never lost by the network."""
    wipes = wipe_times(windows)
    return {
        a["name"]
        for a in acked or ()
        if wiped_after(wipes, a.get("node", ""), float(a.get("t", -math.inf))) < math.inf
    }


def is_lost(o: dict) -> bool:
    return o["listed"] is False


def is_corrupt(o: dict) -> bool:
    return bool(o["listed"]) and o["listed_sha256"] not in (None, o["sha256"])


def summary(observations: Iterable[dict], gone: set[str] | frozenset[str] = frozenset()) -> dict:
    """The counts judged: acknowledged, lost, corrupt, searched and not found; examples of the
    lost or changed, and of the not found. Uploads in ``gone`` (their node's data was wiped
    after them: ``gone_with_data``) are counted apart and judged neither way."""
    everything = list(observations)
    seen = [o for o in everything if o["name"] not in gone]
    lost = [o["name"] for o in seen if is_lost(o)]
    corrupt = [o["name"] for o in seen if is_corrupt(o)]
    searched = [o for o in seen if o["found"] is not None]
    unsearchable = [o["name"] for o in searched if not o["found"]]
    return {
        "acked_uploads": len(seen),
        "lost": len(lost),
        "corrupt": len(corrupt),
        "searchable_checked": len(searched),
        "unsearchable": len(unsearchable),
        "examples": (lost + corrupt)[:EXAMPLES_KEPT],
        "unsearchable_examples": unsearchable[:EXAMPLES_KEPT],
        "gone_with_data": len(everything) - len(seen),
    }


def of_run(recorded: dict | None, gone: set[str] | frozenset[str] = frozenset()) -> dict:
    """A run's integrity as judged: the summary of its observations (``gone``: see
    ``summary``), or its recorded counts (older runs), or {} when it was not checked."""
    if not recorded:
        return {}
    if OBSERVATIONS in recorded:
        return {**summary(recorded[OBSERVATIONS], gone), OBSERVATIONS: recorded[OBSERVATIONS]}
    return dict(recorded)
