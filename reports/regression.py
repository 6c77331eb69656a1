"""Regression against a baseline run: the same network, last week, on the same profile.

Absolute thresholds let a network that got ten times slower stay READY. Given a previous run's
results directory (``--baseline DIR``), its figures are summarised once (``baseline_summary``)
and stored in the new run, so a re-render compares the same numbers. Compared, per level of the
same name: each operation's p95 and the level's throughput; the stress capacity; and each
node's CPU per 1,000 operations and memory over the levels (reports/resources.py). Beyond the
tolerances the verdict is REGRESSION (exit code 3), naming the figure. Without a baseline these
criteria produce no rows.

A baseline must come from the same setup (``SETUP``: the network, its size and topology, the
profile and the options that shape the load): the entry points refuse another one
(``check_setup``) unless ``--baseline-any-setup`` is given, and then every regression row says
it is cross-setup, so nobody reads it as like for like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports import resources, stress
from reports.evidence import STEADY_KINDS, Evidence
from reports.rows import COUNT, MS, OPS_S, REGRESSION, Check, Result, fmt
from reports.samples import OPERATIONS, latencies, percentile, select, throughput
from reports.thresholds import Thresholds

PCT_SCALE = 100.0
ANY_SETUP = "--baseline-any-setup"
#: A full mesh: the topology of every run recorded before runs recorded one.
FULL_MESH = "full"
#: What a baseline must share with the run, as recorded in the run's config: (key, label).
SETUP = (
    ("network", "network"),
    ("nodes", "nodes"),
    ("topology", "topology"),
    ("profile", "profile"),
    ("levels", "levels"),
    ("step_time", "step time"),
    ("stress_start", "stress start"),
    ("faults", "fault plan"),
    ("files_per_node", "files per node"),
)
UNRECORDED = "unrecorded"


def baseline_summary(ev: Evidence, th: Thresholds) -> dict[str, Any]:
    """The figures a later run is compared with: per level, throughput and each op's p95."""
    levels = {}
    for w in ev.of_kind(*STEADY_KINDS):
        reqs = ev.in_window(w)
        ops = {}
        for op in OPERATIONS:  # TTFB included: a slower first byte is what a user feels
            group = select(ev.samples_in(w), op=op)
            if len(group) >= th.min_samples:
                ops[op] = {"p95_ms": percentile(latencies(group), 95), "n": len(group)}
        levels[w["name"]] = {
            "users": w.get("users"),
            "ops_per_s": throughput(reqs, w["end"] - w["start"]),
            "n": len(reqs),
            "ops": ops,
        }
    return {
        "levels": levels,
        "capacity": stress.breaking_point(ev, th)["highest_held"],
        "resources": resources.baseline_figures(ev),
    }


def setup_of(config: dict[str, Any] | None, status: dict[str, Any] | None) -> dict[str, Any]:
    """A run's setup from its record; a fact it did not record is ``None`` (never a match)."""
    config, status = config or {}, status or {}
    found = {key: config.get(key) for key, _ in SETUP}
    # What the run saw: runs recorded before the setup kept the --nodes option in the config.
    found["nodes"] = status.get("nodes") or found["nodes"]
    found["network"] = found["network"] or status.get("network")  # older runs: adapter's name
    found["topology"] = found["topology"] or FULL_MESH
    return found


def _shown(value: Any) -> str:
    return UNRECORDED if value is None else str(value) or "none"


def setup_differences(was: dict[str, Any] | None, now: dict[str, Any]) -> list[str]:
    """``["network tinyp2p vs builtin", …]`` (baseline vs this run); a fact either side did not
    record differs too: nobody can tell it matches."""
    if not was:
        return ["the baseline's setup is not recorded"]
    return [
        f"{label} {_shown(was.get(key))} vs {_shown(now.get(key))}"
        for key, label in SETUP
        if was.get(key) is None or now.get(key) is None or was.get(key) != now.get(key)
    ]


