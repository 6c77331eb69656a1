"""The Locust side of faults: faults by hand are windows of their own, judged like the rest."""

from __future__ import annotations

import reports
from faults.testing import FakeCluster
from locustfiles.faultstage import FaultStage
from locustfiles.runstate import RunState


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
