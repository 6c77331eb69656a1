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
- **simultaneous_ops**: by default the highest user level whose window met the success criterion
  (the spec's "simultaneous operations" are concurrent clients); the peak of requests really in
  flight at once is in the detail. ``concurrency_basis = "inflight"`` judges that peak instead.
- **stress_success**: success in the first stress window (the first load beyond the Phase 4
  levels). The ramp goes on past it only to find the breaking point, which by construction fails;
  that point is reported by the recommendations, not judged.
"""

from __future__ import annotations

from collections.abc import Callable

from reports.evidence import FAULT, LOAD_KINDS, STEADY_KINDS, STRESS, Evidence, Window
from reports.result import COUNT, FAIL, MS, OPS_S, PASS, PCT, SECONDS, Check, Result, fmt
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
    check = Check("success_rate", ">", th.success_pct, PCT, th.min_samples)
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return check.missing("levels", "no level windows")
    reqs = {w["name"]: ev.in_window(w) for w in windows}
    return [check.on(k, success_rate(r), len(r), _errors(r)) for k, r in reqs.items()]


def simultaneous_ops(ev: Evidence, th: Thresholds) -> list[Result]:
    """Most operations handled at once: in-flight successful requests, or the user level."""
    check = Check("simultaneous_ops", ">", th.concurrency, COUNT, th.min_samples)
    windows = ev.of_kind(*STEADY_KINDS) or [{"name": "run", "start": ev.t0, "end": ev.t_end + 1}]
    best: tuple[float, str] = (0.0, windows[0]["name"])
    total, inflight = 0, 0
    for w in windows:
        reqs = ev.in_window(w)
        total += len(reqs)
        inflight = max(inflight, max_concurrency(reqs, ok_only=True))
        if th.concurrency_basis == "users":
            rate = success_rate(reqs)
            good = len(reqs) >= th.min_samples and rate is not None and rate > th.success_pct
            value = float(w.get("users") or 0) if good else 0.0
        else:
            value = float(max_concurrency(reqs, ok_only=True))
        best = max(best, (value, w["name"]), key=lambda b: b[0])
    detail = f"basis: {th.concurrency_basis}; peak in flight: {inflight}"
    return [check.on(best[1], best[0], total, detail)]


def sustained_throughput(ev: Evidence, th: Thresholds) -> list[Result]:
    """Successful ops/s over the best whole steady window."""
    check = Check("throughput", ">", th.throughput_ops, OPS_S, th.min_samples)
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return check.missing("levels", "no level windows")
    rated = [(w, ev.in_window(w), w["end"] - w["start"]) for w in windows]
    enough = [x for x in rated if len(x[1]) >= th.min_samples] or rated
    w, reqs, span = max(enough, key=lambda x: throughput(x[1], x[2]))
    return [check.on(w["name"], throughput(reqs, span), len(reqs), f"over {span:.0f} s")]


def _latency(ev: Evidence, check: Check, stat: Callable[[list[float]], float | None]):
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return check.missing("levels", "no level windows")
    reqs = {w["name"]: ev.in_window(w) for w in windows}
    return [check.on(k, stat(latencies(r)), len(r)) for k, r in reqs.items()]


def mean_response(ev: Evidence, th: Thresholds) -> list[Result]:
    """Mean response time below the limit in every steady window."""
    return _latency(ev, Check("mean_response", "<", th.mean_ms, MS, th.min_samples), mean)


def p95_response(ev: Evidence, th: Thresholds) -> list[Result]:
    """p95 per steady window: reported, and gated only when a threshold is configured."""
    check = Check("p95_response", "<", th.p95_ms, MS, th.min_samples)
    return _latency(ev, check, lambda values: percentile(values, 95))


def availability(ev: Evidence, th: Thresholds) -> list[Result]:
    """Successful share of every request outside stress windows."""
    check = Check("availability", ">", th.availability_pct, PCT, th.min_samples)
    stress = ev.of_kind(STRESS)
    reqs = [s for s in ev.requests if not any(w["start"] <= s["t"] < w["end"] for w in stress)]
    detail = ""
    if ev.series:
        whole = sum(1 for r in ev.series if all_alive(r)) / len(ev.series) * 100
        detail = f"monitor: all nodes alive in {whole:.1f}% of rows"
    return [check.on("run (excl. stress)", success_rate(reqs), len(reqs), detail)]


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
    check = Check("single_node_failure", ">", th.failover_pct, PCT, th.min_samples)
    windows = single_node_windows(ev)
    if not windows:
        return check.missing("faults", "no single-node fault windows")
    out = []
    for w in windows:
        searches = select(ev.in_window(w), op="search")
        overlaps = ", ".join(o["name"] for o in ev.overlapping(w, FAULT))
        notes = [f"{w.get('fault_kind')} {w['target']}", _errors(searches)]
        notes.append(f"overlaps {overlaps}" if overlaps else "")
        detail = "; ".join(filter(None, notes))
        out.append(check.on(w["name"], success_rate(searches), len(searches), detail))
    return out


def recovery(ev: Evidence, th: Thresholds) -> list[Result]:
    """After each fault the cluster is back to N/N alive, automatically (and in time, if set).

    ``n`` is the number of monitor rows looked at after the heal; ``min_samples`` does not apply.
    """
    expect = "N/N alive" + ("" if th.recovery_s is None else f" in < {th.recovery_s:g} s")
    check = Check("recovery", "<", th.recovery_s, SECONDS, 1, expect)
    timings = fault_timings(ev)
    if not timings:
        return check.missing("faults", "no fault windows")
    out = []
    for ft in timings:
        since = f"after {', '.join(ft.enclosed_by)} ended; " if ft.enclosed_by else ""
        if ft.recovered is None:
            out.append(check.missing(ft.window, "no monitor rows or fault result after heal")[0])
        elif not ft.recovered:
            out.append(check.result(ft.window, None, FAIL, ft.rows, f"{since}never back to N/N"))
        else:
            late = th.recovery_s is not None and not ft.recovered_s < th.recovery_s
            detail = f"{since}N/N alive after {fmt(ft.recovered_s, SECONDS)} ({ft.source})"
            verdict = FAIL if late else PASS
            out.append(check.result(ft.window, ft.recovered_s, verdict, ft.rows, detail))
    return out


def stress_success(ev: Evidence, th: Thresholds) -> list[Result]:
    """Success in the first stress window, at least the stress threshold."""
    check = Check("stress_success", ">=", th.stress_pct, PCT, th.min_samples)
    windows = ev.of_kind(STRESS)
    if not windows:
        return check.missing("stress", "no stress windows")
    first = windows[0]
    reqs = ev.in_window(first)
    peak = max((w.get("users") or 0) for w in windows)
    steps = len(windows)
    detail = f"{first.get('users')} users; the ramp went on to {peak} users in {steps} step(s)"
    return [check.on(first["name"], success_rate(reqs), len(reqs), detail)]


def protocol_progress(ev: Evidence, th: Thresholds) -> list[Result]:
    """REST and gRPC each complete at least one request in every window with traffic."""
    check = Check("rest_grpc_progress", ">=", 1.0, COUNT, th.min_samples)
    out = []
    for w in ev.of_kind(*LOAD_KINDS):
        reqs = ev.in_window(w)
        if reqs:
            rest = len(select(reqs, proto="rest", ok=True))
            grpc = len(select(reqs, proto="grpc", ok=True))
            detail = f"REST ok {rest}, gRPC ok {grpc}"
            out.append(check.on(w["name"], float(min(rest, grpc)), len(reqs), detail))
    return out or check.missing("run", "no traffic in load windows")


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
