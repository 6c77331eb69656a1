"""reports.regression: the same network against a baseline run's figures, of the same setup."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reports
from reports.evidence import Evidence
from reports.regression import (
    ANY_SETUP,
    baseline_summary,
    check_setup,
    load_baseline,
    regression,
    setup_of,
)
from reports.results import COMPLETE, MARKDOWN
from reports.rows import FAIL, INSUFFICIENT, PASS, REGRESSION
from reports.synthetic import setup, synthetic_run
from reports.thresholds import Thresholds
from tests.fixtures import only, spread, win

REPO = Path(__file__).resolve().parents[1]
TH = Thresholds()
LEVEL = win("level-5", "level", 0, 10)
SETUP = setup()
SCALE = 0.4  # of the synthetic timeline: every level still well above min_samples


def baseline(p95_ms: float = 100.0, ops_per_s: float = 4.0, n: int = 40, **more) -> dict:
    """A baseline with one level (searches only) of this run's setup, as ``load_baseline``
    writes it."""
    ops = {"search": {"p95_ms": p95_ms, "n": n}}
    level = {"users": 5, "ops_per_s": ops_per_s, "n": n, "ops": ops}
    return {"source": "runs/last-week", "setup": SETUP, "levels": {"level-5": level}, **more}


def now(base: dict, samples: list[dict] | None = None, held: int | None = None) -> list:
    """Regression rows of a run (40 searches of 100 ms over 10 s by default) against ``base``;
    ``held``: a stress step of that many users that held."""
    samples = spread(0, 10, 40, lat=100.0) if samples is None else samples
    windows = [LEVEL] + ([] if held is None else [stress_step(held)])
    samples += [] if held is None else spread(10, 20, 40, lat=100.0)
    run = {"windows": windows, "samples": samples, "baseline": base}
    return regression(Evidence.from_run({**run, "config": SETUP}), TH)


def stress_step(users: int) -> dict:
    return win(f"stress-{users}", "stress", 10, 20, users=users)


def test_without_a_baseline_there_are_no_rows():
    assert now({}) == []


def test_the_same_figures_as_the_baseline_pass():
    results = now(baseline())
    assert [r.name for r in results] == ["regression_p95", "regression_throughput"]
    assert {r.verdict for r in results} == {PASS} and {r.family for r in results} == {REGRESSION}
    p95 = only(results, "level-5 · search")
    assert p95.detail == "baseline 100 ms (runs/last-week)" and p95.threshold == 150.0


@pytest.mark.parametrize(
    ("was", "got", "verdict"),
    [
        (100.0, 150.0, PASS),  # +50 % exactly
        (100.0, 151.0, FAIL),  # beyond +50 % and beyond the 25 ms slack
        (10.0, 35.0, PASS),  # 3.5x, but within the slack: 25 ms more is noise
        (10.0, 36.0, FAIL),  # beyond both
    ],
)
def test_p95_beyond_both_the_percentage_and_the_slack_regresses(was, got, verdict):
    r = only(now(baseline(p95_ms=was), spread(0, 10, 40, lat=got)), "level-5 · search")
    assert r.verdict == verdict and r.value == got


@pytest.mark.parametrize(("ok", "verdict"), [(40, PASS), (28, PASS), (27, FAIL)])
def test_throughput_more_than_30_percent_below_the_baseline_regresses(ok, verdict):
    r = only(now(baseline(ops_per_s=4.0), spread(0, 10, ok, 40 - ok, lat=100.0)), "level-5")
    assert r.name == "regression_throughput" and r.threshold == pytest.approx(2.8)
    assert r.verdict == verdict and r.value == ok / 10


def test_figures_without_enough_samples_are_not_compared():
    thin_baseline = now(baseline(n=10))
    assert [r.name for r in thin_baseline] == ["regression_p95"]
    thin_now = now(baseline(), spread(0, 10, 10))  # too few searches for a p95
    assert [r.name for r in thin_now] == ["regression_throughput"]
    elsewhere = now({"levels": {"level-25": baseline()["levels"]["level-5"]}})
    assert elsewhere == []  # the level did not run this time


def test_rows_follow_the_run_not_the_order_the_stored_baseline_comes_back_in():
    level = baseline()["levels"]["level-5"]
    stored = {"levels": {"level-10": level, "level-5": level}}  # JSON written with sorted keys
    windows = [LEVEL, win("level-10", "level", 10, 20, users=10)]
    run = {"windows": windows, "samples": spread(0, 20, 80, lat=100.0), "baseline": stored}
    results = regression(Evidence.from_run(run), TH)
    assert [r.window for r in results] == [
        "level-5 · search",
        "level-5",
        "level-10 · search",
        "level-10",
    ]


@pytest.mark.parametrize(("held", "verdict"), [(40, PASS), (28, PASS), (20, FAIL)])
def test_capacity_more_than_30_percent_below_the_baseline_regresses(held, verdict):
    r = only(now(baseline(capacity=40), held=held), "stress")
    assert r.name == "regression_capacity" and r.threshold == 28.0
    assert r.verdict == verdict and r.detail == "baseline held 40 users"


def test_capacity_without_a_stress_step_that_held_is_insufficient():
    r = only(now(baseline(capacity=40)), "stress")
    assert r.verdict == INSUFFICIENT


def test_baseline_summary_and_load_baseline(tmp_path):
    run = {"windows": [LEVEL, stress_step(30)], "samples": spread(0, 10, 30, 10, lat=100.0)}
    run["samples"] += spread(10, 20, 40, lat=100.0)  # the stress step held
    summary = baseline_summary(Evidence.from_run(run), TH)
    assert summary == {
        "levels": {
            "level-5": {
                "users": 5,
                "ops_per_s": 3.0,
                "n": 40,
                "ops": {"search": {"p95_ms": 100.0, "n": 40}},
            }
        },
        "capacity": 30,
        "resources": {},  # no monitor rows: no node's CPU or memory to compare
    }
    run["config"] = SETUP
    reports.build(tmp_path, run)
    expected = {"source": str(tmp_path.resolve()), "setup": SETUP, **summary}
    assert load_baseline(tmp_path, TH) == expected


# -- the setup must match ----------------------------------------------------------------------
def test_the_setup_comes_from_the_config_and_what_the_run_saw():
    assert setup_of(SETUP, {}) == SETUP
    older = {k: v for k, v in SETUP.items() if k not in ("network", "topology")} | {"nodes": 3}
    seen = setup_of(older, {"nodes": 5, "network": "tinyp2p"})  # a run before the setup
    assert seen == SETUP | {"nodes": 5, "network": "tinyp2p"}  # and every run was a full mesh


def test_a_baseline_of_another_setup_is_refused_in_one_line_naming_what_differs():
    base = baseline(setup=SETUP | {"network": "tinyp2p", "nodes": 5})
    with pytest.raises(ValueError) as refused:
        check_setup(base, SETUP, any_setup=False)
    assert str(refused.value) == (
        "--baseline runs/last-week: another setup (baseline vs this run): "
        f"network tinyp2p vs builtin, nodes 5 vs 3; {ANY_SETUP} compares anyway"
    )
    check_setup(base, SETUP, any_setup=True)  # the override lets it through
    check_setup(baseline(), SETUP, any_setup=False)  # the same setup: compared


def test_a_fact_not_recorded_never_matches():
    unknown = {k: v for k, v in SETUP.items() if k != "faults"}
    with pytest.raises(ValueError, match="fault plan unrecorded vs unrecorded"):
        check_setup(baseline(setup=unknown), unknown, any_setup=False)
    with pytest.raises(ValueError, match="the baseline's setup is not recorded"):
        check_setup({"source": "old", "levels": {}}, SETUP, any_setup=False)


def test_every_row_against_another_setup_says_it_is_cross_setup():
    other = SETUP | {"network": "tinyp2p", "stress_start": ""}
    results = now(baseline(capacity=40, setup=other), held=40)
    assert [r.name for r in results] == [
        "regression_p95",
        "regression_throughput",
        "regression_capacity",
    ]
    mark = "cross-setup (network tinyp2p vs builtin, stress start none vs 30): baseline "
    assert all(r.detail.startswith(mark) for r in results), [r.detail for r in results]
    assert only(results, "level-5 · search").detail.endswith("(runs/last-week)")
    unrecorded = now({k: v for k, v in baseline().items() if k != "setup"})
    assert all("cross-setup (the baseline's setup is not recorded)" in r.detail for r in unrecorded)


# -- python -m reports NEW --baseline OLD, on synthetic result folders -------------------------
def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reports", *args], cwd=REPO, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A run, a baseline of the same setup (reached through a ``latest`` symlink, as after a
    run) and one of the example network with 5 nodes."""
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for name, changes in (
        ("new", {}),
        ("same", {}),
        ("tinyp2p", {"network": "tinyp2p", "nodes": 5}),
    ):
        run = synthetic_run(seed=3, scale=SCALE)
        run["config"].update(changes)
        run["status"]["nodes"] = run["config"]["nodes"]  # what the run saw
        reports.build(root / name, run)
        made[name] = root / name
    (root / "latest").symlink_to("same")
    made["latest"] = root / "latest"
    return made


