"""Recommendations tied to evidence: each rule looks at one pattern and says what to do about it.

A rule is a small pure function ``(Evidence, results, Thresholds) -> list[Recommendation]``; a
new pattern is one new function plus one line in ``RULES``. Advice says only what the evidence
shows, in terms true of any network (a claim about CPU only from measured CPU, reports/cpu.py);
where to look in the code comes from the network's own definition (its hints, networks/hints.py,
carried in the run status), so no network is told about parts it does not have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from networks.hints import CPU_BOUND, DATA_INTEGRITY, LATENCY_GROWS, PROTOCOL_STALLED, SLOW_RECOVERY
from networks.meaning import MEANING
from reports import stress
from reports.cpu import CpuUse
from reports.evidence import LEVEL, STRESS, Evidence
from reports.resilience import single_node_windows
from reports.rows import FAIL, INSUFFICIENT, MS, Result, fmt
from reports.samples import latencies, percentile, select, success_rate
from reports.series import fault_timings, rows_between
from reports.thresholds import Thresholds

HIGH, MEDIUM, INFO = "high", "medium", "info"
SEVERITY_ORDER = {HIGH: 0, MEDIUM: 1, INFO: 2}
#: What to do when the harness itself ran out of CPU (its numbers are then partly its own).
SATURATED_REMEDY = {
    "the machine": "give the nodes and the load generator cores of their own (Locust workers "
    "on another machine)",
    "the load generator": "spread it over more processes (--processes) or machines",
}
#: p95 at the top user level this many times the lowest level's counts as "rising".
P95_RISE_FACTOR = 1.5
#: Recovery this many times slower than detection (and at least RECOVERY_MIN_S) is worth a look.
RECOVERY_VS_DETECTION = 2.0
RECOVERY_MIN_S = 5.0
#: Error text or sample flags that mean a search came back without files it should have found.
MISSING_PATTERN = re.compile(r"missing|partial|not found", re.IGNORECASE)
#: Integrity counters whose non-zero value means data was lost or damaged.
INTEGRITY_PROBLEMS = (
    "corrupt",
    "download_sha256_mismatches",
    "errors",
    "failed",
    "lost",
    "mismatched",
    "missing",
    "unsearchable",
)
#: Ways a config can say failover is off (``--failover off`` from the Locust options).
FAILOVER_OFF = (False, "off", "false", "no", 0)
#: A fault window's ``acts_on`` fact (carried from the fault kind) for faults on the process.
PROCESS = "process"


@dataclass(frozen=True)
class Recommendation:
    """What to do, why (the evidence), and how urgent."""

    rule: str
    severity: str
    title: str
    evidence: str
    action: str

    def to_dict(self) -> dict[str, str]:
        """Plain dict for the results JSON."""
        return asdict(self)


Rule = Callable[[Evidence, list[Result], Thresholds], list[Recommendation]]


def hint(ev: Evidence, symptom: str) -> str:
    """The network's own pointer for ``symptom`` (its definition's hints), or nothing."""
    hints = ev.status.get("hints")
    text = hints.get(symptom) if isinstance(hints, dict) else None
    if not isinstance(text, str) or not text.strip():
        return ""
    return f" Where to look in {ev.status.get('network') or 'this network'}: {text.rstrip('.')}."


def p95_rising_with_cpu(ev: Evidence, results: list[Result], th: Thresholds):
    """p95 grows with users; the CPU readings of the top level say why (``cpu_advice``)."""
    points = []
    for w in sorted(ev.of_kind(LEVEL), key=lambda w: (w.get("users") or 0, w["start"])):
        lats = latencies(ev.in_window(w))
        if len(lats) >= th.min_samples:
            points.append((w, percentile(lats, 95)))
    if len(points) < 2 or points[-1][1] < points[0][1] * P95_RISE_FACTOR:
        return []
    (low, p_low), (top, p_top) = points[0], points[-1]
    rise = f"p95 {fmt(p_low, 'ms')} at {low.get('users')} users → {fmt(p_top, 'ms')} at "
    rise += f"{top.get('users')} users"
    cpu = CpuUse.of(rows_between(ev.series, top["start"], top["end"]))
    severity, title, action = cpu_advice(ev, cpu, th)
    evidence = f"{rise}; CPU at {top.get('users')} users: {cpu.describe()}"
    return [Recommendation("p95_rising_with_cpu", severity, title, evidence, action)]


def cpu_advice(ev: Evidence, cpu: CpuUse, th: Thresholds) -> tuple[str, str, str]:
    """(severity, title, action) for latency that grows with load, from measured CPU only: a
    saturated machine or load generator (the numbers are partly theirs), nodes that compute,
    nodes that wait (CPU not saturated, or idle when every reading was low), or no claim."""
    hot = ", ".join(cpu.hot_nodes())
    profile = f"Profile the nodes that were CPU-bound ({hot}) under this load" if hot else ""
    if cpu.machine_saturated():
        limit = "the machine"
    elif cpu.generator_saturated(th.generator_cpu_pct):
        limit = "the load generator"
    else:
        limit = ""
    if limit:
        action = (
            f"{limit.capitalize()} ran out of CPU, so these latencies are partly {limit}'s: "
            f"{SATURATED_REMEDY[limit]}, and measure again before tuning the network."
        )
        action += f" {profile} too.{hint(ev, CPU_BOUND)}" if hot else ""
        return MEDIUM, f"Latency grows with load, {limit} saturated", action
    if hot:
        action = (
            f"{profile}, find the code path that burns the CPU, or spread the load over more nodes."
        )
        return HIGH, "Latency grows with load: CPU-bound", action + hint(ev, CPU_BOUND)
    if cpu.missing():
        action = (
            f"Without the CPU of {' and '.join(cpu.missing())} this run cannot tell nodes that "
            "compute from nodes that wait: profile a node under this load to see which."
        )
        return MEDIUM, "Latency grows with load", action
    action = (
        "Look for waiting rather than computing: calls that block a node's event loop or "
        "threads, locks on shared state or storage, worker pools and queues too small for the "
        "load." + hint(ev, LATENCY_GROWS)
    )
    return (
        MEDIUM,
        f"Latency grows with load, CPU {'idle' if cpu.idle() else 'not saturated'}",
        action,
    )


def recovery_slower_than_detection(ev: Evidence, results: list[Result], th: Thresholds):
    """The cluster notices a fault quickly but takes much longer to be whole again."""
    slow = [
        ft
        for ft in fault_timings(ev)
        if ft.detected_s is not None
        and ft.recovered_s is not None
        and ft.recovered_s >= RECOVERY_MIN_S
        and ft.recovered_s > RECOVERY_VS_DETECTION * max(ft.detected_s, 0.1)
    ]
    if not slow:
        return []
    evidence = "; ".join(
        f"{ft.window}: detected in {fmt(ft.detected_s, 's')}, "
        f"whole after {fmt(ft.recovered_s, 's')}"
        for ft in slow
    )
    return [
        Recommendation(
            "recovery_slower_than_detection",
            MEDIUM,
            "Recovery is much slower than detection",
            evidence,
            "Make a restarted node rejoin actively (announce itself to its peers on start) "
            "and shorten the path from suspect back to alive." + hint(ev, SLOW_RECOVERY),
        )
    ]


def partition_missing_files(ev: Evidence, results: list[Result], th: Thresholds):
    """Searches during a partition came back without files that exist in the network."""
    total = missed = 0
    for w in (w for w in ev.windows if w.get("fault_kind") == "partition"):
        searches = select(ev.in_window(w), op="search")
        total += len(searches)
        missed += sum(1 for s in searches if _missed(s))
    if not missed:
        return []
    return [
        Recommendation(
            "partition_missing_files",
            MEDIUM,
            "Searches miss files during a partition",
            f"{missed} of {total} searches in partition windows were partial",
            "Replicate popular files or the catalog index to a second node, and "
            "let clients retry a partial search through another entry node.",
        )
    ]


def _missed(sample: dict) -> bool:
    return bool(
        sample.get("partial")
        or sample.get("missing")
        or MISSING_PATTERN.search(str(sample.get("error") or ""))
    )


def stress_breaking_point(ev: Evidence, results: list[Result], th: Thresholds):
    """First stress window whose success dropped below the stress threshold, or none found."""
    windows = ev.of_kind(STRESS)
    if not windows:
        return []
    for w in windows:
        reqs = ev.in_window(w)
        rate = success_rate(reqs)
        if len(reqs) >= th.min_samples and rate is not None and rate < th.stress_pct:
            return [
                Recommendation(
                    "stress_breaking_point",
                    INFO,
                    f"Breaking point near {w.get('users')} users",
                    f"{w['name']}: {fmt(rate, '%')} success (n={len(reqs)})",
                    "Plan capacity below this level, and make overload fail fast "
                    "(bounded queues, 503 with Retry-After) rather than time out.",
                )
            ]
    bp = stress.breaking_point(ev, th)
    broke_at = bp["broke_at"]
    if broke_at:  # the ramp also breaks on latency (p95 over --stress-p95-ms)
        held = bp["highest_held"]
        window = next((w for w in windows if w.get("users") == broke_at), None)
        reqs = ev.in_window(window) if window else []
        p95 = percentile(sorted(s["latency_ms"] for s in reqs), 95)
        return [
            Recommendation(
                "stress_breaking_point",
                INFO,
                f"Breaking point near {broke_at} users",
                f"stress-{broke_at}: {fmt(success_rate(reqs), '%')} success, p95 "
                f"{fmt(p95, MS)} (n={len(reqs)}); highest level that held: {held or 'none'}",
                "Plan capacity below this level, and make overload fail fast "
                "(bounded queues, 503 with Retry-After) rather than queue up.",
            )
        ]
    peak = max((w.get("users") or 0) for w in windows)
    return [
        Recommendation(
            "stress_breaking_point",
            INFO,
            "No breaking point found",
            f"success stayed ≥ {fmt(th.stress_pct, '%')} up to {peak} users",
            "Extend the stress ramp (longer run or more users) to find the limit.",
        )
    ]


def failover_errors_during_crashes(ev: Evidence, results: list[Result], th: Thresholds):
    """Users saw errors while a node was down: enable failover, or make it faster."""
    windows = [w for w in single_node_windows(ev) if w.get("acts_on") == PROCESS]
    reqs = [s for w in windows for s in ev.in_window(w)]
    errors = sum(1 for s in reqs if not s.get("ok"))
    failed = [r for r in results if r.name == "single_node_failure" and r.verdict == FAIL]
    off = ev.config.get("failover") in FAILOVER_OFF
    if not errors or not (failed or off):
        return []
    evidence = f"{errors} of {len(reqs)} requests failed during node crashes"
    if off:
        return [
            Recommendation(
                "failover_errors_during_crashes",
                HIGH,
                "Failover is off",
                evidence,
                "Enable client failover so requests to a dead node are "
                "retried on a live one (idempotent searches and downloads).",
            )
        ]
    return [
        Recommendation(
            "failover_errors_during_crashes",
            HIGH,
            "Failover did not hide node crashes",
            evidence,
            "Shorten connect/read timeouts towards peers, mark a node dead after "
            "the first refused connection, and retry on another node.",
        )
    ]


def stopped_before_load(ev: Evidence) -> bool:
    """The initial verification failed and the run stopped there (no ``--keep-going``)."""
    return bool(ev.status.get("initial_problems")) and not ev.config.get("keep_going")


def conformance_failed(ev: Evidence, results: list[Result], th: Thresholds):
    """The network failed its conformance checks before the load: say what each failure means,
    and that the empty rows after it are for want of a run, not the network's numbers."""
    problems = ev.status.get("initial_problems") or []
    if not problems:
        return []
    names = list(dict.fromkeys(p.partition(":")[0] for p in problems))
    meaning = " ".join(f"{n}: {MEANING[n]}." for n in names if n in MEANING)
    if stopped_before_load(ev):
        title = "The network failed its conformance checks: the run stopped before any load"
        then = (
            "No load, fault or stress stage ran, so their rows have no evidence (not a pass). "
            "Fix these first (python -m networks.verify runs the same checks in seconds), or "
            "run with --keep-going to have every stage run and judged anyway."
        )
    else:
        title = "The network failed its conformance checks before the load (--keep-going)"
        then = "Every stage ran anyway; the rows below judge it as it is. Fix these first."
    return [
        Recommendation(
            "conformance_failed", HIGH, title, "; ".join(problems), f"{meaning} {then}".strip()
        )
    ]


