"""Service recovery: how long after a heal searches were as good as before the faults.

The reference is the last load level's searches (the highest steady load before the fault stage);
service is back at the first 1 s bucket of searches after the heal whose success rate is within
``SUCCESS_SLACK_PCT`` points of it and whose p95 is within ``P95_FACTOR`` x it + ``P95_SLACK_MS``
(small buckets are noisy: a strict "as good as before" would never be met). Computed here from the
raw samples, so ``python -m reports DIR`` re-judges it; the Locust side only prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reports.samples import Sample, in_window, latencies, percentile, select, success_rate

BUCKET_S = 1.0
SUCCESS_SLACK_PCT = 5.0
P95_FACTOR = 1.5
P95_SLACK_MS = 20.0
#: ``healed_by`` of a fault healed by its plan (docs/contracts.md); others were cut short.
SCHEDULED = "schedule"


def search_baseline(samples: Sequence[Sample], levels: Sequence[dict[str, Any]]) -> dict | None:
    """The last level window's search ``success_pct`` and ``p95_ms``; None without searches."""
    if not levels:
        return None
    last = max(levels, key=lambda w: w["end"])
    searches = select(in_window(samples, last), op="search")
    if not searches:
        return None
    return {"success_pct": success_rate(searches), "p95_ms": percentile(latencies(searches), 95)}


def back_in_s(samples: Sequence[Sample], healed: float, baseline: dict) -> float | None:
    """Seconds after ``healed`` until a bucket of searches is back to ``baseline``; None if
    never in the samples."""
    searches = [s for s in select(samples, op="search") if s["t"] >= healed]
    floor = baseline["success_pct"] - SUCCESS_SLACK_PCT
    ceiling = (baseline.get("p95_ms") or 0.0) * P95_FACTOR + P95_SLACK_MS
    buckets: dict[int, list[Sample]] = {}
    for s in searches:
        buckets.setdefault(int((s["t"] - healed) // BUCKET_S), []).append(s)
    for index in sorted(buckets):
        bucket = buckets[index]
        p95 = percentile(latencies(bucket), 95)
        if (success_rate(bucket) or 0.0) >= floor and p95 is not None and p95 <= ceiling:
            return round(index * BUCKET_S, 3)
    return None


def after_heal(
    samples: Sequence[Sample], baseline: dict | None, healed: float, healed_by: str | None
) -> tuple[bool, float | None]:
    """Whether service recovery after a heal at ``healed`` is measurable (healed on schedule,
    not by the run's end; the last level had searches), and ``back_in_s`` if so."""
    if healed_by != SCHEDULED or baseline is None or baseline["success_pct"] is None:
        return False, None
    return True, back_in_s(samples, healed, baseline)
