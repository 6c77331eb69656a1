"""Where things went wrong: violations and failed operations by window and by node.

A zero-tolerance row judges the whole run ("156 incomplete answers"); this says where they fell
("155 in stress-160, 1 in level-20") and on which node. Each sample belongs to one window, the
one it started in; where windows nest (a fault inside the fault stage) the most specific wins: a
fault window, then a recovery window, then the stage (level, fault stage, stress step). Computed
from the raw samples alone, so a re-render gives the same table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from reports.evidence import FAULT, RECOVERY, Evidence, Window
from reports.samples import DERIVED_OPS, Sample

#: Window kinds from the least to the most specific (any other kind ranks below these).
SPECIFICITY = (RECOVERY, FAULT)
OUTSIDE = "outside any window"
WHOLE_RUN = "whole run"
NO_NODE = "–"
#: Windows named in a row's detail before the rest are counted.
SHOWN = 4

Violation = Callable[[Sample], bool]


def node_of(sample: Sample) -> str:
    """The node that served a sample (or was tried), as tables and charts name it."""
    return str(sample.get("node") or NO_NODE)


def _rank(window: Window) -> tuple[int, float]:
    """Later in this order wins: more specific kinds, then the later start (nested faults)."""
    kind = window.get("kind")
    return (SPECIFICITY.index(kind) + 1 if kind in SPECIFICITY else 0, window["start"])


def attribute(ev: Evidence) -> dict[int, str]:
    """The window each sample started in, by ``id(sample)`` (samples in none are left out)."""
    owner: dict[int, str] = {}
    for w in sorted(ev.windows, key=_rank):
        for s in ev.samples_in(w):
            owner[id(s)] = w["name"]
    return owner


def spread(ev: Evidence, samples: Iterable[Sample]) -> str:
    """``155 in stress-160, 1 in level-20``: where these samples (of ``ev``) fell, the most
    first; empty when the run recorded no windows."""
    if not ev.windows:
        return ""
    owner = attribute(ev)
    counts = Counter(owner.get(id(s), OUTSIDE) for s in samples)
    order = {w["name"]: i for i, w in enumerate(ev.windows)}
    top = sorted(counts.items(), key=lambda kv: (-kv[1], order.get(kv[0], len(order))))
    text = ", ".join(f"{n} in {name}" for name, n in top[:SHOWN])
    rest = sum(n for _, n in top[SHOWN:])
    return text + (f", {rest} in {len(top) - SHOWN} more" if rest else "")


def breakdown(ev: Evidence, violations: Mapping[str, Violation]) -> dict[str, Any]:
    """Per (window, node): requests, failed operations and each violation (``violations``: a
    criterion name and whether a sample shows it). Rows only where something went wrong, in
    time order; then every node over the whole run, and all nodes together."""
    owner = attribute(ev)
    names = list(violations)
    cells: dict[tuple[str, str], Counter[str]] = {}
    for s in ev.samples:
        key = (owner.get(id(s), OUTSIDE), node_of(s))
        cell = cells.setdefault(key, Counter())
        if s.get("op") not in DERIVED_OPS:  # a whole operation
            cell["requests"] += 1
            cell["failed"] += not s.get("ok")
        for name, shows in violations.items():
            cell[name] += shows(s)
    order = {w["name"]: i for i, w in enumerate(ev.windows)}
    wrong = sorted(
        (key for key, c in cells.items() if c["failed"] or any(c[n] for n in names)),
        key=lambda k: (order.get(k[0], len(order)), k[1]),
    )
    nodes: dict[str, Counter[str]] = {}
    for (_, node), c in sorted(cells.items(), key=lambda kv: kv[0][1]):
        nodes.setdefault(node, Counter()).update(c)
    total = sum(nodes.values(), Counter())
    return {
        "columns": names,
        "rows": [_row(window, node, cells[(window, node)], names) for window, node in wrong],
        "totals": [_row(WHOLE_RUN, node, c, names) for node, c in nodes.items()]
        + ([_row(WHOLE_RUN, "all", total, names)] if len(nodes) > 1 else []),
    }


def _row(window: str, node: str, counts: Counter[str], names: list[str]) -> dict[str, Any]:
    return {
        "window": window,
        "node": node,
        "requests": counts["requests"],
        "failed": counts["failed"],
        "counts": [counts[n] for n in names],
    }
