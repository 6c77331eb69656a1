"""Harness criteria: did the run measure what it set out to measure?

A run interrupted or cut short before its stages ran, fault steps that failed or started long
after their schedule, a monitor that went quiet, a load generator pegged at full CPU: the
numbers of such a run say more about the machine than about the network. These rows never make
a network NOT READY; when one of them does not pass, the verdict is INCONCLUSIVE and names it
(wrong answers and lost data seen during the run still make it NOT READY: a bug seen is a bug).

Inputs: the run status written by the Locust suite (``interrupted``, ``cut_short``,
``worker_died``), the fault journal (each step's ``outcome`` and ``detail.late_s``) and the
monitor rows (their times and ``generator_cpu``, the load generator's own CPU percent).
"""

from __future__ import annotations

from reports.evidence import STRESS, Evidence
from reports.faultsteps import failed_steps, journal_steps, summary
from reports.rows import COUNT, FAIL, HARNESS, PASS, PCT, REPORTED, SECONDS, Check, Result
from reports.thresholds import Thresholds

RUN = "run"
NO_STEPS = "no fault steps"


def run_complete(ev: Evidence, th: Thresholds) -> list[Result]:
    """The run went through its stages: not interrupted, not cut short inside one."""
    check = Check("run_complete", "<=", 0, COUNT, 1, "every stage ran", HARNESS)
    if not ev.status:
        return check.missing(RUN, "no run status recorded")
    if ev.status.get("in_progress"):
        return [check.result(RUN, None, REPORTED, 0, "the run is still going")]
    problems = []
    if ev.status.get("interrupted"):
        problems.append(f"interrupted ({ev.status['interrupted']})")
    if ev.status.get("cut_short"):
        problems.append(f"cut short: {ev.status['cut_short']}")
    detail = "; ".join(problems) or str(ev.status.get("ended") or "completed")
    return [check.result(RUN, float(len(problems)), FAIL if problems else PASS, 1, detail)]


HOSTS = "hosts"


def workers(ev: Evidence, th: Thresholds) -> list[Result]:
    """No load-generator worker died (its samples would be missing)."""
    check = Check("workers", "<=", 0, COUNT, 1, "none lost", HARNESS)
    if not ev.status:
        return check.missing(RUN, "no run status recorded")
    lost = ev.status.get("workers_lost") or {}
    died = bool(ev.status.get("worker_died")) or bool(lost)
    named = "; ".join(f"{worker}: {why}" for worker, why in sorted(lost.items()))
    detail = (named or "a worker died during the run") if died else "none lost"
    return [check.result(RUN, float(died), FAIL if died else PASS, 1, detail)]


def hosts(ev: Evidence, th: Thresholds) -> list[Result]:
    """Every host the nodes run on kept answering the launcher (``networks.cluster --hosts``);
    no row for a network on one machine. A host lost makes the run INCONCLUSIVE whatever else
    failed (reports/verdict.py): what its nodes did, and why, is unknown."""
    lost = ev.status.get("hosts_lost") if ev.status else None
    if lost is None:
        return []
    check = Check(HOSTS, "<=", 0, COUNT, 1, "every host answered", HARNESS)
    detail = "; ".join(f"{host}: {why}" for host, why in sorted(lost.items()))
    verdict = FAIL if lost else PASS
    return [check.result(RUN, float(len(lost)), verdict, 1, detail or "every host answered")]


def fault_schedule(ev: Evidence, th: Thresholds) -> list[Result]:
    """Fault steps started on time (the machine kept up with the plan)."""
    check = Check("fault_schedule", "<=", th.harness_late_s, SECONDS, 1, family=HARNESS)
    steps = journal_steps(ev.journal)
    if not steps:
        return [check.result(RUN, None, REPORTED, 0, NO_STEPS)]
    late = max(float((r.get("detail") or {}).get("late_s") or 0.0) for r in steps)
    return [check.on(RUN, late, len(steps), "latest step behind its schedule")]


def faults_applied(ev: Evidence, th: Thresholds) -> list[Result]:
    """Every fault step did what the plan asked: a step that failed, or that the backend could
    not apply to this network, leaves a fault window without its fault (reports.faultsteps)."""
    check = Check("faults_applied", "<=", 0, COUNT, 1, "every fault step applied", HARNESS)
    steps = journal_steps(ev.journal)
    if not steps:
        return [check.result(RUN, None, REPORTED, 0, NO_STEPS)]
    failed = failed_steps(ev.journal)
    if not failed:
        return [check.result(RUN, 0.0, PASS, len(steps), f"all {len(steps)} steps applied")]
    detail = f"{len(failed)} of {len(steps)} steps failed: {summary(failed)}"
    return [check.result(RUN, float(len(failed)), FAIL, len(steps), detail)]


def monitor_gaps(ev: Evidence, th: Thresholds) -> list[Result]:
    """The monitor sampled the network without long gaps (the harness was not starved)."""
    check = Check("monitor_gaps", "<=", th.monitor_gap_s, SECONDS, 2, family=HARNESS)
    times = [r["t"] for r in ev.series]
    if len(times) < 2:
        return check.missing(RUN, "fewer than 2 monitor rows")
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    return [check.on(RUN, gap, len(times), "longest gap between monitor rows")]


def generator_cpu(ev: Evidence, th: Thresholds) -> list[Result]:
    """The load generator was not saturated outside stress (its own latency would show up)."""
    check = Check("generator_cpu", "<", th.generator_cpu_pct, PCT, 2, family=HARNESS)
    stress = ev.of_kind(STRESS)
    rows = [
        r
        for r in ev.series
        if isinstance(r.get("generator_cpu"), int | float)
        and not any(w["start"] <= r["t"] < w["end"] for w in stress)
    ]
    if len(rows) < 2:
        return check.missing(RUN, "fewer than 2 load-generator CPU readings")
    # Two consecutive saturated readings, not one spike (Locust's own warning is a single one).
    worst = max(
        min(a["generator_cpu"], b["generator_cpu"]) for a, b in zip(rows, rows[1:], strict=False)
    )
    return [check.on(RUN, float(worst), len(rows), "highest over two consecutive readings")]


CRITERIA = (
    run_complete,
    workers,
    hosts,
    fault_schedule,
    faults_applied,
    monitor_gaps,
    generator_cpu,
)
