"""Readiness reports: criteria per window, a verdict, recommendations, JSON + Markdown + HTML.

Two entry points share one pipeline (``publish``), so a re-render gives byte-identical reports:

- ``build(results_dir, run)`` — called by the Locust suite at the end of a run;
- ``rerender(results_dir)`` — ``python -m reports RESULTS_DIR``, from the JSON files alone.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from reports import health
from reports.checker import table as checker_table
from reports.context import build_context
from reports.evidence import Evidence
from reports.normalize import normalize_run
from reports.recommend import recommend
from reports.regression import check_setup, load_baseline, setup_of
from reports.render import render_html, render_markdown
from reports.results import (
    COMPLETE,
    CONCURRENCY,
    FAULT_TOLERANCE,
    HTML,
    MARKDOWN,
    PERFORMANCE,
    SAMPLES,
    ResultsError,
    atomic_write_text,
    complete_results,
    fault_entries,
    load_run,
    performance_report,
    read_optional,
    write_json,
    write_samples,
)
from reports.series import fault_timings
from reports.thresholds import Thresholds, load_overrides
from reports.verdict import Verdict, judge_all

__all__ = ["ResultsError", "Thresholds", "Verdict", "build", "judge", "publish", "rerender"]


def judge(run: dict[str, Any]) -> Verdict:
    """Judge a run (finished or still going) in memory, writing nothing: the web UI's view of
    the criteria as they stand."""
    run = normalize_run(run)
    return judge_all(Evidence.from_run(run), Thresholds.from_dict(run.get("thresholds")))


def build(results_dir: Path, run: dict[str, Any]) -> Verdict:
    """Judge a finished run and write every result file and report into ``results_dir``.

    ``run`` (every key optional, unknown keys refused; shapes from docs/contracts.md):

    - ``samples``: list of raw sample dicts; ``windows``: list of window dicts;
      ``journal``: list of journal entries; ``series``: list of monitor rows;
    - ``config``, ``versions``: flat dicts shown in the report; ``seed``: int; ``plan``: the
      resolved fault plan dict or ``None``; ``integrity``: counters such as
      ``{"acked_uploads", "lost", "corrupt", "searchable_checked", "unsearchable", …}`` or
      ``None`` (not checked);
    - ``concurrency``: the Locust suite's results dict, ``fault_results``: per-fault dicts
      ``{"fault_id", "target", "detected_s", "recovered_s"}`` (``recovered_s`` ``None`` = never);
      left ``None``, they are read from ``concurrency_results.json`` /
      ``fault_tolerance_results.json`` in ``results_dir`` when present;
    - ``thresholds``: overrides of ``Thresholds`` field names, or ``None`` for the defaults;
    - ``status``: how the run went (verification problems, interrupted, cut short; see
      docs/contracts.md), ``baseline``: ``reports.regression.load_baseline`` of an older run.

    Raises ``ValueError`` on malformed windows or wrong types, before anything is written.
    """
    results_dir = Path(results_dir)
    run = normalize_run(run)
    if run["concurrency"] is None:
        run["concurrency"] = read_optional(results_dir, CONCURRENCY)
    if run["fault_results"] is None:
        run["fault_results"] = fault_entries(read_optional(results_dir, FAULT_TOLERANCE))
    write_samples(results_dir / SAMPLES, run["samples"])
    return publish(results_dir, run)


def rerender(
    results_dir: Path,
    thresholds_file: Path | None = None,
    baseline_dir: Path | None = None,
    *,
    any_setup: bool = False,
    overrides: dict[str, Any] | None = None,
) -> Verdict:
    """Re-judge and re-render from the JSON files, optionally with thresholds from a file, then
    ``overrides`` (``--threshold``), and compared with a baseline run's results directory
    (stored into the run from then on); a baseline of another setup is a ``ValueError`` unless
    ``any_setup``. Thresholds are checked before any file is written."""
    results_dir = Path(results_dir)
    run = load_run(results_dir)
    if thresholds_file is not None:
        run["thresholds"] = {**(run.get("thresholds") or {}), **load_overrides(thresholds_file)}
    if overrides:
        run["thresholds"] = {**(run.get("thresholds") or {}), **overrides}
    Thresholds.from_dict(run.get("thresholds"))  # a bad name or value: one line, no file
    if baseline_dir is not None:
        base = load_baseline(baseline_dir, Thresholds.from_dict(run.get("thresholds")))
        check_setup(base, setup_of(run.get("config"), run.get("status")), any_setup=any_setup)
        run["baseline"] = base
        run["config"] = {**(run.get("config") or {}), "baseline": base["source"]}
    return publish(results_dir, normalize_run(run))


def publish(results_dir: Path, run: dict[str, Any]) -> Verdict:
    """Judge a normalised run and write the JSON results, Markdown and HTML. Pure of the clock."""
    thresholds = Thresholds.from_dict(run.get("thresholds"))
    ev = Evidence.from_run(run)
    verdict = judge_all(ev, thresholds)
    recommendations = recommend(ev, verdict.results, thresholds)
    judged = {
        "thresholds_resolved": thresholds.to_dict(),
        "criteria": [r.to_dict() for r in verdict.results],
        "verdict": verdict.to_dict(),
        "recommendations": [r.to_dict() for r in recommendations],
        "fault_timings": [asdict(ft) for ft in fault_timings(ev)],
        "answer_checker": checker_table(ev),
        "protocol_health": health.table(ev),
    }
    write_json(results_dir / COMPLETE, complete_results(run, judged))
    write_json(results_dir / PERFORMANCE, performance_report(ev, thresholds.min_samples))
    context = build_context(run, ev, verdict, recommendations, thresholds)
    atomic_write_text(results_dir / MARKDOWN, render_markdown(context))
    atomic_write_text(results_dir / HTML, render_html(context))
    return verdict
