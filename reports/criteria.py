"""Readiness criteria: small pure functions over ``Evidence`` returning ``Result`` rows.

Each criterion is judged over the windows it is about (DESIGN.md, "Readiness criteria") from the
raw requests that started inside them. A window with fewer than ``min_samples`` requests is
"insufficient": too little evidence is never a pass. Definitions worth stating:

- **availability**: share of successful requests over the whole test, stress windows excluded
  (stress is meant to break things). The monitor's "all nodes alive" share is in the detail.
- **throughput**: successful ops/s over a whole steady window; the criterion takes the best steady
  window, since low user levels are load-bound by design (5 users cannot make 10 ops/s).
- **single_node_failure**: search success inside each fault window that takes down or isolates
  one named node; clients are expected to fail over to the two remaining nodes.
- **stress_success**: success over all stress windows together; the breaking point (first stress
  window below the threshold) is reported by the recommendations.
"""

from __future__ import annotations

from collections.abc import Callable

from reports.evidence import FAULT, LOAD_KINDS, STEADY_KINDS, STRESS, Evidence, Window
from reports.result import (
    COUNT,
    FAIL,
    INSUFFICIENT,
    MS,
    OPS_S,
    PASS,
    PCT,
    SECONDS,
    Result,
    fmt,
    judge,
    missing,
    replace_result,
)
from reports.samples import (
    Sample,
    latencies,
    max_concurrency,
    mean,
    percentile,
    select,
    success_rate,
    throughput,
    top_errors,
)
from reports.series import all_alive, fault_timings
from reports.thresholds import Thresholds

#: Fault kinds that take one node out of service (down, frozen or cut off).
NODE_FAULT_KINDS = frozenset({"crash", "kill", "stop", "pause", "partition"})
#: Plan targets that name a group rather than one node (resolved windows should not carry them).
GROUP_TARGETS = frozenset({"each", "one", "minority", "halves", "all"})


def _errors(reqs: list[Sample]) -> str:
    errs = top_errors(reqs)
    return "errors: " + ", ".join(f"{e} ×{c}" for e, c in errs) if errs else ""


def success_rate_levels(ev: Evidence, th: Thresholds) -> list[Result]:
    """Success > threshold in every concurrency-level and baseline window."""
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return missing("success_rate", "levels", ">", th.success_pct, PCT, "no level windows")
    out = []
    for w in windows:
        reqs = ev.in_window(w)
        out.append(
            judge(
                "success_rate",
                w["name"],
                success_rate(reqs),
                th.success_pct,
                ">",
                len(reqs),
                th,
                unit=PCT,
                detail=_errors(reqs),
            )
        )
    return out


def simultaneous_ops(ev: Evidence, th: Thresholds) -> list[Result]:
    """Most operations handled at once: in-flight successful requests, or the user level."""
    windows = ev.of_kind(*STEADY_KINDS) or [{"name": "run", "start": ev.t0, "end": ev.t_end + 1}]
    best: tuple[float, str] = (0.0, windows[0]["name"])
    total = 0
    for w in windows:
        reqs = ev.in_window(w)
        total += len(reqs)
        if th.concurrency_basis == "users":
            rate = success_rate(reqs)
            good = len(reqs) >= th.min_samples and rate is not None and rate > th.success_pct
            value = float(w.get("users") or 0) if good else 0.0
        else:
            value = float(max_concurrency(reqs, ok_only=True))
        best = max(best, (value, w["name"]), key=lambda b: b[0])
    detail = f"basis: {th.concurrency_basis}; peak in {best[1]}"
    return [
        judge(
            "simultaneous_ops",
            best[1],
            best[0],
            th.concurrency,
            ">",
            total,
            th,
            unit=COUNT,
            detail=detail,
        )
    ]


def sustained_throughput(ev: Evidence, th: Thresholds) -> list[Result]:
    """Successful ops/s over the best whole steady window."""
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return missing("throughput", "levels", ">", th.throughput_ops, OPS_S, "no level windows")
    rated = [(w, ev.in_window(w)) for w in windows]
    enough = [(w, r) for w, r in rated if len(r) >= th.min_samples] or rated
    w, reqs = max(enough, key=lambda wr: throughput(wr[1], wr[0]["end"] - wr[0]["start"]))
    value = throughput(reqs, w["end"] - w["start"])
    return [
        judge(
            "throughput",
            w["name"],
            value,
            th.throughput_ops,
            ">",
            len(reqs),
            th,
            unit=OPS_S,
            detail=f"over {w['end'] - w['start']:.0f} s",
        )
    ]


def _latency_per_window(ev: Evidence, th: Thresholds, name: str, limit: float | None, stat):
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return missing(name, "levels", "<", limit, MS, "no level windows")
    out = []
    for w in windows:
        reqs = ev.in_window(w)
        out.append(
            judge(name, w["name"], stat(latencies(reqs)), limit, "<", len(reqs), th, unit=MS)
        )
    return out


def mean_response(ev: Evidence, th: Thresholds) -> list[Result]:
    """Mean response time below the limit in every steady window."""
    return _latency_per_window(ev, th, "mean_response", th.mean_ms, mean)


def p95_response(ev: Evidence, th: Thresholds) -> list[Result]:
    """p95 per steady window: reported, and gated only when a threshold is configured."""
    return _latency_per_window(ev, th, "p95_response", th.p95_ms, lambda v: percentile(v, 95))


