"""Regression against a baseline run: the same network, last week, on the same profile.

Absolute thresholds let a network that got ten times slower stay READY. Given a previous run's
results directory (``--baseline DIR``), its figures are summarised once (``baseline_summary``)
and stored in the new run, so a re-render compares the same numbers. Compared, per level of the
same name: each operation's p95 and the level's throughput; and the stress capacity. Beyond the
tolerances the verdict is REGRESSION (exit code 3), naming the figure. Without a baseline these
criteria produce no rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports.evidence import STEADY_KINDS, Evidence
from reports.rows import COUNT, MS, OPS_S, REGRESSION, Check, Result, fmt
from reports.samples import OPERATIONS, latencies, percentile, select, throughput
from reports.thresholds import Thresholds

PCT_SCALE = 100.0


def baseline_summary(ev: Evidence, min_samples: int) -> dict[str, Any]:
    """The figures a later run is compared with: per level, throughput and each op's p95."""
    levels = {}
    for w in ev.of_kind(*STEADY_KINDS):
        reqs = ev.in_window(w)
        ops = {}
        for op in OPERATIONS:  # TTFB included: a slower first byte is what a user feels
            group = select(ev.samples_in(w), op=op)
            if len(group) >= min_samples:
                ops[op] = {"p95_ms": percentile(latencies(group), 95), "n": len(group)}
        levels[w["name"]] = {
            "users": w.get("users"),
            "ops_per_s": throughput(reqs, w["end"] - w["start"]),
            "n": len(reqs),
            "ops": ops,
        }
    return {"levels": levels, "capacity": ev.breaking_point.get("highest_held")}


def load_baseline(results_dir: Path | str, min_samples: int) -> dict[str, Any]:
    """Summarise a previous run's results directory; ``ResultsError`` if it cannot be read."""
    from reports.normalize import normalize_run
    from reports.results import load_run  # results imports evidence; keep this module light

    ev = Evidence.from_run(normalize_run(load_run(Path(results_dir))))
    return {"source": str(results_dir), **baseline_summary(ev, min_samples)}


def _check(name: str, op: str, limit: float, unit: str) -> Check:
    return Check(name, op, limit, unit, 1, family=REGRESSION)


def regression(ev: Evidence, th: Thresholds) -> list[Result]:
    """Per-op p95 and throughput per level, and capacity, against the baseline's."""
    if not ev.baseline:
        return []
    now = baseline_summary(ev, th.min_samples)
    source = ev.baseline.get("source", "baseline")
    out: list[Result] = []
    # In this run's order (time, OPERATIONS): the stored baseline's keys come back sorted.
    for name, new in now["levels"].items():
        old = (ev.baseline.get("levels") or {}).get(name)
        if old is None:
            continue
        for op, got in new["ops"].items():
            was = old.get("ops", {}).get(op)
            if was is None or was.get("p95_ms") is None:
                continue
            limit = round(
                max(
                    was["p95_ms"] * (1 + th.regress_p95_pct / PCT_SCALE),
                    was["p95_ms"] + th.regress_p95_slack_ms,
                ),
                1,
            )
            check = _check("regression_p95", "<=", limit, MS)
            detail = f"baseline {fmt(was['p95_ms'], MS)} ({source})"
            out.append(check.on(f"{name} · {op}", got["p95_ms"], got["n"], detail))
        if old.get("ops_per_s") and old.get("n", 0) >= th.min_samples:
            limit = round(old["ops_per_s"] * (1 - th.regress_throughput_pct / PCT_SCALE), 1)
            check = _check("regression_throughput", ">=", limit, OPS_S)
            detail = f"baseline {fmt(old['ops_per_s'], OPS_S)}"
            out.append(check.on(name, new["ops_per_s"], new["n"], detail))
    was_held, held = ev.baseline.get("capacity"), now["capacity"]
    if was_held:
        limit = round(was_held * (1 - th.regress_capacity_pct / PCT_SCALE), 1)
        check = _check("regression_capacity", ">=", limit, COUNT)
        detail = f"baseline held {was_held} users"
        out.append(check.on("stress", None if held is None else float(held), 1, detail))
    return out


CRITERIA = (regression,)
