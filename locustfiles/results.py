"""``concurrency_results.json``: per level (and stress step), users, requests, success rate,
throughput and latency per operation, plus the stress breaking point."""

from __future__ import annotations

import json
import os
from pathlib import Path

from reports.samples import between, requests, summarize, summarize_ops

CONCURRENCY_FILE = "concurrency_results.json"


def concurrency_results(state) -> dict:
    levels = []
    for window in state.windows:
        if window["kind"] not in ("level", "stress"):
            continue
        duration = window["end"] - window["start"]
        samples = between(state.samples, window["start"], window["end"])
        levels.append(
            {
                "name": window["name"],
                "kind": window["kind"],
                "users": window["users"],
                "start": window["start"],
                "end": window["end"],
                "duration_s": round(duration, 3),
                # Requests only (TTFB and hit checks are measurements inside or about them),
                # exactly as the report counts them; every op, derived ones included, below.
                **summarize(requests(samples), duration),
                "operations": summarize_ops(samples, duration),
            }
        )
    return {
        "levels": levels,
        "breaking_point": {
            "highest_held": state.highest_held,
            "broke_at": state.broke_at,
            "why": state.broke_why,
        },
        "stopped_reason": state.stopped_reason,
    }


def write_json(path: Path, data) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