def availability(ev: Evidence, th: Thresholds) -> list[Result]:
    """Successful share of every request outside stress windows."""
    stress = ev.of_kind(STRESS)
    reqs = [s for s in ev.requests if not any(w["start"] <= s["t"] < w["end"] for w in stress)]
    detail = ""
    if ev.series:
        whole = sum(1 for r in ev.series if all_alive(r)) / len(ev.series) * 100
        detail = f"monitor: all nodes alive in {whole:.1f}% of rows"
    return [
        judge(
            "availability",
            "run (excl. stress)",
            success_rate(reqs),
            th.availability_pct,
            ">",
            len(reqs),
            th,
            unit=PCT,
            detail=detail,
        )
    ]


def single_node_windows(ev: Evidence) -> list[Window]:
    """Fault windows that take one named node out of service."""
    return [
        w
        for w in ev.of_kind(FAULT)
        if w.get("fault_kind") in NODE_FAULT_KINDS
        and isinstance(w.get("target"), str)
        and w["target"] not in GROUP_TARGETS
        and "," not in w["target"]
    ]


def single_node_failure(ev: Evidence, th: Thresholds) -> list[Result]:
    """Searches keep succeeding (failing over to 2 of 3 nodes) during each single-node fault."""
    windows = single_node_windows(ev)
    if not windows:
        return missing(
            "single_node_failure",
            "faults",
            ">",
            th.failover_pct,
            PCT,
            "no single-node fault windows",
        )
    out = []
    for w in windows:
        searches = select(ev.in_window(w), op="search")
        notes = [f"{w.get('fault_kind')} {w['target']}", _errors(searches)]
        overlaps = [o["name"] for o in ev.overlapping(w, FAULT)]
        if overlaps:
            notes.append("overlaps " + ", ".join(overlaps))
        out.append(
            judge(
                "single_node_failure",
                w["name"],
                success_rate(searches),
                th.failover_pct,
                ">",
                len(searches),
                th,
                unit=PCT,
                detail="; ".join(filter(None, notes)),
            )
        )
    return out


def recovery(ev: Evidence, th: Thresholds) -> list[Result]:
    """After each fault the cluster is back to N/N alive, automatically (and in time, if set)."""
    timings = fault_timings(ev)
    if not timings:
        return missing("recovery", "faults", "<", th.recovery_s, SECONDS, "no fault windows")
    out = []
    for ft in timings:
        since = f"after {', '.join(ft.enclosed_by)} ended; " if ft.enclosed_by else ""
        base = Result(
            "recovery",
            ft.window,
            ft.recovered_s,
            th.recovery_s,
            "<",
            INSUFFICIENT,
            ft.rows,
            SECONDS,
        )
        if ft.recovered is None:
            out.append(replace_result(base, detail="no monitor rows or fault result after heal"))
        elif not ft.recovered:
            out.append(replace_result(base, verdict=FAIL, detail=f"{since}never back to N/N alive"))
        else:
            late = th.recovery_s is not None and not ft.recovered_s < th.recovery_s
            detail = f"{since}N/N alive after {fmt(ft.recovered_s, SECONDS)} ({ft.source})"
            out.append(replace_result(base, verdict=FAIL if late else PASS, detail=detail))
    return out


def stress_success(ev: Evidence, th: Thresholds) -> list[Result]:
    """Success over all stress windows together, at least the stress threshold."""
    windows = ev.of_kind(STRESS)
    if not windows:
        return missing("stress_success", "stress", ">=", th.stress_pct, PCT, "no stress windows")
    reqs = [s for w in windows for s in ev.in_window(w)]
    name = windows[0]["name"] if len(windows) == 1 else "stress"
    peak = max((w.get("users") or 0) for w in windows)
    return [
        judge(
            "stress_success",
            name,
            success_rate(reqs),
            th.stress_pct,
            ">=",
            len(reqs),
            th,
            unit=PCT,
            detail=f"{len(windows)} window(s), up to {peak} users",
        )
    ]


def protocol_progress(ev: Evidence, th: Thresholds) -> list[Result]:
    """REST and gRPC each complete at least one request in every window with traffic."""
    out = []
    for w in ev.of_kind(*LOAD_KINDS):
        reqs = ev.in_window(w)
        if not reqs:
            continue
        rest, grpc = (
            len(select(reqs, proto="rest", ok=True)),
            len(select(reqs, proto="grpc", ok=True)),
        )
        out.append(
            judge(
                "rest_grpc_progress",
                w["name"],
                float(min(rest, grpc)),
                1.0,
                ">=",
                len(reqs),
                th,
                unit=COUNT,
                detail=f"REST ok {rest}, gRPC ok {grpc}",
            )
        )
    return out or missing("rest_grpc_progress", "run", ">=", 1.0, COUNT, "no traffic in windows")


#: Every criterion, in the order of DESIGN.md's table (the verdict reports the first failure).
CRITERIA: tuple[Callable[[Evidence, Thresholds], list[Result]], ...] = (
    success_rate_levels,
    simultaneous_ops,
    sustained_throughput,
    mean_response,
    p95_response,
    availability,
    single_node_failure,
    recovery,
    stress_success,
    protocol_progress,
)


def evaluate(ev: Evidence, th: Thresholds) -> list[Result]:
    """All criteria over the evidence, flattened in table order."""
    return [result for criterion in CRITERIA for result in criterion(ev, th)]