def insufficient_samples(ev: Evidence, results: list[Result], th: Thresholds):
    """Some checks could not be judged: too few requests in their windows (not said when the
    run stopped before any load: that is the conformance failure's, not the windows')."""
    thin = [r for r in results if r.verdict == INSUFFICIENT]
    if not thin or stopped_before_load(ev):
        return []
    listed = ", ".join(f"{r.name}@{r.window} (n={r.n})" for r in thin[:8])
    listed += f", +{len(thin) - 8} more" if len(thin) > 8 else ""
    return [
        Recommendation(
            "insufficient_samples",
            MEDIUM,
            "Not enough evidence in some windows",
            listed,
            f"Lengthen these windows or raise users so each has at least "
            f"{th.min_samples} requests; missing evidence is not a pass.",
        )
    ]


def protocol_starved(ev: Evidence, results: list[Result], th: Thresholds):
    """One protocol made no progress in a window: something blocks it."""
    bad = [r for r in results if r.name == "rest_grpc_progress" and r.verdict == FAIL]
    if not bad:
        return []
    evidence = "; ".join(f"{r.window}: {r.detail}" for r in bad)
    return [
        Recommendation(
            "protocol_starved",
            HIGH,
            "REST or gRPC stalled",
            evidence,
            "Find what blocks the starved protocol: a call that blocks the process or loop "
            "serving both, an exhausted worker pool, a lock the two share."
            + hint(ev, PROTOCOL_STALLED),
        )
    ]


