"""The runner against a fake cluster: steps in order, journal, hooks, and healing always."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import Journal, Runner, Timeline, parse_plan, resolve
from faults.kinds import NOTHING_TO_HEAL, FaultStateError
from faults.runner import ABORTED, COMPLETED, FAILED, INTERRUPTED
from faults.testing import FakeCluster
from tests.fixtures import LONG_PARTITION

QUICK = """
version = 1
seed = 3
backend = "control"
[[fault]]
id = "crash"
kind = "crash"
target = "n1"
at = "0ms"
duration = "25ms"
[[fault]]
id = "pause"
kind = "pause"
target = "n2"
at = "40ms"
duration = "25ms"
[[fault]]
id = "cut"
kind = "partition"
target = "n3"
at = "80ms"
duration = "25ms"
[[fault]]
id = "slow"
kind = "latency"
ms = 150
target = "n1"
at = "120ms"
duration = "25ms"
[[fault]]
id = "term"
kind = "stop"
target = "n2"
at = "160ms"
duration = "25ms"
"""


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster(3) as fc:
        yield fc


def runner_for(cluster: FakeCluster, text: str, **kw: object) -> Runner:
    timeline = resolve(parse_plan(text), cluster.names)
    return Runner(timeline, cluster.descriptor, **kw)


def actions(cluster: FakeCluster) -> list[str]:
    return [p for m, p, _ in cluster.calls if m == "POST"]


def test_runs_every_step_in_order_and_ends_healthy(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, QUICK)
    result = runner.run()
    assert result.status == COMPLETED and result.steps_failed == 0 and result.steps_ok == 10
    assert actions(cluster) == [
        "/nodes/n1/kill",
        "/nodes/n1/start",
        "/nodes/n2/pause",
        "/nodes/n2/resume",
        "/n3/admin/partition",
        "/n3/admin/partition",
        "/n1/admin/latency",
        "/n1/admin/latency",
        "/nodes/n2/stop",
        "/nodes/n2/start",
    ]
    partition_bodies = [b for _, p, b in cluster.calls if p == "/n3/admin/partition"]
    assert partition_bodies == [{"drop": ["n1", "n2"]}, {"drop": []}]
    assert cluster.healthy() and runner.active == []


def test_journal_records_before_and_after_each_step(cluster: FakeCluster) -> None:
    journal = Journal()
    runner_for(cluster, QUICK, journal=journal).run()
    kinds = [r["record"] for r in journal.records]
    assert kinds[0] == "plan" and kinds[-1] == "run"
    assert kinds[1:-1] == ["begin", "step"] * 10
    plan = journal.records[0]
    assert plan["backend"] == "control" and len(plan["timeline"]["steps"]) == 10
    assert plan["timeline"]["seed"] == 3
    steps = [r for r in journal.records if r["record"] == "step"]
    assert all(r["outcome"] == "ok" and r["duration_s"] >= 0 for r in steps)
    assert [r["offset"] for r in steps] == sorted(r["offset"] for r in steps)
    assert steps[0]["offset"] < 0.05 and steps[-1]["offset"] >= 0.18  # real time
    assert journal.records[-1]["status"] == COMPLETED


def test_hooks_fire_and_a_failing_listener_does_not_stop_the_run(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, QUICK)
    seen: list[tuple[str, str, str]] = []

    @runner.events.fault_started.add_listener
    def boom(**kwargs: object) -> None:
        raise RuntimeError("listener bug")

    runner.events.fault_started.add_listener(
        lambda step, record, **_: seen.append(("started", step.key, record["outcome"]))
    )
    runner.events.fault_healed.add_listener(
        lambda step, record, **_: seen.append(("healed", step.key, record["outcome"]))
    )
    results = []
    runner.events.run_finished.add_listener(lambda result, **_: results.append(result.status))
    assert runner.run().status == COMPLETED
    assert seen[:2] == [("started", "crash:n1", "ok"), ("healed", "crash:n1", "ok")]
    assert len(seen) == 10 and results == [COMPLETED]


def test_stop_from_another_thread_heals_and_aborts(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, LONG_PARTITION).start()
    deadline = time.monotonic() + 5
    while not cluster.drop["n2"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cluster.drop["n2"] == ["n1", "n3"]
    runner.stop(wait=5)
    assert runner.result.status == ABORTED and cluster.healthy()
    last_step = [r for r in runner.journal.records if r["record"] == "step"][-1]
    assert last_step["phase"] == "end" and last_step["detail"]["reason"] == "final heal (aborted)"


def test_ctrl_c_heals_then_propagates(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, LONG_PARTITION)

    def interrupt(step, record, **_: object) -> None:
        raise KeyboardInterrupt  # as if Ctrl-C landed right after the partition

    runner.events.fault_started.add_listener(interrupt)
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert runner.status == INTERRUPTED and cluster.healthy()
    assert runner.journal.records[-1]["status"] == INTERRUPTED


def test_a_failed_step_fails_the_run_but_healing_still_happens(cluster: FakeCluster) -> None:
    cluster.fail_paths.add("/nodes/n2/resume")
    runner = runner_for(cluster, QUICK)
    result = runner.run()
    assert result.status == FAILED and result.steps_failed >= 1
    assert any("pause:n2 end" in e and "injected failure" in e for e in result.errors)
    # the pause stayed active, so the final heal tried again (and failed again, recorded)
    reasons = [r["detail"].get("reason") for r in runner.journal.records if r["record"] == "step"]
    assert "final heal (completed)" in reasons


def test_heal_fault_heals_active_faults_early(cluster: FakeCluster) -> None:
    text = LONG_PARTITION + '[[fault]]\nid = "mend"\nkind = "heal"\nat = "50ms"\n'
    text = text.replace('duration = "30s"', 'duration = "150ms"')
    runner = runner_for(cluster, text)
    assert runner.run().status == COMPLETED
    steps = [r for r in runner.journal.records if r["record"] == "step"]
    assert [(r["fault_id"], r["phase"]) for r in steps] == [
        ("cut", "start"),
        ("cut", "end"),
        ("mend", "start"),
        ("cut", "end"),
    ]
    assert steps[1]["detail"]["reason"] == "healed by mend"
    assert steps[2]["detail"]["healed"] == ["cut:n2"]
    assert steps[3]["detail"]["note"] == NOTHING_TO_HEAL  # the scheduled heal says so
    assert cluster.healthy()


def test_second_start_refused_and_empty_heal_says_so(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, QUICK)
    step = runner.timeline.steps[0]
    crash = runner.kinds["crash"]
    crash.start(step)
    with pytest.raises(FaultStateError, match="already active"):
        crash.start(step)
    end = runner.timeline.steps[1]
    assert crash.heal(end)["nodes"]["n1"]["state"] == "running"
    assert crash.heal(end) == {"note": NOTHING_TO_HEAL}


def test_starting_a_running_node_counts_as_healed(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, QUICK)
    assert runner.control.node_action("n1", "start")["note"] == "already running"


def test_late_steps_say_how_late(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, QUICK, t0=time.monotonic() - 10)
    runner.run()
    steps = [r for r in runner.journal.records if r["record"] == "step"]
    assert all(r["detail"]["late_s"] > 9 for r in steps)


def test_runner_runs_once_and_checks_nodes(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, LONG_PARTITION)
    runner.stop()
    assert runner.run().status == ABORTED and not cluster.calls
    with pytest.raises(RuntimeError, match="runs once"):
        runner.run()
    timeline = resolve(parse_plan(LONG_PARTITION), ["n1", "n2", "n9"])
    with pytest.raises(ValueError, match="n9"):
        Runner(timeline, cluster.descriptor)


def test_background_run_under_threads_joins(cluster: FakeCluster) -> None:
    runner = runner_for(cluster, QUICK)
    done = threading.Event()
    runner.events.run_finished.add_listener(lambda **_: done.set())
    runner.start()
    assert runner.join(10) and done.is_set() and runner.result.status == COMPLETED


GEVENT_SCRIPT = """
from gevent import monkey
monkey.patch_all()
import time, gevent
from faults import parse_plan, resolve, Runner
from faults.testing import FakeCluster
PLAN = '''
version = 1
backend = "control"
[[fault]]
id = "crash"
kind = "crash"
target = "n1"
at = "0ms"
duration = "30ms"
[[fault]]
id = "cut"
kind = "partition"
target = "n2"
at = "50ms"
duration = "30s"
'''
with FakeCluster(3) as fc:
    runner = Runner(resolve(parse_plan(PLAN), fc.names), fc.descriptor).start()
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(20)])
    while not fc.drop["n2"]:
        gevent.sleep(0.01)
    gevent.spawn(runner.stop).join()
    assert runner.join(5), "runner did not finish"
    ticker.join()
    assert runner.result.status == "aborted", runner.result
    assert fc.healthy(), (fc.state, fc.drop)
    assert len(ticks) == 20  # the hub kept running other greenlets meanwhile
    print("ok", runner.result.steps_ok)
