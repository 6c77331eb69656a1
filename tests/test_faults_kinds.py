"""A fault kind's facts live on the kind: what takes a node down, what is a Cluster-page button,
how it heals, its parameters; the runner and every journal step record take them from there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import faults
from faults import Runner, Timeline, parse_plan, resolve
from faults.kinds import REGISTRY, FaultKind, Manual
from faults.testing import FakeCluster
from faults.types import PlanError, Step


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster(3) as fc:
        yield fc


PLAN = """
version = 1
seed = 3
backend = "control"
[[fault]]
id = "down"
kind = "crash"
target = "n1"
at = "0s"
duration = "20ms"
[[fault]]
id = "slow"
kind = "latency"
ms = 50
target = "n2"
at = "40ms"
duration = "20ms"
"""


def by_hand(cluster: FakeCluster) -> Runner:
    empty = Timeline(seed=0, nodes=tuple(cluster.names), backend="control", steps=())
    return Runner(empty, cluster.descriptor)


def test_which_kinds_take_their_target_out_of_service():
    down = {name for name, facts in faults.KINDS.items() if facts.takes_down}
    assert down == {"crash", "stop", "pause", "partition", "churn"}
    assert {n: f.acts_on for n, f in faults.KINDS.items()} == {
        "crash": "process",
        "stop": "process",
        "pause": "process",
        "partition": "network",
        "link": "network",
        "heal": "nothing",
        "latency": "network",
        "stress": "nothing",
        "loss": "network",
        "bandwidth": "network",
        "churn": "process",
        "disk_full": "disk",
    }


def test_buttons_heals_and_parameters_are_facts_of_the_kind():
    buttons = {f.name: (f.manual.label, f.manual.heal_label) for f in faults.manual_kinds()}
    assert buttons == {
        "crash": ("crash", "restart"),
        "stop": ("stop", "restart"),
        "pause": ("pause", "resume"),
        "partition": ("isolate", "heal"),
    }
    assert set(faults.kind_facts("partition").params) == {"shape", "grudge"}
    assert "10000" in faults.kind_facts("latency").params["ms"]
    assert all(f.heals_by for f in faults.KINDS.values() if not f.instant)
    assert faults.kind_facts("crash").to_dict()["manual"] == {
        "label": "crash",
        "heal_label": "restart",
    }
    with pytest.raises(ValueError, match="unknown fault kind 'kill'"):
        faults.kind_facts("kill")


def test_every_journal_step_record_carries_the_kinds_facts(cluster):
    runner = Runner(resolve(parse_plan(PLAN), cluster.names), cluster.descriptor)
    runner.run()
    steps = [r for r in runner.journal.records if r["record"] in ("begin", "step")]
    assert len(steps) == 8
    for record in steps:
        facts = faults.kind_facts(record["kind"])
        assert (record["takes_down"], record["acts_on"]) == (facts.takes_down, facts.acts_on)
    assert {r["kind"]: r["takes_down"] for r in steps} == {"crash": True, "latency": False}


def test_only_kinds_with_a_button_are_applied_by_hand_with_the_buttons_parameters(cluster):
    runner = by_hand(cluster)
    with pytest.raises(ValueError, match="one of crash, stop, pause, partition"):
        runner.apply("latency", "n1")
    record = runner.apply("partition", "n2")
    assert record["outcome"] == "ok" and record["takes_down"] is True
    assert cluster.drop["n2"] == ["n1", "n3"]
    runner.heal_now()
    assert cluster.healthy()


class Blink(FaultKind):
    """A kind made up here: pauses its target (as a new kind would be written)."""

    name = "blink"
    summary = "a short pause"
    takes_down = True
    acts_on = "process"
    heals_by = "resume"
    manual = Manual("blink", "unblink")
    params = {"times": "how often, 1..3"}

    @classmethod
    def validate(cls, fault: Any) -> None:
        super().validate(fault)
        if fault.options.get("times") not in (1, 2, 3):
            raise PlanError(f"{fault.where}.times: expected 1..3")

    def inject(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "pause")

    def recover(self, step: Step) -> dict[str, Any]:
        return self.control_each(step, "resume")


def test_a_new_kind_is_one_class_and_one_registry_entry(cluster, monkeypatch):
    monkeypatch.setitem(REGISTRY, Blink.name, Blink)
    assert faults.kind_facts("blink").takes_down and "blink" in faults.KINDS
    assert [f.name for f in faults.manual_kinds()][-1] == "blink"
    plan = PLAN.replace('kind = "crash"', 'kind = "blink"\ntimes = 2')
    with pytest.raises(PlanError, match="times"):
        parse_plan(plan.replace("times = 2", "times = 9"))
    runner = Runner(resolve(parse_plan(plan), cluster.names), cluster.descriptor)
    runner.run()
    blinks = [r for r in runner.journal.records if r.get("kind") == "blink"]
    assert blinks and all(r["takes_down"] and r["outcome"] != "error" for r in blinks[1::2])
    assert by_hand(cluster).apply("blink", "n3")["outcome"] == "ok"
    assert cluster.state["n3"] == "paused"


# -- loss and bandwidth: link faults that keep their target in service -----------------------------
LINKS = """
version = 1
seed = 3
backend = "control"
[[fault]]
id = "lossy"
kind = "loss"
percent = 30
target = "n2"
at = "0s"
duration = "20ms"
[[fault]]
id = "narrow"
kind = "bandwidth"
kbit = 512
target = "n3"
at = "0s"
duration = "20ms"
"""


def test_loss_bandwidth_and_a_cut_link_lose_messages_but_take_nothing_down():
    for name in ("loss", "bandwidth", "link"):
        facts = faults.kind_facts(name)
        assert (facts.takes_down, facts.acts_on, facts.loses_messages) == (False, "network", True)
        assert REGISTRY[name].by_address()  # netns makes them on the nodes' addresses
    lossy = {name for name, facts in faults.KINDS.items() if facts.loses_messages}
    assert lossy == {"loss", "bandwidth", "link"}
    # only around a cut link does every node stay reachable: none may be declared dead
    assert {name for name, facts in faults.KINDS.items() if facts.keeps_reach} == {"link"}
    assert "polices" in faults.kind_facts("bandwidth").summary
    assert not REGISTRY["latency"].by_address()  # made in the node, whatever the backend


def test_loss_goes_through_the_nodes_with_control_and_a_cap_is_refused_without_netns(cluster):
    runner = Runner(resolve(parse_plan(LINKS), cluster.names), cluster.descriptor)
    seen = {}
    runner.events.fault_started.add_listener(
        lambda step, record, **kw: seen.setdefault(step.kind, dict(cluster.loss))
    )
    result = runner.run()
    steps = {(r["kind"], r["phase"]): r for r in faults.step_records(runner.journal.records)}
    assert seen["loss"] == {"n1": 0, "n2": 30, "n3": 0}
    assert steps[("loss", "start")]["loses_messages"] is True
    assert steps[("loss", "end")]["outcome"] == "ok" and cluster.healthy()
    refused = steps[("bandwidth", "start")]
    assert refused["outcome"] == "error"
    assert refused["error"] == (
        "WrongBackend: bandwidth needs the netns backend, and this run's is control"
    )
    assert steps[("bandwidth", "end")]["detail"]["note"] == "nothing to heal"
    assert result.status == "failed" and result.steps_failed == 1
    assert [c[1] for c in cluster.calls if "/admin/" in c[1]] == ["/n2/admin/loss"] * 2


def test_a_loss_still_active_when_the_run_stops_is_healed(cluster):
    plan = LINKS.replace('duration = "20ms"', 'duration = "1h"', 1)
    runner = Runner(resolve(parse_plan(plan), cluster.names), cluster.descriptor)
    runner.events.fault_started.add_listener(lambda step, **kw: runner.stop())
    runner.run()
    assert cluster.loss == {"n1": 0, "n2": 0, "n3": 0}
    final = [r for r in faults.step_records(runner.journal.records) if r["phase"] == "end"]
    assert final[0]["detail"]["reason"].startswith("final heal")