def integrity_problems(ev: Evidence, results: list[Result], th: Thresholds):
    """The final integrity check found damaged or lost files."""
    bad = {k: v for k, v in ev.integrity.items() if k in INTEGRITY_PROBLEMS and v}
    if not bad:
        return []
    evidence = ", ".join(f"{k}: {v}" for k, v in sorted(bad.items()))
    return [
        Recommendation(
            "integrity_problems",
            HIGH,
            "Data integrity problems",
            evidence,
            "Verify the checksum before acknowledging writes and downloads, and make an "
            "acknowledged write durable (fsync) before the answer." + hint(ev, DATA_INTEGRITY),
        )
    ]


def faults_not_applied(ev: Evidence, results: list[Result], th: Thresholds):
    """Fault steps failed or could not be applied to this network: those faults were not tested."""
    bad = [r for r in results if r.name == "faults_applied" and r.verdict == FAIL]
    if not bad:
        return []
    return [
        Recommendation(
            "faults_not_applied",
            HIGH,
            "Faults were not applied: the run cannot judge the network on them",
            bad[0].detail,
            "Use a fault backend that can apply them to this network (netns: root and the nft "
            "binary, nodes sharing one address each in a namespace of its own), or leave those "
            "faults out of the plan, and run again.",
        )
    ]


#: Every rule, in reading order within a severity.
RULES: tuple[Rule, ...] = (
    conformance_failed,
    faults_not_applied,
    failover_errors_during_crashes,
    integrity_problems,
    protocol_starved,
    p95_rising_with_cpu,
    recovery_slower_than_detection,
    partition_missing_files,
    insufficient_samples,
    stress_breaking_point,
)


def recommend(ev: Evidence, results: list[Result], th: Thresholds) -> list[Recommendation]:
    """All recommendations the evidence supports, most severe first."""
    found = [rec for rule in RULES for rec in rule(ev, results, th)]
    return sorted(found, key=lambda r: SEVERITY_ORDER[r.severity])
