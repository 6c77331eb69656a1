"""reports.live: the verdict so far of a run still going, judged on the windows that have ended."""

from __future__ import annotations

import pytest

import reports
from reports.live import TO_COME, judge_so_far, units
from reports.rows import FAIL, INSUFFICIENT
from reports.synthetic import T0, synthetic_run
from reports.verdict import NOT_READY, READY

SCALE = 0.4  # every synthetic window still well above min_samples
STEP_S = 2.0  # how often the healthy run is looked at, as the web UI does


@pytest.fixture(scope="module")
def healthy() -> dict:
    return synthetic_run(scale=SCALE, seed=3)


def planned(run: dict) -> list[dict]:
    """What the web UI knows ahead: the stages and the plan's faults (no recovery windows)."""
    return [
        {"name": w["name"], "kind": w["kind"]} for w in run["windows"] if w["kind"] != "recovery"
    ]


def live(run: dict, now: float) -> dict:
    """``run`` as the web UI records it at ``now``: windows begun (open ones without an end),
    nothing recorded at the end yet (integrity, final verification, the fault stage's probes)."""
    begun = [w for w in run["windows"] if w["start"] <= now]
    return {
        **run,
        "windows": [w if w["end"] <= now else {**w, "end": None} for w in begun],
        "samples": [s for s in run["samples"] if s["t"] < now],
        "series": [r for r in run["series"] if r["t"] < now],
        "integrity": None,
        "fault_results": [],
        "concurrency": None,
        "status": {**run["status"], "in_progress": True, "ended": None, "final_problems": None},
    }


def at(run: dict, offset_s: float):
    now = T0 + offset_s * SCALE
    return judge_so_far(live(run, now), planned(run), now)


def rows(so_far, name: str) -> list:
    return [r for r in so_far.verdict.results if r.name == name]


def test_a_healthy_run_is_never_not_ready_so_far(healthy):
    end = max(w["end"] for w in healthy["windows"]) - T0
    offsets = [i * STEP_S for i in range(int(end / STEP_S) + 2)]
    for offset in offsets:
        so_far = judge_so_far(live(healthy, T0 + offset), planned(healthy), T0 + offset)
        assert so_far.verdict.label == READY, (offset, so_far.reason)
        assert so_far.to_come[-1] == "after run", so_far.to_come
        # nothing is short of evidence: what is not there yet is to come
        assert not [r for r in so_far.verdict.results if r.verdict == INSUFFICIENT], offset


def test_so_far_names_the_windows_judged_and_those_still_to_come(healthy):
    so_far = at(healthy, 125)  # the idle window and the four levels have ended, faults are on
    assert so_far.ended == ("idle", "level-5", "level-10", "level-20", "level-25")
    assert so_far.reason.startswith("So far READY on 5 of 10 windows: all ")
    assert so_far.reason.endswith(
        "; still to come: fault:crash-each:n1, fault:crash-each:n2, fault:isolate:n3, stress, "
        "after run"
    )
    # evidence recorded only when the run ends is to come, never insufficient
    for name in ("acked_writes", "acked_searchable", "final_verification", "run_complete"):
        (row,) = rows(so_far, name)
        assert row.verdict == TO_COME and "recorded when the run ends" in row.detail
    assert {r.verdict for r in rows(so_far, "stress_success")} == {TO_COME}
    assert not [r for r in so_far.verdict.results if r.window.startswith("fault:")]


def test_nothing_is_judged_before_a_window_ends(healthy):
    so_far = at(healthy, -3)  # in the idle window before the first level
    assert so_far.ended == () and so_far.verdict.label == READY
    assert so_far.reason.startswith("So far nothing judged: no window has ended yet; still to")


def test_the_best_of_the_levels_waits_for_the_levels(healthy):
    (row,) = rows(at(healthy, 35), "simultaneous_ops")  # only level-5 has ended: 5 users
    assert row.verdict == TO_COME and row.value < 20 and "level" in row.detail
    (row,) = rows(at(healthy, 125), "simultaneous_ops")
    assert row.verdict == "pass" and row.window == "level-25"


def test_a_fault_is_judged_once_its_recovery_window_has_ended(healthy):
    ended, to_come, _ = units(live(healthy, T0 + 160 * SCALE)["windows"], [], T0 + 160 * SCALE)
    assert "fault:crash-each:n1" in to_come and "fault:crash-each:n1" not in ended
    ended, to_come, _ = units(live(healthy, T0 + 171 * SCALE)["windows"], [], T0 + 171 * SCALE)
    assert "fault:crash-each:n1" in ended and "fault:crash-each:n2" in to_come
    (row,) = rows(at(healthy, 171), "single_node_failure")
    assert row.window == "fault:crash-each:n1" and row.verdict == "pass"


def test_after_the_end_the_run_is_judged_in_full(healthy):
    verdict = reports.judge(healthy)
    assert verdict.ready, verdict.reason
    assert not [r for r in verdict.results if r.verdict == TO_COME]
    (row,) = [r for r in verdict.results if r.name == "acked_writes"]
    assert row.verdict == "pass" and row.n > 0


def test_a_failure_in_an_ended_window_is_not_ready_at_once():
    broken = synthetic_run(scale=SCALE, seed=3, broken=True)  # n2 down for good, no failover
    assert at(broken, 165).verdict.label == READY  # n1's crash and its recovery still on
    so_far = at(broken, 171)
    assert so_far.verdict.label == NOT_READY
    assert so_far.reason.startswith(
        "So far NOT READY on 6 of 10 windows: single_node_failure 61.8% < 85% in window "
        "fault:crash-each:n1"
    )


def test_a_wrong_answer_counts_once_its_window_has_ended(healthy):
    level_10 = next(w for w in healthy["windows"] if w["name"] == "level-10")
    first = next(s for s in healthy["samples"] if s["t"] >= level_10["start"] + 1)
    samples = [
        {**s, "ok": False, "violation": "corrupt", "op": "download"} if s is first else s
        for s in healthy["samples"]
    ]
    run = {**healthy, "samples": samples}
    assert at(run, 55).verdict.label == READY  # level-10 still on: not judged yet
    so_far = at(run, 65)
    (row,) = rows(so_far, "corrupt_data")
    assert so_far.verdict.label == NOT_READY and row.verdict == FAIL
    assert row.detail.startswith("1: 1 in level-10")


def test_a_window_that_ended_short_of_samples_is_insufficient_so_far(healthy):
    level_5 = next(w for w in healthy["windows"] if w["name"] == "level-5")
    thin = [s for s in healthy["samples"] if not level_5["start"] + 1 <= s["t"] < level_5["end"]]
    so_far = at({**healthy, "samples": thin}, 35)
    assert so_far.verdict.label == NOT_READY
    assert "success_rate insufficient in window level-5" in so_far.reason
