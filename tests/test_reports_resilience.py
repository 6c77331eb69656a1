"""reports.resilience: serving through a fault, noticing it, and coming back in time."""

from __future__ import annotations

import pytest

from reports.evidence import Evidence
from reports.resilience import (
    failure_detection,
    recovery,
    service_recovery,
    single_node_failure,
)
from reports.rows import FAIL, INSUFFICIENT, PASS, RESILIENCE
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from tests.fixtures import ADMIN_404, fail_steps, fault_result, fault_win, only, rows, spread, win

TH = Thresholds()
CRASH = fault_win("n2", 0, 10)
UNGATED = TH.merged({"detect_s": None, "recovery_s": None})


def judged(criterion, *entries: dict, window: dict = CRASH, th: Thresholds = TH, **run):
    """The one row ``criterion`` gives for ``window`` with the faults side's ``entries``."""
    results = [fault_result(window, **e) for e in entries]
    return only(criterion(Evidence(windows=[window], fault_results=results, **run), th))


# -- single-node failure ---------------------------------------------------------------------


def test_one_fault_window_inside_another_is_judged_on_its_own_samples():
    outer = fault_win("n1", 0, 60)
    inner = fault_win("n2", 20, 30, kind="pause")
    samples = spread(0, 20, 40) + spread(20, 30, 10, 20) + spread(30, 60, 100)
    ev = Evidence(windows=[outer, inner], samples=samples)
    results = single_node_failure(ev, TH)
    r_outer, r_inner = only(results, "fault:crash:n1"), only(results, "fault:pause:n2")
    assert (r_outer.n, r_inner.n) == (170, 30)  # the inner requests count in both
    assert r_outer.verdict == PASS and r_outer.value == pytest.approx(150 / 170 * 100)
    assert r_inner.verdict == FAIL and "overlaps fault:crash:n1" in r_inner.detail
    assert r_inner.family == RESILIENCE


@pytest.mark.parametrize(
    "window",
    [
        fault_win("n2", 0, 10, kind="delay", takes_down=False),  # the node keeps serving
        fault_win("halves", 0, 10, kind="partition"),  # a group, not one node
        fault_win("n1,n2", 0, 10),
        win("level-5", "level", 0, 10),
    ],
    ids=["delay", "group", "two-nodes", "no-fault"],
)
def test_only_faults_taking_one_node_down_are_single_node_failures(window):
    ev = Evidence(windows=[window], samples=spread(0, 10, 0, 40))
    r = only(single_node_failure(ev, TH))
    assert r.verdict == INSUFFICIENT and r.window == "faults"


def test_windows_written_before_takes_down_fall_back_to_the_fault_kind():
    legacy = fault_win("n2", 0, 10)
    del legacy["takes_down"]
    ev = Evidence(windows=[legacy], samples=spread(0, 10, 30))
    assert only(single_node_failure(ev, TH)).verdict == PASS


# -- failure detection -----------------------------------------------------------------------


def test_detected_in_time_passes():
    r = judged(failure_detection, {"detected_s": 1.25})
    assert r.verdict == PASS and r.value == 1.25 and r.window == "fault:crash:n2"
    assert r.detail == "crash n2: dead on every survivor after 1.2 s"
    assert r.goal == "target marked dead by every survivor in <= 3 s"


@pytest.mark.parametrize(("seconds", "verdict"), [(3.0, PASS), (3.01, FAIL), (8.0, FAIL)])
def test_detection_is_judged_against_detect_s_inclusive(seconds, verdict):
    assert judged(failure_detection, {"detected_s": seconds}).verdict == verdict


def test_never_detected_fails():
    r = judged(failure_detection, {"detected_s": None})
    assert r.verdict == FAIL and r.value is None and r.detail == "never detected in 10.0 s"
    assert "never detected in 10.0 s in window fault:crash:n2 (n=1)" in r.describe()


