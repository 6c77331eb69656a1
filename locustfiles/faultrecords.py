"""What the fault stage leaves for the reports: a window per fault (and its recovery), and the
faults side's raw measurements per fault (``fault_tolerance_results.json``, docs/contracts.md).
"""

from __future__ import annotations

import time

import faults
from reports.samples import between, summarize_ops

#: How long after a heal its recovery window lasts (until the next fault, if that comes first).
RECOVERY_WINDOW_S = 4.0


def windows(entries: list[dict]) -> list[dict]:
    """A window per fault, and a recovery window after each (until the next fault)."""
    out = []
    starts = sorted(f["start"] for f in entries)
    for f in entries:
        end = f["end"] or time.time()
        later = [s for s in starts if s > end]
        rec_end = min([end + RECOVERY_WINDOW_S, *later[:1]])
        common = {
            "users": None,
            "fault_id": f["fault_id"],
            "fault_kind": f["kind"],
            "target": f["target"],
            "nodes": f.get("nodes") or [],
            "cut": [list(pair) for pair in f["cut"]],
            **faults.kind_facts(f["kind"]).record_fields(),
            "wipes": f.get("wipes", False),
        }
        out.append(
            {
                "name": f"fault:{f['key']}",
                "kind": "fault",
                "start": f["start"],
                "end": end,
                **common,
            }
        )
        if rec_end > end and not f.get("healed_by"):
            out.append(
                {
                    "name": f"recovery:{f['key']}",
                    "kind": "recovery",
                    "start": end,
                    "end": rec_end,
                    **common,
                }
            )
    return out


def results(entries: list[dict], samples: list) -> list[dict]:
    """Per fault: requests during it by operation, detection and recovery times."""
    out = []
    for f in entries:
        end = f["end"] or time.time()
        ops = {
            op: {k: summary[k] for k in ("n", "success_pct", "p95_ms")}
            for op, summary in summarize_ops(
                between(samples, f["start"], end), end - f["start"]
            ).items()
        }
        out.append(
            {
                "fault_id": f["fault_id"],
                "kind": f["kind"],
                "target": f["target"],
                "takes_down": f["takes_down"],
                "window": {"start": f["start"], "end": end},
                "outcome": f["outcome"],
                "requests": ops,
                **({"detected_s": f["detected_s"]} if "detected_s" in f else {}),
                **{k: f[k] for k in ("views_read", "sightings") if k in f},
                "recovered_s": f["recovered_s"],
                "recovery_watched_s": f["recovery_watched_s"],
                "recovered": f["recovered_s"] is not None,
                "healed_by": f.get("healed_by", "schedule"),
            }
        )
    return out
