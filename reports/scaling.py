"""The scaling curve: each operation's throughput against its concurrency, over the levels.

Gunther's Universal Scalability Law, X(N) = λN / (1 + σ(N − 1) + κN(N − 1)), fitted to one
point per level: N the operation's mean number in flight over the level's burst (Little's law:
the time its requests spent in flight divided by the span, the same in-flight accounting as
``simultaneous_ops``), X its successful operations per second over the same span. λ is the
throughput of one operation in flight, σ contention (the serialised share: σ = 1 is a node that
serves one request at a time, throughput flat however many are in flight), κ coherency (the
cost of keeping copies in step: throughput that peaks and then falls). The peak is at
N* = sqrt((1 − σ) / κ).

``scalability`` fails when σ is above ``usl_sigma_max``, or when the fitted peak lies below the
concurrency the levels reached (throughput already falling while the load grows); fewer than
``USL_MIN_LEVELS`` levels with ``min_samples`` requests of the operation is insufficient. When
the machine or the load generator was saturated during a level (reports/cpu.py's limits), the curve
is theirs as much as the network's: the row is reported, not judged (nodes and load generator
share 2 cores in a quick run here: the machine reached 90-95 % in every level from 10 users on,
and search throughput fell from ~1,000/s to ~640/s as the users grew).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from reports.cpu import GENERATOR_BUSIEST, MACHINE, MACHINE_SATURATED_PCT, measured
from reports.evidence import LEVEL, Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED, Check, Result
from reports.samples import DERIVED_OPS, MS_PER_S, OPERATIONS, select
from reports.series import intervals
from reports.thresholds import Thresholds

#: Levels needed to fit three parameters.
USL_MIN_LEVELS = 3
DECIMALS = 4
MAX_EVALS = 10_000
#: Below this κ there is no retrograde worth naming (the peak would be beyond any real load).
KAPPA_MIN = 1e-7
#: A machine reading counts for a level's burst when this share of its interval lies in it.
MIN_BURST_SHARE = 0.5


def usl(n: Any, lam: float, sigma: float, kappa: float) -> Any:
    """Throughput at concurrency ``n`` (numbers or a numpy array)."""
    return lam * n / (1 + sigma * (n - 1) + kappa * n * (n - 1))


def mean_inflight(samples: list[dict[str, Any]], start: float, end: float) -> float:
    """Mean requests in flight over ``[start, end)``: their time in flight there / the span."""
    span = end - start
    if span <= 0:
        return 0.0
    busy = 0.0
    for s in samples:
        finish = s["t"] + float(s.get("latency_ms") or 0.0) / MS_PER_S
        busy += max(0.0, min(finish, end) - max(s["t"], start))
    return busy / span


def points(ev: Evidence, op: str, min_samples: int) -> list[dict[str, Any]]:
    """One (N, X) point per level with enough requests of ``op``: over its burst, where users
    skip their think time, else the whole level."""
    out = []
    for w in ev.of_kind(LEVEL):
        start = w.get("burst_start") or w["start"]
        reqs = select(ev.samples_in({**w, "start": start}), op=op)
        if len(reqs) < min_samples:
            continue
        ok = sum(1 for s in reqs if s.get("ok"))
        n = mean_inflight(reqs, start, w["end"])
        if n > 0:
            out.append(
                {"level": w["name"], "n": n, "x": ok / (w["end"] - start), "requests": len(reqs)}
            )
    return out


def fit(pts: list[dict[str, Any]]) -> dict[str, float] | None:
    """λ, σ, κ by least squares on X with σ in [0, 1], κ ≥ 0; None when it does not fit."""
    n = np.array([p["n"] for p in pts], dtype=float)
    x = np.array([p["x"] for p in pts], dtype=float)
    first = int(np.argmin(n))
    guess = [max(x[first] / n[first], 1e-9), 0.05, 0.001]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            (lam, sigma, kappa), _ = curve_fit(
                usl,
                n,
                x,
                p0=guess,
                bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, np.inf]),
                maxfev=MAX_EVALS,
            )
    except (RuntimeError, ValueError):
        return None
    peak = math.sqrt((1 - sigma) / kappa) if kappa > KAPPA_MIN else math.inf
    return {
        "lambda": round(float(lam), DECIMALS),
        "sigma": round(float(sigma), DECIMALS),
        "kappa": round(float(kappa), 6),
        "peak_n": None if math.isinf(peak) else round(peak, 2),
    }


def saturated(ev: Evidence, generator_pct: float) -> str:
    """Where the machine or the load generator reached saturation during a level ('' nowhere,
    or nothing measured: then the curve is judged)."""
    for w in ev.of_kind(LEVEL):
        rows = [r for r in ev.series if w["start"] < r["t"] <= w["end"]]
        machine, generator = measured(rows, MACHINE), measured(rows, GENERATOR_BUSIEST)
        top = max([*machine, burst_machine(ev, w)])
        if top >= MACHINE_SATURATED_PCT:
            return f"the machine at up to {top:.0f}% of all cores in {w['name']}"
        if generator and max(generator) >= generator_pct:
            return f"the load generator at {max(generator):.0f}% of a core in {w['name']}"
    return ""


def burst_machine(ev: Evidence, window: dict[str, Any]) -> float:
    """The most the machine can have used during ``window``'s burst (0: unknown). A reading
    averages the interval since the row before; one that straddles the burst's edge mixes the
    burst with calm, so its share is scaled up by the part of its interval inside the burst
    (as if the calm part had cost nothing) when at least ``MIN_BURST_SHARE`` of it is: the
    points are measured over the burst, and a saturation that cannot be ruled out there leaves
    the curve unjudged."""
    start, end = window.get("burst_start"), window["end"]
    if start is None:
        return 0.0
    top = 0.0
    for since, row in intervals(ev.series):
        reading, span = row.get(MACHINE), row["t"] - since
        inside = min(row["t"], end) - max(since, start)
        if reading is None or inside < MIN_BURST_SHARE * span:
            continue
        top = max(top, min(100.0, reading * span / inside))
    return top


def scaling_ops(ev: Evidence) -> list[str]:
    """The operations fitted: the network's own (as the run status lists them), whole ones."""
    return [op for op in (ev.status.get("operations") or OPERATIONS) if op not in DERIVED_OPS]


