"""Result files: write them atomically, and read a results directory back into a ``run`` dict.

``phase4_complete_results.json`` holds everything but the raw samples, which go to
``samples.jsonl`` (one request a line); together they are enough to re-render every report.
Files written by other parts (``concurrency_results.json`` from the Locust suite,
``fault_tolerance_results.json`` from the faults side) are read when present, never written here.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from reports.evidence import Evidence
from reports.resources import figures as resource_figures
from reports.samples import summarize, summarize_ops
from reports.scaling import curves
from reports.series import resources

COMPLETE = "phase4_complete_results.json"
PERFORMANCE = "performance_report.json"
SAMPLES = "samples.jsonl"
CONCURRENCY = "concurrency_results.json"
FAULT_TOLERANCE = "fault_tolerance_results.json"
MARKDOWN = "PHASE4_FINAL_REPORT.md"
HTML = "report.html"
#: Keys of a ``run`` dict (see ``reports.build``); samples are stored apart from the rest.
RUN_KEYS = (
    "config",
    "versions",
    "seed",
    "plan",
    "samples",
    "windows",
    "journal",
    "series",
    "integrity",
    "concurrency",
    "fault_results",
    "thresholds",
    "status",
    "baseline",
    "nodes",
    "acked",
    "topology",
    "network_match",
    "network_hops",
    "network_statuses",
    "crashes",
)
#: Set by ``reports.normalize.normalize_run``: malformed samples/rows dropped (kept on re-render).
DROPPED = "dropped"
STORED_KEYS = (*RUN_KEYS, DROPPED)
SCHEMA_VERSION = 1
DEFAULT_FILE_MODE = 0o666


class ResultsError(Exception):
    """A results directory that cannot be read back (missing, or not our JSON)."""


def _file_mode() -> int:
    """Mode a plain ``open()`` would give a new file (mkstemp's 0600 is too private here)."""
    umask = os.umask(0)
    os.umask(umask)
    return DEFAULT_FILE_MODE & ~umask


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps(data: Any) -> str:
    """The one JSON style of every results file: sorted keys, indented, newline-terminated."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def write_json(path: Path, data: Any) -> None:
    """Write one JSON results file atomically."""
    atomic_write_text(path, dumps(data))


def write_samples(path: Path, samples: list[dict[str, Any]]) -> None:
    """Raw samples as JSON lines (sorted keys), atomically."""
    lines = (json.dumps(s, sort_keys=True, ensure_ascii=False, default=str) for s in samples)
    atomic_write_text(path, "".join(line + "\n" for line in lines))


def read_samples(path: Path) -> list[dict[str, Any]]:
    """Raw samples from a JSON-lines file; blank lines are skipped."""
    samples = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if line.strip():
                try:
                    samples.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ResultsError(f"{path}:{number}: not JSON: {exc.msg}") from None
    return samples


def read_json(path: Path) -> Any:
    """One JSON file, with a one-line error instead of a traceback."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON: {exc.msg} (line {exc.lineno})") from None


def read_optional(results_dir: Path, name: str) -> Any:
    """A file another part may have written, or ``None``."""
    path = results_dir / name
    return read_json(path) if path.is_file() else None


def fault_entries(data: Any) -> list[dict[str, Any]] | None:
    """Per-fault entries from ``fault_tolerance_results.json`` (a list, or under ``faults``)."""
    if isinstance(data, dict):
        data = data.get("faults", data.get("results"))
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else None


def load_run(results_dir: Path) -> dict[str, Any]:
    """Rebuild the ``run`` dict from a results directory written by ``reports.build``."""
    if not results_dir.is_dir():
        raise ResultsError(f"{results_dir}: not a directory")
    complete = read_json(results_dir / COMPLETE) if (results_dir / COMPLETE).exists() else None
    if not isinstance(complete, dict) or not isinstance(complete.get("run"), dict):
        raise ResultsError(f"{results_dir}: no {COMPLETE} written by peerload reports")
    run = {key: complete["run"].get(key) for key in STORED_KEYS}
    samples = results_dir / SAMPLES
    if not samples.is_file():
        raise ResultsError(f"{results_dir}: {SAMPLES} is missing (needed to re-judge the run)")
    run["samples"] = read_samples(samples)
    return run


def complete_results(run: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``phase4_complete_results.json``: the run (minus samples) plus what was judged from it."""
    stored = {key: run.get(key) for key in STORED_KEYS if key != "samples"}
    return {"schema": SCHEMA_VERSION, "samples_file": SAMPLES, "run": stored, **extra}


def performance_report(ev: Evidence, min_samples: int = 1) -> dict[str, Any]:
    """``performance_report.json``: percentiles per op and window, resources (per node: idle
    CPU, CPU per 1,000 ops, memory, growth), the scaling curves, RTT, the series."""
    per_window = {}
    for w in ev.windows:
        span = w["end"] - w["start"]
        reqs = ev.in_window(w)
        ops = summarize_ops(reqs, span)
        per_window[w["name"]] = {"all": summarize(reqs, span), "ops": ops}
    span = max(ev.t_end - ev.t0, 1e-9)
    res = resources(ev.series)
    return {
        "schema": SCHEMA_VERSION,
        "overall": summarize_ops(ev.samples, span),
        "windows": per_window,
        "resources": {
            "cpu_pct": res["cpu"],
            "rss_mb": res["rss_mb"],
            "per_node": resource_figures(ev),
        },
        "scaling": curves(ev, min_samples),
        "rtt_ms": res["rtt_ms"],
        "series": ev.series,
    }
