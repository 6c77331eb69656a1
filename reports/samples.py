"""Pure helpers over raw per-request samples (docs/contracts.md, "Raw samples").

A sample is a plain dict: ``{"t", "op", "proto", "node", "latency_ms", "bytes", "ok", "error",
"users"}``. Everything here is a pure function of a list of samples, so criteria, tables and
charts all compute the same numbers the same way.

Percentiles use the **nearest-rank** method: the value at rank ``ceil(q/100 * n)`` of the sorted
values. It always returns a latency that was actually observed (no interpolation between two
requests), which is what a reader expects from "95 % of requests took at most X ms".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

Sample = dict[str, Any]

#: Ops that measure part of another request (time to first byte of a download) or record a
#: write the harness cut short (``unfinished``: a user stopped mid-call, whose node may have done
#: it all the same; the model reads it): not counted as load in rates and throughput.
UNFINISHED = "unfinished"
DERIVED_OPS = frozenset({"download_ttfb", UNFINISHED})
#: The operations the Phase 4 users run, each judged and compared on its own.
OPERATIONS = ("search", "index", "download_ttfb", "download", "node_download")
#: Ops that are a part of another request: never counted as a second operation in flight.
PART_OF_REQUEST = frozenset({"download_ttfb"})

MS_PER_S = 1000.0


def requests(samples: Iterable[Sample]) -> list[Sample]:
    """Samples that are whole requests (derived measurements dropped)."""
    return [s for s in samples if s.get("op") not in DERIVED_OPS]


def operations(samples: Iterable[Sample]) -> list[Sample]:
    """Samples that are operations the network served (parts of another request dropped)."""
    return [s for s in samples if s.get("op") not in PART_OF_REQUEST]


def between(samples: Iterable[Sample], start: float, end: float) -> list[Sample]:
    """Samples that started in ``[start, end)``: a request belongs to the window it began in."""
    return [s for s in samples if start <= s["t"] < end]


def in_window(samples: Iterable[Sample], window: dict[str, Any]) -> list[Sample]:
    """Samples that started inside a window dict (``start``/``end`` in epoch seconds)."""
    return between(samples, window["start"], window["end"])


def select(
    samples: Iterable[Sample],
    *,
    op: str | Iterable[str] | None = None,
    proto: str | None = None,
    ok: bool | None = None,
) -> list[Sample]:
    """Filter by op (one name or several), protocol and outcome; ``None`` means any."""
    ops = {op} if isinstance(op, str) else (set(op) if op is not None else None)
    return [
        s
        for s in samples
        if (ops is None or s.get("op") in ops)
        and (proto is None or s.get("proto") == proto)
        and (ok is None or bool(s.get("ok")) == ok)
    ]


def latencies(samples: Iterable[Sample]) -> list[float]:
    """Latencies in ms, in sample order."""
    return [float(s["latency_ms"]) for s in samples]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..100) of ``values``; ``None`` when there are none."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def mean(values: Sequence[float]) -> float | None:
    """Arithmetic mean, ``None`` for no values."""
    return sum(values) / len(values) if values else None


def success_rate(samples: Sequence[Sample]) -> float | None:
    """Share of successful samples in percent, ``None`` when there are none."""
    if not samples:
        return None
    return 100.0 * sum(1 for s in samples if s.get("ok")) / len(samples)


def throughput(samples: Sequence[Sample], duration_s: float, *, ok_only: bool = True) -> float:
    """Operations per second over ``duration_s`` (a window's length, not the span of samples).

    Successful operations only by default: a network that fails fast must not look fast.
    """
    if duration_s <= 0:
        return 0.0
    count = sum(1 for s in samples if s.get("ok")) if ok_only else len(samples)
    return count / duration_s


def max_concurrency(samples: Iterable[Sample], *, ok_only: bool = False) -> int:
    """Most requests simultaneously in flight, from each request's ``[t, t + latency)``.

    A sweep over start/end events; at the same instant ends are processed before starts, so
    back-to-back requests from one user never count as two.
    """
    events: list[tuple[float, int]] = []
    for s in samples:
        if ok_only and not s.get("ok"):
            continue
        duration = float(s.get("latency_ms") or 0.0) / MS_PER_S
        if duration <= 0:
            continue
        events.append((s["t"], 1))
        events.append((s["t"] + duration, -1))
    events.sort()  # (time, -1) sorts before (time, +1)
    current = peak = 0
    for _, delta in events:
        current += delta
        peak = max(peak, current)
    return peak


def inflight_profile(samples: Iterable[Sample], start: float, end: float) -> tuple[int, int]:
    """Peak and time-weighted median of the requests in flight over ``[start, end)``.

    The median is the count held for at least half of the span: "sustained", where a peak can
    be one lucky instant."""
    events: list[tuple[float, int]] = []
    for s in samples:
        begin = max(s["t"], start)
        finish = min(s["t"] + float(s.get("latency_ms") or 0.0) / MS_PER_S, end)
        if finish > begin:
            events += [(begin, 1), (finish, -1)]
    events.sort()
    held: dict[int, float] = {}
    current, peak, last = 0, 0, start
    for t, delta in events:
        held[current] = held.get(current, 0.0) + (t - last)
        current, last = current + delta, t
        peak = max(peak, current)
    held[current] = held.get(current, 0.0) + max(0.0, end - last)
    span, below = max(end - start, 0.0), 0.0
    for count in sorted(held, reverse=True):  # highest count held for half the span
        below += held[count]
        if span and below >= span / 2:
            return peak, count
    return peak, 0


def summarize(samples: Sequence[Sample], duration_s: float) -> dict[str, Any]:
    """The standard row of numbers for one window or op: counts, rates, latency percentiles."""
    lats = latencies(samples)
    ok = sum(1 for s in samples if s.get("ok"))
    return {
        "n": len(samples),
        "ok": ok,
        "errors": len(samples) - ok,
        "success_pct": success_rate(samples),
        "ops_per_s": throughput(samples, duration_s),
        "mean_ms": mean(lats),
        "p50_ms": percentile(lats, 50),
        "p95_ms": percentile(lats, 95),
        "p99_ms": percentile(lats, 99),
        "max_ms": max(lats) if lats else None,
        "max_inflight": max_concurrency(samples),
        "rest_ok": len(select(samples, proto="rest", ok=True)),
        "grpc_ok": len(select(samples, proto="grpc", ok=True)),
    }


def by_op(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    """Group samples by op name, keys sorted for stable output."""
    groups: dict[str, list[Sample]] = {}
    for s in samples:
        groups.setdefault(str(s.get("op")), []).append(s)
    return dict(sorted(groups.items()))


def summarize_ops(samples: Iterable[Sample], duration_s: float) -> dict[str, dict[str, Any]]:
    """``summarize`` of each op, keys sorted."""
    return {op: summarize(group, duration_s) for op, group in by_op(samples).items()}


def top_errors(samples: Iterable[Sample], limit: int = 3) -> list[tuple[str, int]]:
    """Most frequent error messages of failed samples, most frequent first."""
    counts: dict[str, int] = {}
    for s in samples:
        if not s.get("ok"):
            key = str(s.get("error") or "unknown error")
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def errors_text(samples: Iterable[Sample]) -> str:
    """The most frequent errors of failed samples, for a criterion's detail."""
    errs = top_errors(samples)
    return "errors: " + ", ".join(f"{e} ×{c}" for e, c in errs) if errs else ""