def stored(folder: Path) -> dict:
    return json.loads((folder / COMPLETE).read_text())


def test_python_m_reports_refuses_a_baseline_of_another_network(folders):
    before = (folders["new"] / COMPLETE).read_bytes()
    done = run_cli(str(folders["new"]), "--baseline", str(folders["tinyp2p"]))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        f"python -m reports: error: --baseline {folders['tinyp2p'].resolve()}: another setup "
        "(baseline vs this run): network tinyp2p vs builtin, nodes 5 vs 3; "
        f"{ANY_SETUP} compares anyway\n"
    )
    assert (folders["new"] / COMPLETE).read_bytes() == before  # refused before anything written


def test_the_override_compares_and_marks_every_regression_row(folders, tmp_path):
    done = run_cli(str(folders["new"]), "--baseline", str(folders["tinyp2p"]), ANY_SETUP)
    assert done.returncode == 0, done.stderr  # judged: the same figures, READY
    rows = [r for r in stored(folders["new"])["criteria"] if r["family"] == REGRESSION]
    assert rows and all(
        r["detail"].startswith("cross-setup (network tinyp2p vs builtin, nodes 5 vs 3): ")
        for r in rows
    )
    text = (folders["new"] / MARKDOWN).read_text()
    assert (
        f"Regression baseline `{folders['tinyp2p'].resolve()}`: **another setup** (baseline vs "
        "this run: network tinyp2p vs builtin, nodes 5 vs 3), compared anyway" in text
    )


def test_a_matching_baseline_compares_and_records_its_resolved_folder(folders):
    done = run_cli(str(folders["new"]), "--baseline", str(folders["latest"]))
    assert done.returncode == 0, done.stdout + done.stderr  # the same figures: READY
    resolved = str(folders["same"].resolve())
    run = stored(folders["new"])["run"]
    assert run["baseline"]["source"] == run["config"]["baseline"] == resolved  # not .../latest
    assert run["baseline"]["setup"] == setup(SCALE)
    rows = [r for r in stored(folders["new"])["criteria"] if r["family"] == REGRESSION]
    assert {r["verdict"] for r in rows} == {PASS} and not any(
        "cross-setup" in r["detail"] for r in rows
    )
    assert (
        f"Regression baseline `{resolved}`: the same setup."
        in (folders["new"] / MARKDOWN).read_text()
    )
