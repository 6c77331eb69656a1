"""The Locust side of faults: faults by hand are windows of their own, judged like the rest."""

from __future__ import annotations

import reports
from faults.testing import FakeCluster
from locustfiles.faultstage import RECOVER_TIMEOUT_S, RECOVERY_WATCH_MARGIN_S, FaultStage
from locustfiles.runstate import RunState
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
