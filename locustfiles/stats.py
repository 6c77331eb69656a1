"""Summaries of raw samples: counts, success rate, throughput and percentiles.

Percentiles are ``reports.samples.percentile`` (nearest-rank, no interpolation), so the Locust
side and the report agree and a reported p95 is a latency some request really had.
"""

from __future__ import annotations

from reports.samples import percentile

PERCENTILES = (50, 95, 99)


def summarize(samples: list[dict], duration_s: float) -> dict:
    """Requests, failures, success rate, throughput and latency figures of ``samples``."""
    latencies = sorted(s["latency_ms"] for s in samples)
    ok = sum(1 for s in samples if s["ok"])
    n = len(samples)
    summary = {
        "requests": n,
        "failures": n - ok,
        "success_rate": round(ok / n, 4) if n else None,
        "throughput": round(n / duration_s, 3) if duration_s > 0 else None,
        "mean_ms": round(sum(latencies) / n, 3) if n else None,
        "bytes": sum(s.get("bytes", 0) for s in samples),
    }
    for p in PERCENTILES:
        value = percentile(latencies, p)
        summary[f"p{p}_ms"] = None if value is None else round(value, 3)
    return summary


def by_op(samples: list[dict], duration_s: float) -> dict[str, dict]:
    ops: dict[str, list[dict]] = {}
    for sample in samples:
        ops.setdefault(sample["op"], []).append(sample)
    return {op: summarize(group, duration_s) for op, group in sorted(ops.items())}


def in_window(samples: list[dict], start: float, end: float) -> list[dict]:
    return [s for s in samples if start <= s["t"] < end]
