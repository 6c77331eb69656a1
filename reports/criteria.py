"""Readiness criteria: small pure functions over ``Evidence`` returning ``Result`` rows.

Each criterion is judged over the windows it is about from the raw requests that started inside
them. A window with fewer than ``min_samples`` requests is "insufficient": too little evidence
is never a pass. This module holds the service criteria (load, latency, capacity) and the
registry of every criterion; correctness, faults, the harness and regression have modules of
their own. Definitions worth stating:

- **success_rate**: all operations pooled, per concurrency level (the specification's figure);
  **op_success_rate**, **mean_response**, **p95_response**: each operation on its own, per level
  where it has ``min_samples`` requests and over all levels pooled (always judged), so one broken
  operation cannot hide behind fast ones.
- **availability**: share of successful requests over the whole test, stress windows excluded
  (stress is meant to break things). The monitor's "all nodes alive" share is in the detail.
- **throughput**: successful ops/s over a whole steady window; the criterion takes the best steady
  window, since low user levels are load-bound by design (5 users cannot make 10 ops/s).
- **simultaneous_ops**: operations really in flight at once during a level's burst (its users
  without think time): the time-weighted median of the in-flight count, i.e. sustained for at
  least half of the burst; the peak is in the detail. ``concurrency_basis = "users"`` judges the
  highest user level whose window met the success criterion instead.
- **stress_success**: success in the first stress window (the first load beyond the Phase 4
  levels). **capacity** (reported): the highest stress step that held, the first that broke and
  why; a baseline run compares it.
"""

from __future__ import annotations

from collections.abc import Callable

from reports import (
    accuracy,
    answertime,
    correctness,
    crashes,
    harness,
    regression,
    resilience,
    resources,
    scaling,
    stated,
    statuses,
    stress,
)
from reports.evidence import FAULT, LOAD_KINDS, RECOVERY, STEADY_KINDS, STRESS, Evidence
from reports.rows import COUNT, MS, OPS_S, PCT, REPORTED, Check, Result
from reports.samples import (
    OPERATIONS,
    Sample,
    errors_text,
    inflight_profile,
    latencies,
    mean,
    operations,
    percentile,
    select,
    success_rate,
    throughput,
)
from reports.series import all_alive
from reports.thresholds import Thresholds

POOLED = "levels"


def success_rate_levels(ev: Evidence, th: Thresholds) -> list[Result]:
    """Success > threshold in every concurrency-level and baseline window."""
    check = Check("success_rate", ">", th.success_pct, PCT, th.min_samples)
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return check.missing("levels", "no level windows")
    reqs = {w["name"]: ev.in_window(w) for w in windows}
    return [check.on(k, success_rate(r), len(r), errors_text(r)) for k, r in reqs.items()]


def simultaneous_ops(ev: Evidence, th: Thresholds) -> list[Result]:
    """Operations handled at once: sustained in flight during a level's burst, or user level."""
    check = Check("simultaneous_ops", ">", th.concurrency, COUNT, th.min_samples)
    windows = ev.of_kind(*STEADY_KINDS) or [{"name": "run", "start": ev.t0, "end": ev.t_end + 1}]
    best: tuple[float, str, int, str] = (0.0, windows[0]["name"], 0, "")
    for w in windows:
        reqs = ev.in_window(w)
        if th.concurrency_basis == "users":
            rate = success_rate(reqs)
            good = len(reqs) >= th.min_samples and rate is not None and rate > th.success_pct
            value, n, note = (float(w.get("users") or 0) if good else 0.0), len(reqs), ""
        else:
            start = w.get("burst_start") or w["start"]
            burst = ev.between(start, w["end"])
            served = operations(select(ev.samples_in({**w, "start": start}), ok=True))
            peak, sustained = inflight_profile(served, start, w["end"])
            value, n = float(sustained), len(burst)
            note = f"burst of {w['end'] - start:.0f} s: sustained {sustained}, peak {peak}"
        if value >= best[0]:
            best = (value, w["name"], n, note)
    detail = "; ".join(filter(None, (f"basis: {th.concurrency_basis}", best[3])))
    return [check.on(best[1], best[0], best[2], detail)]


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


def judged_ops(ev: Evidence) -> tuple[str, ...]:
    """The operations judged one by one: the network's own, as the run status lists them."""
    return tuple(ev.status.get("operations") or OPERATIONS)


def _per_op(ev: Evidence, check: Check, stat: Callable[[list[Sample]], float | None]):
    """``stat`` of each operation per steady window with enough samples, and pooled."""
    windows = ev.of_kind(*STEADY_KINDS)
    if not windows:
        return check.missing(POOLED, "no level windows")
    out = []
    for op in OPERATIONS:
        if op not in judged_ops(ev):
            out += check.not_measurable(f"{POOLED} · {op}", f"it has no {op}")
    for op in judged_ops(ev):
        pooled: list[Sample] = []
        for w in windows:
            reqs = select(ev.samples_in(w), op=op)
            pooled += reqs
            if len(reqs) >= check.min_samples:
                out.append(check.on(f"{w['name']} · {op}", stat(reqs), len(reqs)))
        out.append(check.on(f"{POOLED} · {op}", stat(pooled), len(pooled), errors_text(pooled)))
    return out


