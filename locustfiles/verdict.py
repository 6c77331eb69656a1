"""The end of a run: judge it with ``reports`` and decide the exit code.

The suite's own checks (every operation type succeeded, nothing acknowledged lost, no worker
died) come first; then the readiness criteria judged per window by ``reports.build``.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import reports
from reports.thresholds import Thresholds, load_overrides

from . import options as opts
from .results import concurrency_results

REQUIRED_OPS = ("search", "index", "download")
VERSIONED = ("peerload", "locust", "grpcio", "gevent", "bottle", "psutil")


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def thresholds(options) -> dict:
    """Overrides from ``--thresholds FILE`` then ``--threshold NAME=VALUE,…`` (validated)."""
    merged = load_overrides(Path(options.thresholds)) if options.thresholds else {}
    merged.update(opts.threshold_overrides(options.threshold))
    Thresholds.from_dict(merged)  # unknown names and bad values fail here, before the run
    return merged


def suite_problems(state) -> list[str]:
    problems = []
    if state.stopped_reason and state.stopped_reason.startswith("network not healthy"):
        problems.append(state.stopped_reason)
    if state.worker_died:
        problems.append("a worker died during the run")
    ok_ops = {s["op"] for s in state.samples if s["ok"]}
    never = [op for op in REQUIRED_OPS if op not in ok_ops]
    if never:
        problems.append(f"operation(s) never succeeded: {', '.join(never)}")
    if state.integrity and (state.integrity["lost"] or state.integrity["corrupt"]):
        problems.append("acknowledged uploads were lost or corrupted")
    if state.final_problems:
        problems.append("final verification: " + "; ".join(state.final_problems))
    return problems


def judge(state, options, results_dir: Path):
    """Write every result file and report; the readiness verdict."""
    config = {
        k: getattr(options, k, None)
        for k in (
            "profile",
            "nodes",
            "cluster",
            "failover",
            "fault_plan",
            "levels",
            "step_time",
            "stress_levels",
            "stress_p95_ms",
            "seed",
            "run_time",
            "processes",
        )
    }
    config["stopped_reason"] = state.stopped_reason
    run = {
        "config": {k: ("" if v is None else v) for k, v in config.items()},
        "versions": versions(),
        "seed": options.seed,
        "plan": state.plan,
        "samples": state.samples,
        "windows": state.windows + state.fault_windows,
        "journal": state.journal,
        "series": state.series,
        "integrity": state.integrity,
        "concurrency": concurrency_results(state),
        # [] rather than None: never let reports pick up an older run's fault file
        "fault_results": state.fault_results or [],
        "thresholds": thresholds(options),
    }
    return reports.build(results_dir, run)


def exit_code(state) -> tuple[int, str]:
    """0 when the network was judged READY and the suite's own checks pass; the reason leads
    with the readiness verdict."""
    problems = suite_problems(state)
    if state.verdict is None:
        return 1, "FAIL: the run ended before it could be judged" + "".join(
            f"; {p}" for p in problems
        )
    if problems:
        return 1, f"{state.verdict.reason}; FAIL: " + "; ".join(problems)
    return state.verdict.exit_code, state.verdict.reason
