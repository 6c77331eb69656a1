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


def compare(runs: list[dict[str, Any]]) -> str:
    """The runs side by side (the README's table): one column per run, one row per figure."""

    def col(found: dict[str, Any]) -> str:
        if found["where"] == "local":
            return f"one machine, {found['nodes_per_host']} nodes"
        return f"{found['hosts']} hosts × {found['nodes_per_host']} nodes"

    start = [found.get("start_s") for found in runs]
    rows = [
        "| | " + " | ".join(col(f) for f in runs) + " |",
        "|---" * (len(runs) + 1) + "|",
        "| time to start | " + " | ".join("–" if s is None else f"{s:.1f} s" for s in start) + " |",
    ]
    for i, fault in enumerate(runs[0]["faults"]):
        faults = [f["faults"][i] if i < len(f["faults"]) else None for f in runs]
        what = f"{fault['kind']} {fault['target']}: detected / recovered / service back"
        cells = [
            "–"
            if f is None
            else " / ".join(_s(f[k]) for k in ("detected_s", "recovered_s", "service_s"))
            for f in faults
        ]
        rows.append(f"| {what} | " + " | ".join(cells) + " |")
    rows.append(
        "| verdict (exit code) | "
        + " | ".join(f"{f['verdict']} ({f['exit_code']})" for f in runs)
        + " |"
    )
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    """``python bench/hosts_figures.py OUT...``: the ``hosts_run.json`` of each run side by side."""
    print(compare([json.loads((Path(out) / "hosts_run.json").read_text()) for out in argv]))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
