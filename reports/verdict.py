"""The verdict: READY or NOT READY, the criteria behind it, and one line saying why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports.criteria import evaluate
from reports.evidence import Evidence
from reports.result import FAIL, INSUFFICIENT, PASS, REPORTED, Result
from reports.thresholds import Thresholds

READY, NOT_READY = "READY", "NOT READY"
#: Which blocking finding the one-line reason names first: causes (a node that never came back,
#: failover that did not work) before their consequences (availability, whole-run aggregates).
REASON_PRIORITY = (
    "recovery",
    "single_node_failure",
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
    """Whether the network is production-ready, with every judged criterion."""

    ready: bool
    results: list[Result]
    failed: list[Result] = field(default_factory=list)
    reason: str = ""

    @property
    def label(self) -> str:
        """``READY`` or ``NOT READY``."""
        return READY if self.ready else NOT_READY

    @property
    def exit_code(self) -> int:
        """Process exit code for headless runs and ``python -m reports``: 0 ready, 1 not."""
        return 0 if self.ready else 1

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the results JSON."""
        return {
            "ready": self.ready,
            "label": self.label,
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


def decide(results: list[Result], thresholds: Thresholds) -> Verdict:
    """Turn criterion rows into a verdict; a failure outranks missing evidence in the reason."""
    fails = [r for r in results if r.verdict == FAIL]
    thin = [r for r in results if r.verdict == INSUFFICIENT]
    blocking = fails + (thin if thresholds.insufficient_fails else [])
    if blocking:
        first = min(blocking, key=_priority)
        more = f" (+{len(blocking) - 1} more)" if len(blocking) > 1 else ""
        return Verdict(False, results, blocking, f"{NOT_READY}: {first.describe()}{more}")
    passed = sum(1 for r in results if r.verdict == PASS)
    notes = [f"{len(thin)} insufficient, not gating" if thin else ""]
    notes.append(f"{c} reported only" if (c := counts(results).get(REPORTED)) else "")
    note = "; ".join(filter(None, notes))
    return Verdict(
        True,
        results,
        [],
        f"{READY}: all {passed} gated checks passed" + (f" ({note})" if note else ""),
    )


def _priority(result: Result) -> tuple[int, int]:
    """Failures by REASON_PRIORITY first; missing evidence after, in table order (min is stable)."""
    if result.verdict != FAIL:
        return (1, 0)
    return (0, REASON_PRIORITY.index(result.name) if result.name in REASON_PRIORITY else 99)


def judge_all(ev: Evidence, thresholds: Thresholds | None = None) -> Verdict:
    """Evaluate every criterion over the evidence and decide."""
    thresholds = thresholds or Thresholds()
    return decide(evaluate(ev, thresholds), thresholds)
