"""reports.harness: whether the run measured what it set out to measure."""

from __future__ import annotations

import pytest

from reports.evidence import Evidence
from reports.harness import (
    fault_schedule,
    faults_applied,
    generator_cpu,
    monitor_gaps,
    run_complete,
    workers,
)
from reports.rows import FAIL, HARNESS, INSUFFICIENT, PASS, REPORTED
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from tests.fixtures import ADMIN_404, fail_steps, only, rows, status, win

TH = Thresholds()


def judged(criterion, th: Thresholds = TH, **run):
    return only(criterion(Evidence(**run), th))


# -- the run and its workers -----------------------------------------------------------------


def test_a_run_through_every_stage_is_complete():
    r = judged(run_complete, status=status())
    assert r.verdict == PASS and r.family == HARNESS and r.detail == "all stages done"


@pytest.mark.parametrize(
    ("changes", "count", "detail"),
    [
        ({"interrupted": "SIGTERM"}, 1, "interrupted (SIGTERM)"),
        ({"cut_short": "no stress step ran"}, 1, "cut short: no stress step ran"),
        (
            {"interrupted": "SIGINT", "cut_short": "stopped in level-10"},
            2,
            "interrupted (SIGINT); cut short: stopped in level-10",
        ),
    ],
)
def test_an_interrupted_or_cut_short_run_is_not_complete(changes, count, detail):
    r = judged(run_complete, status=status(**changes))
    assert r.verdict == FAIL and r.value == count and r.detail == detail


def test_a_run_still_going_is_reported_not_judged():
    r = judged(run_complete, status=status(in_progress=True))
    assert r.verdict == REPORTED and r.detail == "the run is still going"


@pytest.mark.parametrize("criterion", [run_complete, workers])
def test_no_run_status_is_insufficient(criterion):
    r = judged(criterion)
    assert r.verdict == INSUFFICIENT and r.detail == "no run status recorded"


def test_a_lost_worker_fails():
    assert judged(workers, status=status()).verdict == PASS
    r = judged(workers, status=status(worker_died=True))
    assert r.verdict == FAIL and r.detail == "a worker died during the run"


# -- the fault schedule ----------------------------------------------------------------------


def step(phase: str, late_s: float | None = None) -> dict:
    """A fault journal step record; ``late_s`` only when it started late, as the runner does."""
    return {"phase": phase, "outcome": "ok", "detail": {} if late_s is None else {"late_s": late_s}}


@pytest.mark.parametrize(("late", "verdict"), [(0.3, PASS), (2.0, PASS), (2.5, FAIL)])
def test_the_latest_step_is_judged_against_harness_late_s(late, verdict):
    journal = [step("start"), step("end", 0.1), step("start", late), step("end")]
    r = judged(fault_schedule, journal=journal)
    assert r.verdict == verdict and r.value == late and r.n == 4


def test_records_other_than_steps_are_not_judged():
    journal = [{"record": "run", "detail": {"late_s": 99.0}}, step("start")]
    r = judged(fault_schedule, journal=journal)
    assert r.verdict == PASS and r.value == 0.0 and r.n == 1


@pytest.mark.parametrize("criterion", [fault_schedule, faults_applied])
def test_no_fault_steps_is_reported(criterion):
    assert judged(criterion).verdict == REPORTED


# -- the fault steps applied -----------------------------------------------------------------


def test_every_step_applied_passes():
    journal = [step("start"), step("end"), {"record": "run", "outcome": "error"}]
    r = judged(faults_applied, journal=journal)
    assert (r.verdict, r.value, r.n, r.family) == (PASS, 0.0, 2, HARNESS)
    assert r.detail == "all 2 steps applied"


def test_a_failed_step_fails_naming_the_step_and_its_error():
    run = fail_steps(synthetic_run(seed=3, scale=0.1), "isolate", "n3")
    r = judged(faults_applied, journal=run["journal"])
    assert (r.verdict, r.value, r.n) == (FAIL, 2.0, 6)
    assert r.detail == f"2 of 6 steps failed: isolate:n3 start, end: {ADMIN_404}"


def test_failed_steps_of_several_faults_are_each_named():
    journal = [
        {**step("start"), "fault_id": "cut", "target": "n2", "outcome": "error", "error": "E1"},
        {**step("end"), "fault_id": "cut", "target": "n2", "outcome": "error", "error": "E2",
         "detail": {"reason": "final heal (completed)"}},
        {**step("start"), "fault_id": "slow", "target": "n1", "outcome": "error", "error": "E1"},
    ]  # fmt: skip
    r = judged(faults_applied, journal=journal)
    assert r.detail == (
        "3 of 3 steps failed: cut:n2 start: E1; cut:n2 end (final heal (completed)): E2; "
        "slow:n1 start: E1"
    )


# -- the monitor -----------------------------------------------------------------------------


@pytest.mark.parametrize(("gap", "verdict"), [(1.0, PASS), (6.0, PASS), (7.5, FAIL)])
def test_the_longest_monitor_gap_is_judged_against_monitor_gap_s(gap, verdict):
    times = [0.0, 1.0, 2.0, 2.0 + gap, 3.0 + gap]
    r = judged(monitor_gaps, series=rows(times))
    assert r.verdict == verdict and r.value == gap and r.n == 5


def test_monitor_gaps_need_two_rows():
    assert judged(monitor_gaps, series=rows([0.0])).verdict == INSUFFICIENT


# -- the load generator ----------------------------------------------------------------------


def cpu_rows(*readings, start: float = 0.0) -> list[dict]:
    """Monitor rows a second apart with the load generator's CPU readings."""
    times = [start + i for i in range(len(readings))]
    return [{**r, "generator_cpu": cpu} for r, cpu in zip(rows(times), readings, strict=True)]


def test_a_busy_generator_below_the_limit_passes():
    r = judged(generator_cpu, series=cpu_rows(40, 60, 89.5, 70))
    assert r.verdict == PASS and r.value == 70 and r.n == 4


def test_a_single_spike_is_not_saturation():
    assert judged(generator_cpu, series=cpu_rows(40, 100, 40, 100, 40)).verdict == PASS


def test_two_consecutive_saturated_readings_fail_at_the_limit_inclusive():
    at = judged(generator_cpu, series=cpu_rows(40, 90, 90, 40))
    assert at.verdict == FAIL and at.value == 90 and at.goal == "< 90%"
    assert judged(generator_cpu, series=cpu_rows(40, 99, 95, 40)).verdict == FAIL


def test_stress_is_meant_to_saturate():
    stress = win("stress-40", "stress", 10, 20)
    series = cpu_rows(40, 50, 60) + cpu_rows(*[100] * 10, start=10) + cpu_rows(50, start=20)
    r = judged(generator_cpu, windows=[stress], series=series)
    assert r.verdict == PASS and r.n == 4


def test_generator_cpu_needs_two_readings():
    series = cpu_rows(50) + rows([1.0, 2.0])  # rows without the reading do not count
    r = judged(generator_cpu, series=series)
    assert r.verdict == INSUFFICIENT and "load-generator CPU readings" in r.detail
