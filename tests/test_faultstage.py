"""The Locust side of faults: faults by hand are windows of their own, judged like the rest."""

from __future__ import annotations

from types import SimpleNamespace

import reports
from faults.testing import FakeCluster
from locustfiles.faultstage import RECOVER_TIMEOUT_S, RECOVERY_WATCH_MARGIN_S, FaultStage
from locustfiles.runstate import RunState
from locustfiles.verify import SETTLE_TIMEOUT_S, settle_s
from reports.thresholds import Thresholds

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


def test_recovery_is_watched_past_the_gate_and_a_minute_without_one(tmp_path):
    with FakeCluster(3) as cluster:
        state = RunState(cluster.descriptor)
        gated = FaultStage(None, state, tmp_path, seed=None, thresholds=Thresholds())
        ungated = FaultStage(None, state, tmp_path, seed=None, thresholds=UNGATED)
    assert gated.recovery_watch_s() == Thresholds().recovery_s + RECOVERY_WATCH_MARGIN_S
    assert ungated.recovery_watch_s() == RECOVER_TIMEOUT_S


def test_the_final_checks_wait_only_for_a_network_that_has_not_had_its_moment():
    def settle(*results):
        return settle_s(SimpleNamespace(fault_results=list(results)))

    missed = {"healed_by": "schedule", "recovered": False, "recovery_watched_s": 15.0}
    back = {"healed_by": "schedule", "recovered": True, "recovery_watched_s": 15.0}
    cut_off = {"healed_by": "final heal: run ended", "recovered": False}
    assert settle(back, missed) == 0.0  # watched past the gate already: checked once
    assert settle(missed, back) == SETTLE_TIMEOUT_S
    assert settle(back, cut_off) == SETTLE_TIMEOUT_S  # healed just now by the run's end
    assert settle() == SETTLE_TIMEOUT_S
    assert settle_s(SimpleNamespace(fault_results=None)) == SETTLE_TIMEOUT_S