def curves(ev: Evidence, min_samples: int) -> dict[str, dict[str, Any]]:
    """Per operation: its points and the fit (None with too few levels), for JSON and charts."""
    out = {}
    for op in scaling_ops(ev):
        pts = points(ev, op, min_samples)
        model = fit(pts) if len(pts) >= USL_MIN_LEVELS else None
        out[op] = {"points": [{k: _r(v) for k, v in p.items()} for p in pts], "fit": model}
    return out


def _r(value: Any) -> Any:
    return round(value, DECIMALS) if isinstance(value, float) else value


def scalability(ev: Evidence, th: Thresholds) -> list[Result]:
    """Each operation's contention below ``usl_sigma_max`` and its peak beyond the levels."""
    check = Check("scalability", "<=", th.usl_sigma_max, "", th.min_samples)
    if not ev.of_kind(LEVEL):
        return check.missing("levels", "no level windows")
    out, busy = [], saturated(ev, th.generator_cpu_pct)
    for op, curve in curves(ev, th.min_samples).items():
        pts, model = curve["points"], curve["fit"]
        where = f"levels · {op}"
        n = sum(p["requests"] for p in pts)
        if model is None:
            why = (
                f"{len(pts)} level(s) with >= {th.min_samples} requests; the fit needs "
                f"{USL_MIN_LEVELS}"
                if len(pts) < USL_MIN_LEVELS
                else "the fit did not converge"
            )
            out.append(check.result(where, None, INSUFFICIENT, n, why))
            continue
        reached = max(p["n"] for p in pts)
        peak = model["peak_n"]
        peak_text = "none (no retrograde)" if peak is None else f"N*={peak:.1f}"
        detail = (
            f"σ={model['sigma']:.3f} κ={model['kappa']:.5f} λ={model['lambda']:.1f}/s; "
            f"peak {peak_text}; levels reached N={reached:.1f}"
        )
        too_serial = model["sigma"] > th.usl_sigma_max
        falling = peak is not None and peak < reached
        if falling:
            detail += "; throughput already falls within the levels tested"
        verdict = FAIL if too_serial or falling else PASS
        if busy:
            verdict, detail = REPORTED, f"not judged: {busy}, the curve is partly its; {detail}"
        out.append(check.result(where, model["sigma"], verdict, n, detail))
    return out


CRITERIA = (scalability,)
