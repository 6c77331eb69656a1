"""The figures of a run made by bench/hosts_run.py, read from its results folder (never typed):
from ``phase4_complete_results.json``, the verdict, the failing rows when it is not READY, and
each fault's detection and recovery times as the report judged them (``fault_timings``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COMPLETE = "phase4_complete_results.json"
FAILED_SHOWN = 5
NOT_MEASURED = "not measured"  # failing rows spelt out; the rest are counted


def figures(results: Path, exit_code: int, measured: dict[str, Any]) -> dict[str, Any]:
    """What the table shows: ``measured`` (time to start, hosts...) and the run's own."""
    complete = _read(results / COMPLETE) or {}
    verdict = complete.get("verdict", {})
    nodes = complete.get("run", {}).get("nodes") or []
    return {
        **measured,
        "nodes": len(nodes),
        "exit_code": exit_code,
        "verdict": verdict.get("label", "no report"),
        "reason": verdict.get("reason", f"no {COMPLETE} in {results}"),
        "failed": [_row(r) for r in verdict.get("failed", [])],
        "faults": [
            {
                "id": f.get("fault_id"),
                "kind": f.get("kind"),
                "target": f.get("target"),
                "detected_s": f.get("detected_s") if f.get("detection_measured") else NOT_MEASURED,
                "recovered_s": f.get("recovered_s") if f.get("recovered") else None,
                "service_s": f.get("service_s") if f.get("service_measured") else NOT_MEASURED,
            }
            for f in complete.get("fault_timings", [])
        ],
    }


def _read(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _row(row: dict[str, Any]) -> str:
    return f"{row.get('name')} {row.get('value')} in {row.get('window')}: {row.get('detail')}"


def _s(value: float | str | None) -> str:
    """Seconds; ``never`` (None: not within the run) or why not measured."""
    if isinstance(value, str):
        return value
    return "never" if value is None else f"{value:.2f} s"


def table(found: dict[str, Any]) -> str:
    """A Markdown table of the figures, then the failing rows (the first few)."""
    where = found["where"]
    start = found.get("start_s")
    lines = [
        "| figure | value |",
        "|---|---|",
        f"| where | {where}: {found['hosts']} host(s) x {found['nodes_per_host']} nodes |",
        f"| time to start | {'-' if start is None else f'{start:.1f} s'} |",
    ]
    for f in found["faults"]:
        what = f"{f['kind']} {f['target']} ({f['id']})"
        lines.append(f"| {what}: detected | {_s(f['detected_s'])} |")
        lines.append(f"| {what}: recovered | {_s(f['recovered_s'])} |")
        lines.append(f"| {what}: service back | {_s(f['service_s'])} |")
    lines.append(f"| verdict (exit code) | {found['verdict']} ({found['exit_code']}) |")
    lines.append(f"\n{found['reason']}")
    failed = found["failed"]
    lines += [f"- {row[:300]}" for row in failed[:FAILED_SHOWN]]
    if len(failed) > FAILED_SHOWN:
        lines.append(f"- and {len(failed) - FAILED_SHOWN} more")
    return "\n".join(lines)
