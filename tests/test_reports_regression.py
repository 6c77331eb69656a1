"""reports.regression: the same network against a baseline run's figures."""

from __future__ import annotations

import pytest

import reports
from reports.evidence import Evidence
from reports.regression import baseline_summary, load_baseline, regression
from reports.rows import FAIL, INSUFFICIENT, PASS, REGRESSION
from reports.thresholds import Thresholds
from tests.fixtures import only, spread, win

TH = Thresholds()
LEVEL = win("level-5", "level", 0, 10)


def baseline(p95_ms: float = 100.0, ops_per_s: float = 4.0, n: int = 40, **more) -> dict:
    """A baseline with one level (searches only), as ``baseline_summary`` writes it."""
    ops = {"search": {"p95_ms": p95_ms, "n": n}}
    level = {"users": 5, "ops_per_s": ops_per_s, "n": n, "ops": ops}
    return {"source": "runs/last-week", "levels": {"level-5": level}, **more}


def now(base: dict, samples: list[dict] | None = None, held: int | None = None) -> list:
    """Regression rows of a run (40 searches of 100 ms over 10 s by default) against ``base``."""
    samples = spread(0, 10, 40, lat=100.0) if samples is None else samples
    concurrency = {"breaking_point": {"highest_held": held}}
    run = {"windows": [LEVEL], "samples": samples, "baseline": base, "concurrency": concurrency}
    return regression(Evidence.from_run(run), TH)


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
    run = {"windows": [LEVEL], "samples": spread(0, 10, 30, 10, lat=100.0)}
    run["concurrency"] = {"breaking_point": {"highest_held": 30}}
    summary = baseline_summary(Evidence.from_run(run), TH.min_samples)
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
    }
    reports.build(tmp_path, run)
    assert load_baseline(tmp_path, TH.min_samples) == {"source": str(tmp_path), **summary}
