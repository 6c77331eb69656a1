"""The verdict: one decision from every criterion row, read by every output.

The report headline, ``phase4_complete_results.json``, the web UI's criteria, the console's last
line and the exit code all come from ``decide``; nothing else decides. In order:

0. a host the nodes run on stopped answering (the ``hosts`` row, ``networks.cluster --hosts``):
   **INCONCLUSIVE** — what its nodes did, and why, is unknown, so their failures judge nothing;
1. a **correctness** row failed (data lost or corrupt, a wrong answer, the network not whole
   before or after): **NOT READY**, however the run went — a bug seen is a bug;
2. a **harness** row did not pass (interrupted, cut short, fault steps late, monitor gaps, the
   load generator saturated, a worker lost): **INCONCLUSIVE** — the run proves nothing either way;
3. any other row failed, or lacks evidence: **NOT READY**;
4. a **regression** row failed (only with a baseline): **REGRESSION**;
5. otherwise **READY**.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports.criteria import evaluate
from reports.evidence import Evidence
from reports.harness import HOSTS
from reports.rows import (
    CORRECTNESS,
    FAIL,
    HARNESS,
    INSUFFICIENT,
    PASS,
    REGRESSION,
    REPORTED,
    RESILIENCE,
    Result,
)
from reports.thresholds import Thresholds

READY, NOT_READY, INCONCLUSIVE, REGRESSED = "READY", "NOT READY", "INCONCLUSIVE", "REGRESSION"
#: The process exit code of each verdict (2 is taken by bad options or input).
EXIT_CODES = {READY: 0, NOT_READY: 1, REGRESSED: 3, INCONCLUSIVE: 4}
#: Which failure the one-line reason names first: causes (a node that never came back, failover
#: that did not work) before their consequences (availability, whole-run aggregates).
FAMILY_PRIORITY = (CORRECTNESS, RESILIENCE, HARNESS)
REASON_PRIORITY = (
    "recovery",
    "failure_detection",
    "single_node_failure",
    "service_recovery",
    "op_success_rate",
    "success_rate",
    "rest_grpc_progress",
    "stress_success",
    "availability",
    "throughput",
    "simultaneous_ops",
    "mean_response",
    "p95_response",
)


@dataclass(frozen=True)
class Verdict:
    """The readiness verdict, with every judged criterion and the rows that decided it."""

    label: str
    results: list[Result]
    failed: list[Result] = field(default_factory=list)
    reason: str = ""

    @property
    def ready(self) -> bool:
        """True only for READY."""
        return self.label == READY

    @property
    def exit_code(self) -> int:
        """Process exit code for headless runs and ``python -m reports``."""
        return EXIT_CODES[self.label]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the results JSON."""
        return {
            "ready": self.ready,
            "label": self.label,
            "exit_code": self.exit_code,
            "reason": self.reason,
            "failed": [r.to_dict() for r in self.failed],
            "counts": counts(self.results),
        }


def counts(results: list[Result]) -> dict[str, int]:
    """How many rows ended in each verdict, keys sorted."""
    out: dict[str, int] = {}
    for r in results:
        out[r.verdict] = out.get(r.verdict, 0) + 1
    return dict(sorted(out.items()))


def _verdict(label: str, results: list[Result], blocking: list[Result]) -> Verdict:
    first = min(blocking, key=_priority)
    more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
    return Verdict(label, results, blocking, f"{label}: {first.describe()}{more}")


def decide(results: list[Result], thresholds: Thresholds) -> Verdict:
    """Turn criterion rows into the verdict (module docstring); the reason names one row."""
    of = lambda family: [r for r in results if r.family == family]  # noqa: E731
    lost = [r for r in of(HARNESS) if r.name == HOSTS and r.verdict == FAIL]
    if lost:
        return _verdict(INCONCLUSIVE, results, lost)
    wrong = [r for r in of(CORRECTNESS) if r.verdict == FAIL]
    if wrong:
        return _verdict(NOT_READY, results, wrong)
    untrusted = [r for r in of(HARNESS) if r.verdict in (FAIL, INSUFFICIENT)]
    if untrusted:
        return _verdict(INCONCLUSIVE, results, untrusted)
    judged = [r for r in results if r.family != REGRESSION]
    fails = [r for r in judged if r.verdict == FAIL]
    thin = [r for r in judged if r.verdict == INSUFFICIENT]
    blocking = fails + (thin if thresholds.insufficient_fails else [])
    if blocking:
        return _verdict(NOT_READY, results, blocking)
    regressed = [r for r in of(REGRESSION) if r.verdict == FAIL]
    if regressed:
        return _verdict(REGRESSED, results, regressed)
    passed = sum(1 for r in results if r.verdict == PASS)
    notes = [f"{len(thin)} insufficient, not gating" if thin else ""]
    notes.append(f"{c} reported only" if (c := counts(results).get(REPORTED)) else "")
    note = "; ".join(filter(None, notes))
    return Verdict(
        READY,
        results,
        [],
        f"{READY}: all {passed} gated checks passed" + (f" ({note})" if note else ""),
    )


def _priority(result: Result) -> tuple[int, int, int]:
    """Failures before missing evidence; then by family, then by REASON_PRIORITY (min is
    stable, so ties keep table order)."""
    family = FAMILY_PRIORITY.index(result.family) if result.family in FAMILY_PRIORITY else 9
    name = REASON_PRIORITY.index(result.name) if result.name in REASON_PRIORITY else 99
    return (0 if result.verdict == FAIL else 1, family, name)


def judge_all(ev: Evidence, thresholds: Thresholds | None = None) -> Verdict:
    """Evaluate every criterion over the evidence and decide."""
    thresholds = thresholds or Thresholds()
    return decide(evaluate(ev, thresholds), thresholds)
