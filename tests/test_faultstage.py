"""The Locust side of faults: faults by hand are windows of their own, judged like the rest."""

from __future__ import annotations

from dataclasses import replace

import reports
from faults.testing import FakeCluster
from faults.types import Step
from locustfiles.faultstage import FaultStage, held_down, routed
from locustfiles.runstate import RunState
from locustfiles.verify import SETTLE_TIMEOUT_S, settle_s
from reports import resilience
from reports.thresholds import RECOVERY_WATCH_MARGIN_S, RECOVERY_WATCH_UNGATED_S, Thresholds

UNGATED = Thresholds().merged({"recovery_s": None})


def test_crashing_the_same_node_twice_by_hand_gives_two_windows_and_a_verdict(tmp_path):
    with FakeCluster(3) as cluster:
        state = RunState(cluster.descriptor)
        stage = FaultStage(None, state, tmp_path, seed=None)
        try:
            for action in ("crash", "restart", "crash", "restart"):
                answer = stage.act(action, "n2")
                assert answer.get("outcome", "ok") == "ok" and not answer.get("error"), answer
            windows = stage.windows()
        finally:
            stage.close()
    names = [w["name"] for w in windows if w["kind"] == "fault"]
    assert names == ["fault:manual-1:n2", "fault:manual-2:n2"]
    assert reports.judge({"windows": windows, "samples": []}) is not None


def test_a_loss_fault_gets_its_windows_and_is_not_a_node_failure(tmp_path):
    step = Step(0.0, "lossy", "loss", "start", "n2", ("n2",), {"percent": 30})
    with FakeCluster(3) as cluster:
        state = RunState(cluster.descriptor)
        stage = FaultStage(None, state, tmp_path, seed=None)
        try:
            stage.on_fault_started(step, {"wall": 100.0, "outcome": "ok"})
            assert not stage._probes  # nobody waits for n2 to be marked dead: it stays up
            stage.on_fault_healed(replace(step, phase="end"), {"wall": 110.0, "wall_end": 110.0})
            windows = stage.windows()
        finally:
            stage.close()
    fault, recovery = windows
    assert (fault["name"], fault["start"], fault["end"]) == ("fault:lossy:n2", 100.0, 110.0)
    assert recovery["kind"] == "recovery" and recovery["start"] == 110.0
    facts = (fault["takes_down"], fault["acts_on"], fault["loses_messages"])
    assert facts == (False, "network", True)  # the model may miss n2; resilience judges nothing
    assert not resilience.takes_down(fault)


def test_recovery_is_watched_past_the_gate_and_a_minute_without_one():
    assert Thresholds().recovery_watch_s() == Thresholds().recovery_s + RECOVERY_WATCH_MARGIN_S
    assert UNGATED.recovery_watch_s() == RECOVERY_WATCH_UNGATED_S
    # A miss is evidence once the gate has been watched, or the whole watch without a gate.
    assert Thresholds().recovery_evidence_s() == Thresholds().recovery_s
    assert UNGATED.recovery_evidence_s() == RECOVERY_WATCH_UNGATED_S


def fault(end: float, recovered: bool, watched: float | None, healed_by: str = "schedule"):
    return {
        "window": {"start": end - 5, "end": end},
        "recovered": recovered,
        "recovery_watched_s": watched,
        "healed_by": healed_by,
    }


def test_the_final_checks_wait_only_for_a_network_that_has_not_had_its_moment():
    th = Thresholds()
    missed, back = fault(20, False, 15.0), fault(10, True, 0.4)
    assert settle_s([back, missed], th) == 0.0  # watched past the gate already: checked once
    assert settle_s([missed, back], th) == 0.0  # the last one to heal decides, not the last listed
    assert settle_s([fault(10, False, 15.0), fault(20, True, 0.4)], th) == SETTLE_TIMEOUT_S
    assert settle_s([fault(20, False, 3.0)], th) == SETTLE_TIMEOUT_S  # watched too short to tell
    assert settle_s([fault(20, False, None)], th) == SETTLE_TIMEOUT_S
    cut_off = fault(30, False, None, healed_by="final heal: run ended")
    assert settle_s([missed, cut_off], th) == SETTLE_TIMEOUT_S  # healed just now by the run
    assert settle_s([], th) == settle_s(None, th) == SETTLE_TIMEOUT_S


def test_a_partition_is_detected_over_the_links_that_carry_queries():
    # n1 isolated in a ring n1-n2-n3-n4: it must lose n2 and n4 (its neighbours) and they it;
    # n3 never routed anything to n1. Without links from the network, every cut pair counts.
    cut = [(a, b) for a in ("n2", "n3", "n4") for b in ("n1",)]
    cut += [("n1", b) for b in ("n2", "n3", "n4")]
    ring = {"n1": {"n2", "n4"}, "n2": {"n1", "n3"}, "n3": {"n2", "n4"}, "n4": {"n3", "n1"}}
    assert sorted(routed(cut, ring)) == [("n1", "n2"), ("n1", "n4"), ("n2", "n1"), ("n4", "n1")]
    assert routed(cut, {}) == cut
    assert routed([("n1", "n3"), ("n3", "n1")], ring) == [("n1", "n3"), ("n3", "n1")]


def test_a_churn_departure_does_not_count_against_the_previous_ones_recovery():
    # Churn takes n3 down while n2, gone before it, is back: n2's recovery is the network
    # whole apart from n3, which the open fault holds down (its own outage); a loss holds
    # nobody down, a split holds its side.
    n2 = {"target": "n2", "nodes": ["n2"], "takes_down": True}
    n3 = {"target": "n3", "nodes": ["n3"], "takes_down": True}
    lossy = {"target": "n1", "nodes": ["n1"], "takes_down": False}
    split = {"target": "n4+n5", "nodes": ["n4", "n5"], "takes_down": True}
    assert held_down([n2, n3, lossy], n2) == {"n3"}
    assert held_down([n2, n3], n3) == {"n2"}
    assert held_down([n2, split], n2) == {"n4", "n5"}


def test_each_survivor_counts_from_the_first_poll_that_finds_the_target_dead(tmp_path):
    """A crashed node may be back before the last survivor is asked: a survivor seen marking
    it dead counts from then, and the others need not agree in the same poll."""
    polls = [
        {"n1": "dead", "n3": "alive", "n4": "dead"},
        {"n1": "alive", "n3": "dead", "n4": "alive"},  # n2 is back for n1 and n4: seen already
    ]
    with FakeCluster(4) as cluster:
        stage = FaultStage(None, RunState(cluster.descriptor), tmp_path, seed=None)
        try:
            asked: list[str] = []
            now: dict[str, str] = {}

            def view(net, observer: str) -> dict[str, str]:
                asked.append(observer)
                return {"n2": now[observer]}

            stage._view = view
            entry, seen = {"cut": [], "target": "n2"}, set()
            now.update(polls[0])
            assert not stage._noticed(None, entry, seen)
            now.update(polls[1])
            assert stage._noticed(None, entry, seen)
            assert sorted(asked) == ["n1", "n3", "n3", "n4"]  # the ones seen are not asked again
        finally:
            stage.close()