def test_detection_not_measured_is_insufficient_and_never_read_from_the_monitor():
    down = rows(range(2, 12), alive=2)  # the monitor saw n2 gone: not the survivors' view
    r = judged(failure_detection, series=down)
    assert r.verdict == INSUFFICIENT and "not measured" in r.detail
    assert judged(failure_detection, {"recovered_s": 1.0}).verdict == INSUFFICIENT


def test_a_partition_is_detected_like_a_crash():
    cut = fault_win("n3", 0, 15, kind="partition")
    assert judged(failure_detection, {"detected_s": 2.0}, window=cut).verdict == PASS
    r = judged(failure_detection, {"detected_s": None}, window=cut)
    assert r.verdict == FAIL and "never detected in 15.0 s" in r.detail


def test_faults_that_take_no_node_down_are_not_detected():
    slow = fault_win("n2", 0, 10, kind="delay", takes_down=False)
    r = judged(failure_detection, {"detected_s": None}, window=slow)
    assert r.verdict == INSUFFICIENT and r.window == "faults"


def test_ungated_detection_passes_when_it_happened():
    assert judged(failure_detection, {"detected_s": 30.0}, th=UNGATED).verdict == PASS
    assert judged(failure_detection, {"detected_s": None}, th=UNGATED).verdict == FAIL


# -- recovery --------------------------------------------------------------------------------


def test_recovery_of_a_nested_fault_waits_for_the_enclosing_one():
    outer = fault_win("n1", 0, 60)
    inner = fault_win("n2", 20, 30, kind="pause")
    series = [{"t": t, "nodes_alive": 2 if t < 63 else 3, "nodes_total": 3} for t in range(70)]
    results = recovery(Evidence(windows=[outer, inner], series=series), TH)
    r_inner = only(results, "fault:pause:n2")
    assert r_inner.verdict == PASS and r_inner.value == 3
    assert "after fault:crash:n1 ended" in r_inner.detail
    assert only(results, "fault:crash:n1").value == 3


def test_recovery_never_reached_fails():
    r = judged(recovery, series=rows(range(30), alive=2))
    assert r.verdict == FAIL and r.n == 20 and r.goal == "N/N alive in <= 10 s"
    assert r.detail == "never back to N/N"
    assert "never back to N/N in window fault:crash:n2" in r.describe()


def test_slow_recovery_fails_unless_recovery_s_is_unset():
    back = [{"t": t, "nodes_alive": 2 if t < 25 else 3, "nodes_total": 3} for t in range(30)]
    slow = judged(recovery, series=back)
    assert slow.verdict == FAIL and slow.value == 15 and "(monitor)" in slow.detail
    assert judged(recovery, series=back, th=UNGATED).verdict == PASS


@pytest.mark.parametrize(("seconds", "verdict"), [(4.0, PASS), (10.0, PASS), (10.5, FAIL)])
def test_recovery_from_the_fault_results_is_judged_against_recovery_s(seconds, verdict):
    r = judged(recovery, {"recovered_s": seconds, "recovered": True})
    assert r.verdict == verdict and r.value == seconds and "(fault_results)" in r.detail


def test_recovery_reported_missing_by_the_faults_side_fails():
    r = judged(recovery, {"recovered_s": None, "recovered": False})
    assert r.verdict == FAIL and "never back to N/N" in r.detail


def test_recovery_watched_past_the_gate_and_missed_fails_saying_how_long():
    r = judged(recovery, {"recovered_s": None, "recovered": False, "recovery_watched_s": 15.0})
    assert r.verdict == FAIL and r.detail == "not N/N in 15.0 s"