"""


def test_runs_under_gevent_monkey_patching() -> None:
    """The Locust process is gevent-patched: sleeping, HTTP and stop() must all cooperate."""
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_SCRIPT],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok 4"


def test_faults_applied_by_hand_are_journaled_and_healed_like_scheduled_ones(cluster):
    empty = Timeline(seed=0, nodes=tuple(cluster.names), backend="control", steps=())
    runner = Runner(empty, cluster.descriptor)
    started, healed = [], []
    runner.events.fault_started.add_listener(lambda step, **_: started.append(step.key))
    runner.events.fault_healed.add_listener(lambda step, **_: healed.append(step.key))
    assert runner.apply("crash", "n2")["outcome"] == "ok"
    assert runner.apply("partition", "n3")["outcome"] == "ok"
    assert cluster.state["n2"] != "running" and cluster.drop["n3"]
    assert runner.apply("crash", "n2")["outcome"] == "error"  # a second start is refused
    assert runner.heal_now("n2") == ["manual:n2"]
    assert runner.heal_now() == ["manual:n3"]
    assert cluster.healthy()
    # the hook fires for the refused start too, its record saying so
    assert started == ["manual:n2", "manual:n3", "manual:n2"]
    assert healed == ["manual:n2", "manual:n3"]
    phases = [(r["fault_id"], r["phase"]) for r in runner.journal.records if r["record"] == "step"]
    assert phases.count(("manual", "start")) == 3 and phases.count(("manual", "end")) == 2
    with pytest.raises(ValueError):
        runner.apply("meteor", "n1")
    with pytest.raises(ValueError):
        runner.apply("crash", "n9")
