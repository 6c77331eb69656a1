"""The render context: every number the templates print, already computed and formatted.

Templates only render. Everything that decides or computes lives here or in the criteria, so
the Markdown and the HTML can never disagree about a value.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any

from reports import health
from reports.breakdown import WHOLE_RUN, breakdown
from reports.charts import chart_data
from reports.checker import COMPLETE, OK, PARTIAL_DURING_FAULT, UNKNOWN
from reports.checker import table as checker_table
from reports.correctness import violations
from reports.cpu import NODES_SHOWN
from reports.evidence import Evidence
from reports.integrity import OBSERVATIONS
from reports.recommend import Recommendation
from reports.regression import baseline_note
from reports.rows import FAIL, INSUFFICIENT, MS, OPS_S, PCT, SECONDS, fmt
from reports.samples import by_op, max_concurrency, summarize
from reports.series import fault_timings
from reports.thresholds import Thresholds
from reports.verdict import Verdict

TITLE = "peerload — Phase 4 readiness report"
#: Words, not emoji: a browser without an emoji font (Debian's Chromium) drew empty boxes.
VERDICT_MARK = {"pass": "pass", "fail": "FAIL", "insufficient": "insufficient"}
#: What a blank setting meant: the profile's choice (the plan its source, when one ran).
DEFAULT_SETTING = "(the profile's)"


def when(epoch_s: float) -> str:
    """An instant as UTC text (from run data, never from the clock at render time)."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def offset(epoch_s: float, t0: float) -> str:
    """Seconds since the test started, as ``+12.3 s``."""
    return f"+{epoch_s - t0:.1f} s"