@pytest.mark.parametrize(
    ("watched", "th"),
    [
        (15.0, TH.merged({"recovery_s": 30.0})),  # re-judged with a looser gate than watched
        (15.0, UNGATED),  # ... or with none: a miss needs the whole ungated watch
        (1.2, TH),  # a stopped run cut the watch short
    ],
    ids=["looser-gate", "no-gate", "cut-short"],
)
def test_recovery_watched_too_short_to_tell_is_insufficient_not_a_fail(watched, th):
    entry = {"recovered_s": None, "recovered": False, "recovery_watched_s": watched}
    r = judged(recovery, entry, th=th)
    assert r.verdict == INSUFFICIENT and f"watched {watched} s after the heal" in r.detail


def test_recovery_without_evidence_is_insufficient():
    assert judged(recovery).verdict == INSUFFICIENT
    assert only(recovery(Evidence(), TH)).detail == "no fault windows"


# -- service recovery ------------------------------------------------------------------------


LAST_LEVEL = win("level-25", "level", -40, -10)


def service(back_s: float | None, measured: bool = True, th: Thresholds = TH, lat: float = 100.0):
    """service_recovery's row for CRASH (healed at 10 s) when searches after the heal fail (or
    take ``lat`` ms) until ``back_s`` s after it (None: to the end); the last level's searches
    all succeed in 100 ms (no level window: ``measured=False``)."""
    samples = spread(-40, -10, 120)
    if back_s is None:
        samples += spread(10, 40, 0, 120)
    else:
        bad, slow = int(back_s * 4), lat != 100.0  # slow: they succeed, too slowly
        samples += spread(10, 10 + back_s, bad if slow else 0, 0 if slow else bad, lat=lat)
        samples += spread(10 + back_s, 40, 120)
    windows = [LAST_LEVEL, CRASH] if measured else [CRASH]
    ev = Evidence(windows=windows, fault_results=[fault_result(CRASH)], samples=samples)
    return only(service_recovery(ev, th))


@pytest.mark.parametrize(("seconds", "verdict"), [(2.0, PASS), (10.0, PASS), (12.0, FAIL)])
def test_service_recovery_is_judged_against_recovery_s(seconds, verdict):
    r = service(seconds)
    assert r.verdict == verdict and r.value == seconds
    assert r.goal == "searches back to baseline in <= 10 s"


def test_service_is_back_only_when_searches_are_as_fast_as_before_too():
    # Every search succeeds, but at 1 s (10x the last level's p95) for the first 3 s.
    assert service(3.0, lat=1000.0).value == 3.0


def test_service_never_back_to_baseline_fails():
    r = service(None)
    assert r.verdict == FAIL and r.detail == "never back to baseline in the run"


def test_service_recovery_without_a_baseline_is_insufficient():
    r = service(None, measured=False)
    assert r.verdict == INSUFFICIENT and "no fault with a baseline" in r.detail


def test_ungated_service_recovery_passes_when_it_came_back():
    assert service(30.0, th=UNGATED).verdict == PASS
    assert service(None, th=UNGATED).verdict == FAIL


# -- a fault that did not happen -------------------------------------------------------------


def never_applied() -> Evidence:
    """A synthetic run whose partition of n3 failed at every step (the control backend on a
    network without peerload's /admin API): the nodes never noticed a fault that never was."""
    run = fail_steps(synthetic_run(seed=3, scale=0.4), "isolate", "n3")
    for entry in run["fault_results"]:
        if entry["fault_id"] == "isolate":
            entry.update(detected_s=None, recovered_s=None, recovered=False)
    return Evidence.from_run(run)


@pytest.mark.parametrize(
    "criterion", [single_node_failure, failure_detection, recovery, service_recovery]
)
def test_the_rows_of_a_fault_that_did_not_happen_are_insufficient_naming_the_step(criterion):
    results = criterion(never_applied(), TH)
    r = only(results, "fault:isolate:n3")
    assert r.verdict == INSUFFICIENT and r.n == 0
    assert r.detail == f"the fault did not happen as planned: isolate:n3 start, end: {ADMIN_404}"
    assert only(results, "fault:crash-each:n1").verdict == PASS  # the faults that happened
