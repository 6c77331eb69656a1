"""``false_deaths``: a live, unfaulted peer seen dead in the idle window or a level fails the run;
during a fault, so does a peer the fault left alone seen dead by another it left alone (and the
ends of one cut link, which everyone still reaches); in stress it is reported, suspicion is
only counted."""

from __future__ import annotations

import copy

import pytest

from reports import build
from reports.accuracy import DURING_FAULTS, QUIET, UNDER_STRESS, false_deaths
from reports.evidence import Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds


@pytest.fixture(scope="module")
def healthy() -> dict:
    return synthetic_run(seed=3, scale=0.3)


def judged(run: dict, **thresholds) -> dict[str, object]:
    rows = false_deaths(Evidence.from_run(run), Thresholds(**thresholds))
    return {r.window: r for r in rows}


def seen(run: dict, kind: str, accuser: str, peer: str, state: str) -> dict:
    """The run with ``accuser`` seeing ``peer`` in ``state`` in every monitor row of the
    windows of ``kind`` where it answered."""
    run = copy.deepcopy(run)
    spans = [(w["start"], w["end"]) for w in run["windows"] if w["kind"] == kind]
    for row in run["series"]:
        if accuser in row["views"] and any(a <= row["t"] < b for a, b in spans):
            row["views"][accuser][peer] = state
    return run


def test_a_healthy_run_passes_on_every_view_read(healthy):
    rows = judged(healthy)
    assert rows[QUIET].verdict == PASS and rows[QUIET].value == 0
    assert rows[QUIET].n >= 20  # views read, not rows: every node's, every monitor row
    assert rows[UNDER_STRESS].verdict == REPORTED


def test_a_live_peer_seen_dead_during_a_level_fails_and_is_named(healthy):
    rows = judged(seen(healthy, "level", "n1", "n3", "dead"))
    assert rows[QUIET].verdict == FAIL and rows[QUIET].value > 0
    assert "n1 saw n3 dead at" in rows[QUIET].detail


def test_dead_during_a_fault_is_not_an_accusation(healthy):
    """The synthetic run's views already say the crashed and the isolated node dead during
    their faults; the whole fault stage seen dead changes nothing either."""
    assert judged(seen(healthy, "faults", "n1", "n3", "dead"))[QUIET].verdict == PASS


def test_a_bystander_seen_dead_during_another_nodes_fault_fails(healthy):
    """n2 sees n3 dead through every fault: during n2's own crash and n3's isolation it is
    left out, during n1's crash both were up and reachable."""
    rows = judged(seen(healthy, "fault", "n2", "n3", "dead"))
    assert rows[DURING_FAULTS].verdict == FAIL and "n2 saw n3 dead at" in rows[DURING_FAULTS].detail
    assert rows[QUIET].verdict == PASS
    assert judged(healthy)[DURING_FAULTS].verdict == PASS


def test_the_ends_of_one_cut_link_are_judged_while_it_lasts(healthy):
    """The isolation of n3 turned into a cut of the link n1-n3: the views that said n3 dead
    (right for an isolated node) are now accusations of a node everyone still reached."""
    run = copy.deepcopy(healthy)
    [cut] = [w for w in run["windows"] if w["kind"] == "fault" and w["fault_kind"] == "partition"]
    cut.update(fault_kind="link", target="n1+n3", nodes=["n1", "n3"], takes_down=False)
    cut.update(loses_messages=True, keeps_reach=True, cut=[["n1", "n3"], ["n3", "n1"]])
    rows = judged(run)
    assert rows[DURING_FAULTS].verdict == FAIL and "saw n3 dead" in rows[DURING_FAULTS].detail


def test_what_the_ends_of_a_cut_link_said_between_monitor_reads_is_judged(healthy):
    """The fault stage polls the two ends of a cut link (locustfiles/reachwatch.py): a death
    it saw there between two monitor reads fails the row; a suspicion is only counted."""
    run = copy.deepcopy(healthy)
    [cut] = [w for w in run["windows"] if w["kind"] == "fault" and w["fault_kind"] == "partition"]
    cut.update(fault_kind="link", target="n1+n3", nodes=["n1", "n3"], takes_down=False)
    cut.update(loses_messages=True, keeps_reach=True, cut=[["n1", "n3"], ["n3", "n1"]])
    for row in run["series"]:  # the monitor saw nothing wrong
        if cut["start"] <= row["t"] < cut["end"] + 3:
            row["views"] = {a: {b: "alive" for b in row["views"] if b != a} for a in row["views"]}
    [result] = [r for r in run["fault_results"] if r["fault_id"] == cut["fault_id"]]
    t = cut["start"] + 1
    result.update(views_read=20, sightings=[[t, "n1", "n3", "suspect"]])
    rows = judged(run)
    assert rows[DURING_FAULTS].verdict == PASS, rows[DURING_FAULTS].detail
    assert "20 of them polled from the ends of a cut link" in rows[DURING_FAULTS].detail
    result["sightings"].append([t + 0.5, "n1", "n3", "dead"])
    row = judged(run)[DURING_FAULTS]
    assert row.verdict == FAIL and row.value == 1 and "n1 saw n3 dead at" in row.detail


def test_stress_is_reported_and_suspicion_only_counted(healthy):
    rows = judged(seen(seen(healthy, "stress", "n2", "n1", "dead"), "level", "n2", "n1", "suspect"))
    assert rows[UNDER_STRESS].verdict == REPORTED and rows[UNDER_STRESS].value > 0
    assert rows[QUIET].verdict == PASS
    assert "suspicions (not judged)" in rows[QUIET].detail


def test_the_threshold_is_configurable(healthy):
    run = seen(healthy, "idle", "n1", "n2", "dead")
    n = judged(run)[QUIET].value
    assert judged(run, false_deaths_max=int(n))[QUIET].verdict == PASS


def test_no_views_is_insufficient_and_no_peers_view_not_measurable(healthy):
    bare = copy.deepcopy(healthy)
    for row in bare["series"]:
        row.pop("views")
    assert judged(bare)[QUIET].verdict == INSUFFICIENT
    bare["status"]["capabilities"] = ["search", "download"]
    row = judged(bare)[QUIET]
    assert row.verdict == REPORTED and "not measurable" in row.detail


def test_the_reports_carry_it(tmp_path, healthy):
    build(tmp_path, seen(healthy, "level", "n1", "n3", "dead"))
    assert "false_deaths" in (tmp_path / "PHASE4_FINAL_REPORT.md").read_text()