def scalar_rows(data: dict[str, Any] | None) -> list[dict[str, str]]:
    """Key/value rows for a flat table; nested values shown as compact JSON."""
    rows = []
    for key, value in sorted((data or {}).items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        rows.append({"key": str(key), "value": text})
    return rows


def config_rows(run: dict[str, Any]) -> list[dict[str, str]]:
    """The run's settings, each once: the seed from the config (or the run), a blank setting as
    the default it took, the fault plan as the plan that ran."""
    config = dict(run.get("config") or {})
    if "seed" not in config and run.get("seed") is not None:
        config["seed"] = run["seed"]
    plan = run.get("plan") if isinstance(run.get("plan"), dict) else {}
    if config.get("fault_plan") == "":
        name = plan.get("source") or plan.get("name") or ""
        config["fault_plan"] = f"{name} {DEFAULT_SETTING}".strip() if plan else "none"
    blank = {k: DEFAULT_SETTING for k, v in config.items() if v == ""}
    return scalar_rows({**config, **blank})


def integrity_rows(integrity: dict[str, Any]) -> list[dict[str, str]]:
    """The integrity counters; a list (the examples) as names, or "none". The observations
    they were counted from are in the results JSON, not the report."""
    shown = {
        k: ", ".join(map(str, v)) or "none" if isinstance(v, list) else v
        for k, v in integrity.items()
        if k != OBSERVATIONS
    }
    return scalar_rows(shown)


def stat_cells(s: dict[str, Any]) -> dict[str, Any]:
    """The cells every latency table shares, formatted from one ``summarize`` result."""
    return {
        "n": s["n"],
        "success": fmt(s["success_pct"], PCT),
        "mean": fmt(s["mean_ms"], MS),
        "p50": fmt(s["p50_ms"], MS),
        "p95": fmt(s["p95_ms"], MS),
    }


def window_rows(ev: Evidence, t0: float) -> list[dict[str, Any]]:
    """The per-window table: counts, success, throughput, latency, concurrency, protocols."""
    rows = []
    for w in ev.windows:
        span = w["end"] - w["start"]
        s = summarize(ev.in_window(w), span)
        rows.append(
            {
                "name": w["name"],
                "kind": w.get("kind", ""),
                "users": "–" if w.get("users") is None else str(w["users"]),
                "start": offset(w["start"], t0),
                "duration": fmt(span, SECONDS),
                **stat_cells(s),
                "ops": fmt(s["ops_per_s"], OPS_S),
                "inflight": s["max_inflight"],
                "rest_ok": s["rest_ok"],
                "grpc_ok": s["grpc_ok"],
            }
        )
    return rows


def op_rows(ev: Evidence) -> list[dict[str, Any]]:
    """Per-op totals over the whole run (derived ops such as TTFB included here)."""
    span = max(ev.t_end - ev.t0, 1e-9)
    rows = []
    for op, group in by_op(ev.samples).items():
        s = summarize(group, span)
        rows.append(
            {
                "op": op,
                **stat_cells(s),
                "p99": fmt(s["p99_ms"], MS),
            }
        )
    return rows


def fault_rows(ev: Evidence, t0: float) -> list[dict[str, Any]]:
    """One row per fault window: when, how long, detection and recovery, success meanwhile."""
    rows = []
    for ft in fault_timings(ev):
        reqs = ev.between(ft.start, ft.end)
        s = summarize(reqs, ft.end - ft.start)
        recovered = "never" if ft.recovered is False else fmt(ft.recovered_s, SECONDS)
        rows.append(
            {
                "name": ft.window,
                "fault_id": ft.fault_id or "–",
                "kind": ft.kind or "–",
                "target": ft.target or "–",
                "start": offset(ft.start, t0),
                "duration": fmt(ft.end - ft.start, SECONDS),
                "detected": fmt(ft.detected_s, SECONDS),
                "recovered": recovered,
                "source": ft.source,
                "n": s["n"],
                "success": fmt(s["success_pct"], PCT),
            }
        )
    return rows


def journal_summary(journal: list[dict[str, Any]]) -> dict[str, Any]:
    """Step count and the steps that went wrong (a failed heal matters most)."""
    errors = [
        {
            "offset": fmt(e.get("offset"), SECONDS),
            "fault_id": str(e.get("fault_id")),
            "phase": str(e.get("phase")),
            "error": str(e.get("error") or ""),
        }
        for e in journal
        if e.get("outcome") == "error"
    ]
    return {"steps": len(journal), "errors": errors}


def key_numbers(ev: Evidence, verdict: Verdict) -> list[dict[str, str]]:
    """The few numbers an executive summary needs."""
    span = max(ev.t_end - ev.t0, 1e-9)
    s = summarize(ev.requests, span)
    peak_users = max((w.get("users") or 0 for w in ev.windows), default=0)
    by_name = {r.name: r for r in verdict.results}
    avail = by_name.get("availability")
    return [
        {
            "label": "requests (whole operations; TTFB and hit checks not counted)",
            "value": str(s["n"]),
        },
        {"label": "overall success", "value": fmt(s["success_pct"], PCT)},
        {"label": "availability (excl. stress)", "value": fmt(avail and avail.value, PCT)},
        {
            "label": "mean / p95 response",
            "value": f"{fmt(s['mean_ms'], MS)} / {fmt(s['p95_ms'], MS)}",
        },
        {
            "label": "peak in-flight requests",
            "value": str(max_concurrency(ev.requests, ok_only=True)),
        },
        {"label": "peak users", "value": str(peak_users)},
        {"label": "faults injected", "value": str(len(fault_timings(ev)))},
        {"label": "test duration", "value": fmt(span, SECONDS)},
    ]


def build_context(
    run: dict[str, Any],
    ev: Evidence,
    verdict: Verdict,
    recommendations: list[Recommendation],
    thresholds: Thresholds,
) -> dict[str, Any]:
    """Everything both templates need, as plain strings, numbers, lists and dicts."""
    t0 = ev.t0
    results, folded = fold_node_rows(
        [
            {
                **r.to_dict(),
                "value_text": fmt(r.value, r.unit),
                "mark": VERDICT_MARK.get(r.verdict, r.verdict),
            }
            for r in verdict.results
        ],
        {str(n.get("name")) for n in ev.nodes},
    )
    return {
        "title": TITLE,
        "verdict": {
            "label": verdict.label,
            "ready": verdict.ready,
            "reason": verdict.reason,
            "exit_code": verdict.exit_code,
            "css": verdict.label.lower().replace(" ", "-"),
        },
        "started": when(t0) if t0 else "–",
        "key_numbers": key_numbers(ev, verdict),
        "results": results,
        "folded_results": folded,
        "failed": [r.describe() for r in verdict.failed],
        "baseline": baseline_note(ev),
        "windows": window_rows(ev, t0),
        "breakdown": breakdown(ev, violations(ev, thresholds)),
        "checker": fold_origin_rows(checker_table(ev)),
        "health": health.rows(ev),
        "ops": op_rows(ev),
        "faults": fault_rows(ev, t0),
        "journal": journal_summary(ev.journal),
        "integrity": integrity_rows(ev.integrity),
        "recommendations": [r.to_dict() for r in recommendations],
        "config": config_rows(run),
        "versions": scalar_rows(run.get("versions")),
        "seed": "–" if run.get("seed") is None else str(run["seed"]),
        "thresholds": scalar_rows(thresholds.to_dict()),
        "concurrency": scalar_rows(_scalars(run.get("concurrency"))),
        "plan_json": json.dumps(run.get("plan"), indent=2, sort_keys=True, default=str),
        "has_plan": bool(run.get("plan")),
        "data_notes": [
            f"{count} malformed {key} dropped before judging"
            for key, count in sorted((run.get("dropped") or {}).items())
            if count
        ],
        "chart": chart_data(ev, t0, thresholds.min_samples),
    }


def fold_node_rows(results: list[dict], nodes: set[str]) -> tuple[list[dict], list[dict]]:
    """The criteria table's rows, and the rows folded out of it: a criterion judged per node
    on more than ``NODES_SHOWN`` nodes keeps its failed rows and one summary row (counts by
    verdict) in the table; its other rows go to a list below it (100 nodes: 100 rows each)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(results):
        head, sep, node = r["window"].rpartition(" · ")
        if sep and node in nodes:
            groups[(r["name"], head)].append(i)
    hidden: set[int] = set()
    summaries: dict[int, dict] = {}
    for (_name, head), rows in groups.items():
        kept = [i for i in rows if results[i]["verdict"] != FAIL]
        if len(rows) <= NODES_SHOWN or not kept:
            continue
        hidden.update(kept)
        counts = Counter(results[i]["verdict"] for i in kept)
        first = results[kept[0]]
        summaries[kept[0]] = {
            **first,
            "window": f"{head} · {len(kept)} nodes",
            "value_text": "",
            "verdict": INSUFFICIENT if counts[INSUFFICIENT] else first["verdict"],
            "mark": ", ".join(f"{VERDICT_MARK.get(v, v)} {n}" for v, n in sorted(counts.items())),
            "n": sum(results[i]["n"] for i in kept),
            "detail": "folded: each node's row is under Per-node rows, below this table",
        }
    shown = []
    for i, r in enumerate(results):
        if i in summaries:
            shown.append(summaries[i])
        if i not in hidden:
            shown.append(r)
    return shown, [results[i] for i in sorted(hidden)]


def fold_origin_rows(table: dict[str, Any]) -> dict[str, Any]:
    """The answer-checker table with its per-origin rows folded (``folded``) beyond
    ``NODES_SHOWN`` origins, save those with an answer or a hit that is neither right, nor
    unknown, nor partial during a fault; the JSON keeps them all."""
    answers = [
        c not in (COMPLETE, PARTIAL_DURING_FAULT, UNKNOWN) for c in table.get("answer_classes", ())
    ]
    hits = [c not in (OK, UNKNOWN) for c in table.get("hit_classes", ())]

    def plain(row: dict[str, Any]) -> bool:
        counts = zip([*answers, *hits], [*row["answers"], *row["hits"]], strict=True)
        return not any(bad and n for bad, n in counts)

    rows = table.get("rows", [])
    origins = [r for r in rows if r["window"] == WHOLE_RUN and r["origin"] != "all"]
    if len(origins) <= NODES_SHOWN:
        return {**table, "folded": []}
    folded = [r for r in origins if plain(r)]
    hidden = {id(r) for r in folded}
    return {**table, "rows": [r for r in rows if id(r) not in hidden], "folded": folded}


def _scalars(data: Any) -> dict[str, Any]:
    """Top-level scalar fields of a results file written by another part (shape not ours)."""
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str | int | float | bool) or v is None}
