"""Chart data for the HTML report: aligned columns ready for uPlot, plus the fault bands.

uPlot wants ``[xs, ys1, ys2, ...]`` with ``null`` for gaps. The x axis is seconds since the test
started, the same clock as the journal's ``offset``. Throughput and latency come from the raw
samples (the source of truth for the verdict); users, nodes alive and resources from the monitor.
"""

from __future__ import annotations

import math
from typing import Any

from reports.breakdown import node_of
from reports.evidence import FAULT, FAULT_STAGE, LEVEL, STRESS, Evidence
from reports.samples import Sample, latencies, percentile
from reports.scaling import curves, usl
from reports.series import per_node, values

#: At most this many buckets on the sample-derived charts, whatever the run length.
MAX_POINTS = 300
MIN_BUCKET_S = 1.0
DECIMALS = 3
#: Stages marked on every chart beside the fault bands: the levels, the fault stage, stress steps.
STAGE_KINDS = (LEVEL, FAULT_STAGE, STRESS)
#: Drawn with the nodes' CPU: the load generator's (percent of one core, like theirs) and the
#: whole machine's (percent of all its cores, on an axis of its own).
HOST_CPU = {"generator": "generator_cpu_total", "machine": "machine_cpu"}

#: The scaling chart's fitted curve: this many points, up to this times the highest N measured.
USL_CHART_STEPS, USL_CHART_REACH = 40, 1.5

Column = list[float | None]


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)


def bucket_seconds(span_s: float) -> float:
    """Bucket width that keeps the chart under ``MAX_POINTS`` points."""
    return max(MIN_BUCKET_S, float(math.ceil(span_s / MAX_POINTS)))


def fault_bands(ev: Evidence, t0: float) -> list[dict[str, Any]]:
    """One shaded band per fault window, labelled with its fault id and target."""
    return [
        {
            "id": w.get("fault_id") or w["name"],
            "label": w["name"].split(":", 1)[-1],
            "kind": w.get("fault_kind") or "",
            "start": _r(w["start"] - t0),
            "end": _r(w["end"] - t0),
        }
        for w in ev.of_kind(FAULT)
    ]


def stage_marks(ev: Evidence, t0: float) -> list[dict[str, Any]]:
    """Where each level, the fault stage and each stress step begins and ends, labelled."""
    return [
        {
            "label": w["name"],
            "kind": w["kind"],
            "start": _r(w["start"] - t0),
            "end": _r(w["end"] - t0),
        }
        for w in ev.of_kind(*STAGE_KINDS)
    ]


def _buckets(ev: Evidence, t0: float) -> tuple[float, list[list[Sample]]]:
    """The raw requests in time buckets of one width (``bucket_seconds``)."""
    span = max(ev.t_end - t0, 0.0)
    width = bucket_seconds(span)
    count = int(span // width) + 1 if ev.requests else 0
    buckets: list[list[Sample]] = [[] for _ in range(count)]
    for s in ev.requests:
        buckets[min(int((s["t"] - t0) // width), count - 1)].append(s)
    return width, buckets


def node_rates(ev: Evidence, t0: float) -> dict[str, Any]:
    """Successful requests/s and errors/s of each node (the one that served, or was tried)."""
    width, buckets = _buckets(ev, t0)
    names = sorted({node_of(s) for s in ev.requests})
    ok = {n: [0] * len(buckets) for n in names}
    errors = {n: [0] * len(buckets) for n in names}
    for i, bucket in enumerate(buckets):
        for s in bucket:
            (ok if s.get("ok") else errors)[node_of(s)][i] += 1
    return {
        "x": [_r(i * width) for i in range(len(buckets))],
        "names": names,
        "ok": [[_r(c / width) for c in ok[n]] for n in names],
        "errors": [[_r(c / width) for c in errors[n]] for n in names],
    }


def performance(ev: Evidence, t0: float) -> dict[str, Column]:
    """Successful ops/s, errors/s, p50 and p95 per time bucket, from the raw requests."""
    width, buckets = _buckets(ev, t0)
    cols: dict[str, Column] = {"x": [], "ops": [], "errors": [], "p50": [], "p95": [], "users": []}
    for i, bucket in enumerate(buckets):
        ok = sum(1 for s in bucket if s.get("ok"))
        lats = latencies(bucket)
        cols["x"].append(_r(i * width))
        cols["ops"].append(_r(ok / width))
        cols["errors"].append(_r((len(bucket) - ok) / width))
        cols["p50"].append(_r(percentile(lats, 50)))
        cols["p95"].append(_r(percentile(lats, 95)))
        cols["users"].append(max((s.get("users") or 0 for s in bucket), default=None))
    return cols


def load(ev: Evidence, t0: float, perf: dict[str, Column]) -> dict[str, Column]:
    """Users and nodes alive over time: the monitor's, else users seen in the samples."""
    if not ev.series:
        return {"x": perf["x"], "users": perf["users"], "alive": [None] * len(perf["x"])}
    return {
        "x": [_r(r["t"] - t0) for r in ev.series],
        "users": [r.get("users") for r in ev.series],
        "alive": [r.get("nodes_alive") for r in ev.series],
    }


def per_node_columns(ev: Evidence, t0: float, key: str) -> dict[str, Any]:
    """One column per node (or node pair) of a mapping column such as ``cpu``."""
    names = list(per_node(ev.series, key))
    return {
        "x": [_r(r["t"] - t0) for r in ev.series],
        "names": names,
        "ys": [[_r((r.get(key) or {}).get(n)) for r in ev.series] for n in names],
    }


def scaling_chart(ev: Evidence, min_samples: int) -> list[dict[str, Any]]:
    """Per operation with a fit: its measured (N, X) points and the fitted USL curve over one
    x axis (N in flight), for a chart each (reports/scaling.py)."""
    out = []
    for op, curve in curves(ev, min_samples).items():
        model, points = curve["fit"], curve["points"]
        if model is None:
            continue
        top = max(p["n"] for p in points) * USL_CHART_REACH
        grid = [top * i / USL_CHART_STEPS for i in range(1, USL_CHART_STEPS + 1)]
        xs = sorted({*grid, *(p["n"] for p in points)})
        measured = {p["n"]: p["x"] for p in points}
        fitted = [usl(x, model["lambda"], model["sigma"], model["kappa"]) for x in xs]
        out.append(
            {
                "op": op,
                "x": [_r(x) for x in xs],
                "measured": [_r(measured.get(x)) for x in xs],
                "fit": [_r(y) for y in fitted],
                "label": f"σ={model['sigma']:.3f} κ={model['kappa']:.5f}",
            }
        )
    return out


def chart_data(ev: Evidence, t0: float, min_samples: int = 1) -> dict[str, Any]:
    """Everything the HTML report's charts draw, as plain JSON-able data."""
    perf = performance(ev, t0)
    return {
        "bands": fault_bands(ev, t0),
        "stages": stage_marks(ev, t0),
        "nodes": node_rates(ev, t0),
        "perf": perf,
        "load": load(ev, t0, perf),
        "cpu": per_node_columns(ev, t0, "cpu"),
        "host_cpu": {
            name: [_r(v) for v in values(ev.series, key)] for name, key in HOST_CPU.items()
        },
        "rss": per_node_columns(ev, t0, "rss_mb"),
        "uss": per_node_columns(ev, t0, "uss_mb"),
        "fds": per_node_columns(ev, t0, "fds"),
        "threads": per_node_columns(ev, t0, "threads"),
        "scaling": scaling_chart(ev, min_samples),
        "rtt": per_node_columns(ev, t0, "rtt_ms"),
    }
