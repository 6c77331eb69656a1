"""The stress ramp's breaking point: which steps held, the first that broke, and why.

One rule, read twice: the Locust shape applies ``why_broke`` to each step as it ends (to stop
the ramp), and ``breaking_point`` applies it again to the complete samples of every stress
window, so the capacity the report gives (and REGRESSION compares) is computed here and
``python -m reports DIR`` re-judges it. Only how the ramp ended (its cap, the run time) is taken
from what the run recorded: that is an event, not a measurement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.evidence import STRESS, Evidence
from reports.samples import Sample, latencies, percentile, success_rate
from reports.thresholds import Thresholds

#: Monitor rows this long after a step still describe it (the monitor samples every second).
ROW_SLACK_S = 1.0


def why_broke(requests: Sequence[Sample], th: Thresholds) -> str:
    """Why a stress step with these requests broke ('' when it held): success below
    ``stress_pct`` or p95 above ``stress_p95_ms``."""
    rate = success_rate(requests)
    if rate is None:
        return "no request completed"
    if rate < th.stress_pct:
        return f"success {rate:.1f}% < {th.stress_pct:g}%"
    p95 = percentile(latencies(requests), 95)
    if p95 is not None and p95 > th.stress_p95_ms:
        return f"p95 {p95:.0f} ms > {th.stress_p95_ms:g} ms"
    return ""


def generator_note(series: Sequence[dict[str, Any]], window: dict, th: Thresholds) -> str:
    """Whether the load generator itself was saturated during a step that broke."""
    cpu = [
        r["generator_cpu"]
        for r in series
        if window["start"] <= r["t"] <= window["end"] + ROW_SLACK_S and r.get("generator_cpu")
    ]
    if cpu and max(cpu) >= th.generator_cpu_pct:
        return f"; the load generator was saturated (CPU {max(cpu):.0f}%): a harness limit"
    return ""


def breaking_point(ev: Evidence, th: Thresholds) -> dict[str, Any]:
    """``highest_held`` and ``broke_at`` (users; None when no step did) and ``why``, judged on
    the run's stress windows; a ramp that never broke gives the recorded reason it ended."""
    key = ("breaking_point", th.stress_pct, th.stress_p95_ms, th.generator_cpu_pct)
    if key in ev.memo:
        return ev.memo[key]
    held = broke = None
    why = ""
    for w in ev.of_kind(STRESS):
        reason = why_broke(ev.in_window(w), th)
        if not reason:
            held = w.get("users")
        elif broke is None:
            broke, why = w.get("users"), reason + generator_note(ev.series, w, th)
    if broke is None and held is not None and ev.breaking_point.get("broke_at") is None:
        why = ev.breaking_point.get("why") or ""
    ev.memo[key] = {"highest_held": held, "broke_at": broke, "why": why}
    return ev.memo[key]