def op_success_rate(ev: Evidence, th: Thresholds) -> list[Result]:
    """Success of each operation on its own, per level and over all levels."""
    check = Check("op_success_rate", ">", th.success_pct, PCT, th.min_samples)
    return _per_op(ev, check, success_rate)


def mean_response(ev: Evidence, th: Thresholds) -> list[Result]:
    """Mean response time of each operation below the limit, per level and pooled."""
    check = Check("mean_response", "<", th.mean_ms, MS, th.min_samples)
    return _per_op(ev, check, lambda reqs: mean(latencies(reqs)))


def p95_response(ev: Evidence, th: Thresholds) -> list[Result]:
    """p95 of each operation: reported, and gated only when a threshold is configured."""
    check = Check("p95_response", "<", th.p95_ms, MS, th.min_samples)
    return _per_op(ev, check, lambda reqs: percentile(latencies(reqs), 95))


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


def capacity(ev: Evidence, th: Thresholds) -> list[Result]:
    """Reported: the highest stress step that held, the first that broke, and why."""
    check = Check("capacity", ">", None, COUNT, 1, "reported; compared with a baseline")
    bp = stress.breaking_point(ev, th)
    held, broke, why = bp["highest_held"], bp["broke_at"], bp["why"]
    if held is None and broke is None:  # stress_success says so, and gates it
        return [check.result("stress", None, REPORTED, 0, "no stress step ran to its end")]
    text = f"held {held or 0} users" + (f"; broke at {broke}: {why}" if broke else f"; {why}")
    n = len(ev.of_kind(STRESS))
    return [check.result("stress", float(held or 0), REPORTED, n, text.rstrip("; "))]


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


Criterion = Callable[[Evidence, Thresholds], list[Result]]
#: Every criterion in table order: correctness first, then service, faults, harness, regression.
CRITERIA: tuple[Criterion, ...] = (
    *correctness.CRITERIA,
    *stated.CRITERIA,
    *statuses.CRITERIA,
    *crashes.CRITERIA,
    *answertime.CRITERIA,
    success_rate_levels,
    op_success_rate,
    simultaneous_ops,
    sustained_throughput,
    mean_response,
    p95_response,
    availability,
    *scaling.CRITERIA,
    *resources.CRITERIA,
    *resilience.CRITERIA,
    *accuracy.CRITERIA,
    stress_success,
    capacity,
    protocol_progress,
    *harness.CRITERIA,
    *regression.CRITERIA,
)


#: Evidence recorded only when a run ends: the integrity check, the final verification, the
#: fault stage's detection and recovery probes, how the run ended.
AFTER_RUN = "after run"
#: What each criterion's rows wait for while a run is going (``reports.live``): AFTER_RUN, or
#: the window kinds a row over several windows (pooled, the best of, the whole run) draws on; a
#: criterion not listed draws on every load window. A row about one window that has ended is
#: final for that window, unless its criterion is one of BEST_OF.
WAITS_FOR: dict[str, tuple[str, ...]] = {
    "initial_verification": (),
    **dict.fromkeys(
        (
            "acked_writes",
            "acked_searchable",
            "final_verification",
            "rogue_peer",
            "minimal_peer",
            "node_crashes",
            "failure_detection",
            "recovery",
            "service_recovery",
            "run_complete",
            "workers",
            "hosts",
        ),
        (AFTER_RUN,),
    ),
    **dict.fromkeys(
        (
            "success_rate",
            "op_success_rate",
            "simultaneous_ops",
            "throughput",
            "mean_response",
            "p95_response",
            "regression_p95",
            "regression_throughput",
        ),
        STEADY_KINDS,
    ),
    "availability": tuple(kind for kind in LOAD_KINDS if kind != STRESS),
    **dict.fromkeys(("single_node_failure", "fault_schedule", "faults_applied"), (FAULT, RECOVERY)),
    **dict.fromkeys(("stress_success", "capacity", "regression_capacity"), (STRESS,)),
    **dict.fromkeys(("memory_growth", "fd_growth"), (AFTER_RUN,)),
    **dict.fromkeys(("regression_cpu", "regression_memory"), STEADY_KINDS),
    "scalability": STEADY_KINDS,
    "idle_cpu": (resources.IDLE,),
    "false_deaths": (*accuracy.QUIET_KINDS, STRESS),
}
#: Criteria that judge the best of several windows and name it: a later window may do better.
BEST_OF = frozenset({"simultaneous_ops", "throughput"})


def evaluate(ev: Evidence, th: Thresholds) -> list[Result]:
    """All criteria over the evidence, flattened in table order."""
    return [result for criterion in CRITERIA for result in criterion(ev, th)]
