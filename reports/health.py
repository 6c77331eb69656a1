"""Protocol health, per TTL asked: how far the searches reached against what the links allowed,
what they found against what was there, and what each flood cost.

Computed from the checker's model (``reports.checker``) for every answer it judged, except the
*unknown* ones (near a fault's boundary: no claim either way) and answers whose origin was down.
Per answer: the live nodes within TTL hops of its origin over links up for the whole search
(``Model.hops``), the share of them the answer says answered (``reached``), the required hits it
returned against the required hits there were, its peer messages against its flood bound, and
its duplicate copies (messages beyond the first copy each reached node needed). Reported, not
judged: the judged rows are ``missing_hits``, ``beyond_ttl``, ``duplicate_hits`` and
``flood_cost``; this section says where a network stands when it passes them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from reports.checker import BEYOND_TTL, UNKNOWN, check, flood_bound, is_answer
from reports.evidence import Evidence
from reports.model import Model
from reports.samples import Sample


def _facts(model: Model, s: Sample) -> dict[str, Any]:
    """One answer's reach, hits and flood cost against the model."""
    t0 = s["t"]
    t1 = t0 + float(s["latency_ms"]) / 1000
    ttl, origin = s["ttl"], s["node"]
    up = model.hops(origin, t0, t1, required=True)
    near = {n for n, d in up.items() if d <= ttl}
    reached = s.get("reached")
    reach = len(near & set(reached)) / len(near) if isinstance(reached, list) and near else None
    present = {(h[0], h[1]) for h in s["hits"] if isinstance(h, list | tuple) and len(h) >= 2}
    required = [
        (f.node, f.name)
        for f in model.matching(s["term"])
        if f.required(t0, t1) and up.get(f.node, math.inf) <= ttl
    ]
    messages = s.get("messages") if isinstance(s.get("messages"), int) else None
    bound = flood_bound(model.seen, origin, ttl)
    copies = len(reached) - 1 if isinstance(reached, list) and reached else None
    return {
        "reach": reach,
        "required": len(required),
        "found": sum(h in present for h in required),
        "messages": messages,
        "over": messages is not None and messages > bound,
        "duplicates": None if messages is None or copies is None else max(0, messages - copies),
    }


def table(ev: Evidence) -> list[dict[str, Any]]:
    """One row per TTL asked: answers judged, mean reach, hits found of required, messages per
    query (mean, max), answers over their flood bound, duplicate copies per query, answers with
    a hit from beyond the TTL. Empty when the run has no model or no judged answer."""
    checked = check(ev)
    model = checked.model
    if model is None:
        return []
    by_ttl: dict[int, list[dict[str, Any]]] = defaultdict(list)
    beyond: dict[int, int] = defaultdict(int)
    for s in checked.answers:
        j = checked.of(s)
        if j is None or j.answer == UNKNOWN or not is_answer(s):
            continue
        by_ttl[s["ttl"]].append(_facts(model, s))
        beyond[s["ttl"]] += j.hits[BEYOND_TTL] > 0
    return [_row(ttl, facts, beyond[ttl]) for ttl, facts in sorted(by_ttl.items())]


def _row(ttl: int, facts: list[dict[str, Any]], beyond: int) -> dict[str, Any]:
    reaches = [f["reach"] for f in facts if f["reach"] is not None]
    messages = [f["messages"] for f in facts if f["messages"] is not None]
    duplicates = [f["duplicates"] for f in facts if f["duplicates"] is not None]
    required = sum(f["required"] for f in facts)
    return {
        "ttl": ttl,
        "answers": len(facts),
        "reach": sum(reaches) / len(reaches) if reaches else None,
        "hits_found": sum(f["found"] for f in facts),
        "hits_required": required,
        "messages_mean": sum(messages) / len(messages) if messages else None,
        "messages_max": max(messages) if messages else None,
        "over_bound": sum(f["over"] for f in facts),
        "duplicates_mean": sum(duplicates) / len(duplicates) if duplicates else None,
        "beyond_ttl": beyond,
    }


def rows(ev: Evidence) -> list[dict[str, str]]:
    """``table`` formatted for the reports (a dash where the network gives no figure)."""

    def num(v: float | None, fmt: str) -> str:
        return "–" if v is None else format(v, fmt)

    return [
        {
            "ttl": str(r["ttl"]),
            "answers": str(r["answers"]),
            "reach": num(r["reach"], ".1%"),
            "hits": f"{r['hits_found']} of {r['hits_required']}",
            "messages": f"{num(r['messages_mean'], '.1f')} ({num(r['messages_max'], 'd')})",
            "over_bound": str(r["over_bound"]),
            "duplicates": num(r["duplicates_mean"], ".1f"),
            "beyond_ttl": str(r["beyond_ttl"]),
        }
        for r in table(ev)
    ]