def check_setup(base: dict[str, Any], setup: dict[str, Any], *, any_setup: bool) -> None:
    """ValueError (one line) when the baseline is of another setup, unless ``any_setup``."""
    differs = setup_differences(base.get("setup"), setup)
    if differs and not any_setup:
        raise ValueError(
            f"--baseline {base.get('source')}: another setup (baseline vs this run): "
            f"{', '.join(differs)}; {ANY_SETUP} compares anyway"
        )


def load_baseline(results_dir: Path | str, th: Thresholds) -> dict[str, Any]:
    """Summarise a previous run's results directory; ``ResultsError`` if it cannot be read.
    ``source`` is the folder resolved: ``results/latest`` points at the new run once it ends."""
    from reports.normalize import normalize_run
    from reports.results import load_run  # results imports evidence; keep this module light

    folder = Path(results_dir).resolve()
    run = normalize_run(load_run(folder))
    ev = Evidence.from_run(run)
    return {
        "source": str(folder),
        "setup": setup_of(run["config"], run["status"]),
        **baseline_summary(ev, th),
    }


def cross_setup(ev: Evidence) -> list[str]:
    """How the baseline's setup differs from this run's (empty: like for like)."""
    return setup_differences(ev.baseline.get("setup"), setup_of(ev.config, ev.status))


def baseline_note(ev: Evidence) -> dict[str, str] | None:
    """What the report says about the baseline: its folder, and whether it is another setup."""
    if not ev.baseline:
        return None
    return {"source": str(ev.baseline.get("source", "")), "cross_setup": ", ".join(cross_setup(ev))}


def _check(name: str, op: str, limit: float, unit: str) -> Check:
    return Check(name, op, limit, unit, 1, family=REGRESSION)


def regression(ev: Evidence, th: Thresholds) -> list[Result]:
    """Per-op p95 and throughput per level, and capacity, against the baseline's."""
    if not ev.baseline:
        return []
    now = baseline_summary(ev, th)
    source = ev.baseline.get("source", "baseline")
    differs = cross_setup(ev)
    mark = f"cross-setup ({', '.join(differs)}): " if differs else ""
    out: list[Result] = []
    # In this run's order (time, OPERATIONS): the stored baseline's keys come back sorted.
    for name, new in now["levels"].items():
        old = (ev.baseline.get("levels") or {}).get(name)
        if old is None:
            continue
        for op, got in new["ops"].items():
            was = old.get("ops", {}).get(op)
            if was is None or was.get("p95_ms") is None:
                continue
            limit = round(
                max(
                    was["p95_ms"] * (1 + th.regress_p95_pct / PCT_SCALE),
                    was["p95_ms"] + th.regress_p95_slack_ms,
                ),
                1,
            )
            check = _check("regression_p95", "<=", limit, MS)
            detail = f"{mark}baseline {fmt(was['p95_ms'], MS)} ({source})"
            out.append(check.on(f"{name} · {op}", got["p95_ms"], got["n"], detail))
        if old.get("ops_per_s") and old.get("n", 0) >= th.min_samples:
            limit = round(old["ops_per_s"] * (1 - th.regress_throughput_pct / PCT_SCALE), 1)
            check = _check("regression_throughput", ">=", limit, OPS_S)
            detail = f"{mark}baseline {fmt(old['ops_per_s'], OPS_S)}"
            out.append(check.on(name, new["ops_per_s"], new["n"], detail))
    was_held, held = ev.baseline.get("capacity"), now["capacity"]
    if was_held:
        limit = round(was_held * (1 - th.regress_capacity_pct / PCT_SCALE), 1)
        check = _check("regression_capacity", ">=", limit, COUNT)
        detail = f"{mark}baseline held {was_held} users"
        out.append(check.on("stress", None if held is None else float(held), 1, detail))
    return out + resources.regression_rows(ev, th, mark)


CRITERIA = (regression,)
