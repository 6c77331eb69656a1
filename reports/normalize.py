"""The ``run`` dict handed over by the Locust suite: checked and normalised before anything runs.

Normalising means a JSON round trip (so a fresh build and a re-render from the files see exactly
the same data), every key present, windows checked completely (a bad window is a producer bug and
fails loudly), and malformed samples or monitor rows dropped and counted rather than losing the
whole report at the end of a long run.
"""

from __future__ import annotations

import json
import math
from typing import Any

from reports.results import DROPPED, RUN_KEYS, STORED_KEYS

LIST_KEYS = ("samples", "windows", "journal", "series", "nodes", "acked")
DICT_KEYS = (
    "config",
    "versions",
    "integrity",
    "thresholds",
    "plan",
    "status",
    "baseline",
    "topology",
)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def valid_sample(sample: Any) -> bool:
    """A sample has a numeric start time and latency, and an op."""
    return (
        isinstance(sample, dict)
        and _number(sample.get("t"))
        and _number(sample.get("latency_ms"))
        and isinstance(sample.get("op"), str)
    )


def valid_row(row: Any) -> bool:
    """A monitor row has a numeric time."""
    return isinstance(row, dict) and _number(row.get("t"))


def check_windows(windows: list[Any]) -> None:
    """Every window has a unique name, a kind and ``start <= end``; raises ``ValueError``."""
    seen: set[str] = set()
    for i, w in enumerate(windows):
        if not isinstance(w, dict) or not isinstance(w.get("name"), str):
            raise ValueError(f"window #{i}: expected a dict with a name, got {w!r:.80}")
        if not (_number(w.get("start")) and _number(w.get("end")) and w["start"] <= w["end"]):
            raise ValueError(f"window {w['name']}: needs numeric start <= end")
        if not isinstance(w.get("kind"), str):
            raise ValueError(f"window {w['name']}: needs a kind")
        if w["name"] in seen:
            raise ValueError(f"window {w['name']}: name used twice")
        seen.add(w["name"])


def close_open_windows(data: dict[str, Any]) -> None:
    """An interrupted run can leave its last window open (``end`` null): close it at the last
    sample or monitor row, so the report still gets written."""
    times = [s["t"] for s in data["samples"] if isinstance(s, dict) and _number(s.get("t"))]
    times += [r["t"] for r in data["series"] if isinstance(r, dict) and _number(r.get("t"))]
    for w in data["windows"]:
        if isinstance(w, dict) and w.get("end") is None and _number(w.get("start")):
            w["end"] = max([w["start"], *times])


def normalize_run(run: dict[str, Any]) -> dict[str, Any]:
    """A checked copy of ``run`` with every key of ``RUN_KEYS`` present and JSON-native values."""
    if not isinstance(run, dict):
        raise ValueError(f"run must be a dict, got {type(run).__name__}")
    unknown = sorted(set(run) - set(RUN_KEYS) - {DROPPED})
    if unknown:
        raise ValueError(f"run has unknown key(s): {', '.join(unknown)}")
    data = json.loads(json.dumps({key: run.get(key) for key in STORED_KEYS}, default=str))
    for key in DICT_KEYS:
        if data[key] is not None and not isinstance(data[key], dict):
            raise ValueError(f"run[{key!r}] must be a dict or None")
    for key in (*LIST_KEYS, "fault_results"):
        if data[key] is not None and not isinstance(data[key], list):
            raise ValueError(f"run[{key!r}] must be a list or None")
    for key in LIST_KEYS:
        data[key] = list(data.get(key) or [])
    for key in ("journal", "fault_results"):
        if any(not isinstance(entry, dict) for entry in data[key] or []):
            raise ValueError(f"run[{key!r}] entries must be dicts")
    close_open_windows(data)
    check_windows(data["windows"])
    dropped = dict(data.get(DROPPED) or {})
    for key, valid in (("samples", valid_sample), ("series", valid_row)):
        kept = [item for item in data[key] if valid(item)]
        dropped[key] = dropped.get(key, 0) + len(data[key]) - len(kept)
        data[key] = kept
    data[DROPPED] = dropped
    return data
