"""Helpers over the monitor series: fault detection and recovery times, per-node resources.

Monitor rows (docs/contracts.md) are sampled every second or two by the Locust monitor; they are
the only place that says how many nodes answered at a given instant, and what CPU the machine,
the load generator and each node used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from reports import service
from reports.evidence import FAULT, LEVEL, Evidence, Window
from reports.samples import mean, percentile

Row = dict[str, Any]


@dataclass(frozen=True)
class FaultTiming:
    """When a fault was seen and when the network was whole again, for one fault window.

    ``detected_s`` counts from the fault's start until every survivor stopped routing queries to
    the target (marked it dead; for a partition, both sides): it comes only from the faults
    side's probes of the nodes' own views, never from the monitor (a node that stops answering
    /health is not a node the others have noticed). ``recovered_s`` counts from
    ``measured_from`` (the fault's end, or the end of a fault window enclosing it: nothing can be
    whole before that). ``recovered`` is ``None`` when there is no evidence either way;
    ``service_s`` is the time until search success was back to the last level's
    (``reports.service``).
    """

    window: str
    fault_id: str | None
    kind: str | None
    target: str | None
    start: float
    end: float
    measured_from: float
    enclosed_by: tuple[str, ...]
    detected_s: float | None
    recovered_s: float | None
    recovered: bool | None
    source: str
    rows: int
    detection_measured: bool = False
    service_s: float | None = None
    service_measured: bool = False
    #: How long after the heal recovery was watched (None: until the run's end, by the monitor).
    watched_s: float | None = None


def rows_between(series: list[Row], start: float, end: float) -> list[Row]:
    """Monitor rows with ``start <= t < end``."""
    return [r for r in series if start <= r["t"] < end]


def intervals(series: list[Row]) -> list[tuple[float, Row]]:
    """Each row after the first with the time its readings cover from: a reading (CPU, the
    machine's) averages the interval since the row before it."""
    return [(prev["t"], row) for prev, row in zip(series, series[1:], strict=False)]


def all_alive(row: Row) -> bool:
    """True when every node of the cluster answered in this row."""
    return row.get("nodes_alive", 0) >= row.get("nodes_total", 0) > 0


def effective_end(window: Window, faults: list[Window]) -> tuple[float, tuple[str, ...]]:
    """End of ``window`` pushed past every fault window still active at that moment."""
    end, chain = window["end"], []
    moved = True
    while moved:
        moved = False
        for f in faults:
            if f is not window and f["start"] <= end < f["end"] and f["name"] not in chain:
                end, moved = f["end"], True
                chain.append(f["name"])
    return end, tuple(chain)


def _deadline(ev: Evidence, window: Window, enclosing: tuple[str, ...]) -> float:
    """Last instant recovery may be observed: the latest recovery window of the chain."""
    chain = [window] + [w for w in ev.windows if w["name"] in enclosing]
    ends = [rw["end"] for w in chain if (rw := ev.recovery_window(w)) is not None]
    return max(ends) if ends else math.inf


def fault_timing(ev: Evidence, window: Window) -> FaultTiming:
    """Detection and recovery for one fault window: the faults side's numbers, else the monitor."""
    faults = ev.of_kind(FAULT)
    measured_from, enclosing = effective_end(window, faults)
    during = rows_between(ev.series, window["start"], window["end"])
    after = rows_between(ev.series, measured_from, _deadline(ev, window, enclosing))
    whole = next((r for r in after if all_alive(r)), None)
    recovered_s = whole["t"] - measured_from if whole else None
    recovered: bool | None = whole is not None if after else None
    source = "monitor" if during or after else "none"
    entry = ev.fault_result(window) or {}
    detected = entry.get("detected_s")
    service_measured, service = _service(ev, window, entry)
    if entry:
        if "recovered_s" in entry or "recovered" in entry:
            recovered_s = entry.get("recovered_s")
            recovered = bool(entry.get("recovered", recovered_s is not None))
            source = "fault_results"
    return FaultTiming(
        window=window["name"],
        fault_id=window.get("fault_id"),
        kind=window.get("fault_kind"),
        target=window.get("target"),
        start=window["start"],
        end=window["end"],
        measured_from=measured_from,
        enclosed_by=enclosing,
        detected_s=None if detected is None else float(detected),
        recovered_s=recovered_s,
        recovered=recovered,
        source=source,
        rows=len(after),
        detection_measured="detected_s" in entry,
        service_s=service,
        service_measured=service_measured,
        watched_s=entry.get("recovery_watched_s") if source == "fault_results" else None,
    )


def _service(ev: Evidence, window: Window, entry: dict) -> tuple[bool, float | None]:
    """``reports.service.after_heal`` for ``window``; not measurable without a faults-side
    entry (no heal was run)."""
    if not entry:
        return False, None
    if "service_baseline" not in ev.memo:
        ev.memo["service_baseline"] = service.search_baseline(ev.requests, ev.of_kind(LEVEL))
    baseline = ev.memo["service_baseline"]
    healed_by = entry.get("healed_by", service.SCHEDULED)
    return service.after_heal(ev.requests, baseline, window["end"], healed_by)


def fault_timings(ev: Evidence) -> list[FaultTiming]:
    """``fault_timing`` for every fault window, in time order."""
    return [fault_timing(ev, w) for w in ev.of_kind(FAULT)]


def values(series: list[Row], key: str) -> list[float | None]:
    """One numeric column of the rows (``machine_cpu``, ``generator_cpu_total``...), aligned
    with them: None where a row has no reading (a gap, never a zero)."""
    return [float(v) if isinstance(v := r.get(key), int | float) else None for r in series]


def per_node(series: list[Row], key: str) -> dict[str, list[float]]:
    """Values of a per-node mapping column (``cpu``, ``rss_mb``, ``rtt_ms``) by node or pair."""
    out: dict[str, list[float]] = {}
    for row in series:
        for name, value in (row.get(key) or {}).items():
            if value is not None:
                out.setdefault(name, []).append(float(value))
    return dict(sorted(out.items()))


def stats(values: list[float]) -> dict[str, float | None]:
    """Mean, p95 (nearest rank) and max of a list of readings."""
    return {
        "mean": mean(values),
        "p95": percentile(values, 95),
        "max": max(values) if values else None,
    }


def resources(series: list[Row]) -> dict[str, dict[str, dict[str, float | None]]]:
    """CPU %, RSS MB and RTT ms statistics per node (or node pair for RTT)."""
    return {
        key: {name: stats(values) for name, values in per_node(series, key).items()}
        for key in ("cpu", "rss_mb", "rtt_ms")
    }
