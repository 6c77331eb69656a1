"""The churn and disk_full fault kinds without node processes: their plan fields (each mistake a
PlanError naming the field), churn's timeline (every departure a fault instance of its own,
seeded, bounded by the majority guard, back by the fault's end), the dry run, and both run
against the stand-in cluster (journaled, healed, refused up front where they cannot apply)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import faults
from faults import Runner, fit_for, parse_plan, resolve, step_records
from faults.kinds.churn import MAX_DEPARTURES
from faults.testing import FakeCluster
from faults.types import END, START, PlanError

ROOT = Path(__file__).resolve().parent.parent
TEN = [f"n{i}" for i in range(1, 11)]
FIVE = TEN[:5]


def churn_plan(fields: str = "", *, duration: str = "10s", top: str = "seed = 4") -> str:
    fields = fields or 'rate = "1/2s"\ndown = "3s"'
    return (
        f'version = 1\n{top}\nbackend = "control"\n[[fault]]\nid = "churn"\nkind = "churn"\n'
        f'at = "1s"\nduration = "{duration}"\n{fields}\n'
    )


def timeline(text: str, nodes: list[str] = FIVE, seed: int | None = None) -> faults.Timeline:
    return resolve(parse_plan(text), nodes, seed=seed)


def away_at_most(tl: faults.Timeline) -> int:
    """The most nodes the timeline has away at once (ends before starts at one instant)."""
    away: set[str] = set()
    most = 0
    for s in tl.steps:
        if s.phase == END:
            away -= set(s.nodes)
        else:
            assert not set(s.nodes) & away, f"{s.key}: its node is away already"
            away |= set(s.nodes)
        most = max(most, len(away))
    return most


# -- plan fields ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('down = "3s"', 'fault[0].rate: missing (departures per duration, e.g. "1/5s")'),
        ('rate = "1/2s"', "fault[0].down: missing"),
        ('rate = "often"\ndown = "3s"', "fault[0].rate: expected departures per duration like"),
        ('rate = 5\ndown = "3s"', "fault[0].rate: expected departures per duration"),
        ('rate = "0/5s"\ndown = "3s"', "fault[0].rate: '0/5s' is no departure at all"),
        ('rate = "1/zz"\ndown = "3s"', 'fault[0].rate: unparseable duration "zz"'),
        ('rate = "10/1s"\ndown = "3s"', "fault[0].rate: '10/1s' is too fast"),
        ('rate = "1/2s"\ndown = "0s"', "fault[0].down: must be longer than zero"),
        ('rate = "1/2s"\ndown = "-1s"', 'fault[0].down: negative duration "-1s"'),
        ('rate = "1/2s"\ndown = "11s"', "fault[0].down: 11 s is longer than the churn's duration"),
        ('rate = "1/2s"\ndown = "3s"\nhow = "nuke"', "fault[0].how: expected one of stop, crash"),
        ('rate = "1/2s"\ndown = "3s"\nmax_away = 0', "fault[0].max_away: expected a whole number"),
        ('rate = "1/2s"\ndown = "3s"\nmax_away = true', "fault[0].max_away: expected a whole"),
        ('rate = "1/2s"\ndown = "3s"\ntarget = "ultrapeer"', 'target: "ultrapeer" is not allowed'),
        ('rate = "1/2s"\ndown = "3s"\nspeed = 3', 'fault[0]: unknown field "speed"'),
        ('rate = "1/2s"\ndown = "3s"\ntarget = "each"\ngap = "1s"', "fault[0].gap: churn takes no"),
    ],
)
def test_churn_plan_fields_are_checked_naming_the_field(fields: str, message: str) -> None:
    with pytest.raises(PlanError) as refused:
        parse_plan(churn_plan(fields))
    assert message in str(refused.value)


def test_churn_is_bounded_in_departures() -> None:
    with pytest.raises(PlanError, match=rf"fault\[0\]\.rate: .* at most {MAX_DEPARTURES}"):
        parse_plan(churn_plan('rate = "2/1s"\ndown = "1s"', duration="1h"))


def test_disk_full_takes_no_fields_of_its_own_and_any_target() -> None:
    base = 'version = 1\n[[fault]]\nid = "full"\nkind = "disk_full"\nat = "0s"\nduration = "5s"\n'
    with pytest.raises(PlanError, match='fault\\[0\\]: unknown field "bytes"'):
        parse_plan(base + "bytes = 5\n")
    with pytest.raises(PlanError, match="fault\\[0\\].duration: missing"):
        parse_plan(base.replace('duration = "5s"\n', ""))
    tl = timeline(base + 'target = "each"\ngap = "1s"\n', ["n1", "n2"])
    assert [(s.offset_s, s.phase, s.target) for s in tl.steps] == [
        (0.0, START, "n1"),
        (5.0, END, "n1"),
        (6.0, START, "n2"),
        (11.0, END, "n2"),
    ]
    assert faults.kind_facts("disk_full").takes_down is False


# -- churn's timeline ----------------------------------------------------------------------
def test_every_departure_is_a_fault_instance_of_its_own_back_by_the_end() -> None:
    tl = timeline(churn_plan())
    starts = [s for s in tl.steps if s.phase == START]
    ends = {s.fault_id: s for s in tl.steps if s.phase == END}
    # One every 2 s from 1 s while a 3 s stay still ends by 11 s: 1, 3, 5, 7 (9 + 3 > 11).
    assert [s.offset_s for s in starts] == [1.0, 3.0, 5.0, 7.0]
    assert [s.fault_id for s in starts] == ["churn#1", "churn#2", "churn#3", "churn#4"]
    assert len({s.key for s in starts}) == len(starts)
    for s in starts:
        assert len(s.nodes) == 1 and s.target == s.nodes[0]
        assert ends[s.fault_id].offset_s == s.offset_s + 3.0 <= 11.0
        assert ends[s.fault_id].nodes == s.nodes
        assert s.params == {"how": "stop", "down": 3.0}
    assert away_at_most(tl) == 2  # the majority guard's bound on 5 nodes


def test_churn_is_replayable_from_the_seed_and_drawn_per_fault() -> None:
    text = churn_plan()
    assert timeline(text).steps == timeline(text).steps
    draws = {tuple(s.target for s in timeline(text, seed=seed).steps) for seed in range(8)}
    assert len(draws) > 1
    other = (
        text + '[[fault]]\nid = "p"\nkind = "pause"\ntarget = "n9"\nat = "0s"\nduration = "1s"\n'
    )
    nine = [*FIVE, "n9"]
    assert [s for s in timeline(other, nine).steps if s.kind == "churn"] == [
        s for s in timeline(text, nine).steps
    ]


def test_departures_wait_for_a_return_rather_than_lose_the_majority() -> None:
    fast = churn_plan('rate = "1/1s"\ndown = "4s"', duration="12s")
    tl = timeline(fast, FIVE)
    assert away_at_most(tl) == 2
    starts = [s.offset_s for s in tl.steps if s.phase == START]
    # 1 and 2, then full until 5 (the first back), 6 (the second back), ...
    assert starts[:4] == [1.0, 2.0, 5.0, 6.0]
    assert away_at_most(timeline(fast, TEN)) == 4
    one = timeline(churn_plan('rate = "1/1s"\ndown = "4s"\nmax_away = 1', duration="12s"))
    assert away_at_most(one) == 1


def test_churn_needs_a_majority_to_keep() -> None:
    with pytest.raises(PlanError, match=r"fault\[0\]\.target: churn on 2 node\(s\) would leave no"):
        timeline(churn_plan(), ["n1", "n2"])
    text = churn_plan('rate = "1/2s"\ndown = "3s"\nmax_away = 1')
    with pytest.raises(PlanError, match="a majority must stay up"):
        timeline(text, ["n1", "n2"])
    tl = timeline(text.replace("seed = 4", "seed = 4\nallow_majority = true"), ["n1", "n2"])
    assert away_at_most(tl) == 1
    more = churn_plan('rate = "1/1s"\ndown = "4s"\nmax_away = 3')
    with pytest.raises(PlanError, match="a majority must stay up"):
        timeline(more, FIVE)


def test_the_target_is_the_pool_departures_are_drawn_from() -> None:
    named = timeline(churn_plan('rate = "1/2s"\ndown = "3s"\ntarget = ["n2", "n4"]'))
    assert {s.target for s in named.steps} == {"n2", "n4"}
    share = timeline(churn_plan('rate = "1/1s"\ndown = "1s"\ntarget = "20%"', duration="20s"), TEN)
    assert len({s.target for s in share.steps}) == 2
    one = timeline(churn_plan('rate = "1/1s"\ndown = "1s"\ntarget = "one"', duration="6s"), TEN)
    assert len({s.target for s in one.steps}) == 1
    minority = timeline(churn_plan('rate = "1/1s"\ndown = "1s"\ntarget = "minority"'), FIVE)
    assert len({s.target for s in minority.steps}) <= 2
    each = timeline(churn_plan('rate = "1/1s"\ndown = "1s"\ntarget = "each"', duration="7s"))
    order = [s.target for s in each.steps if s.phase == START]
    assert order == ["n1", "n2", "n3", "n4", "n5", "n1", "n2"]
    with pytest.raises(PlanError, match='fault\\[0\\].target: unknown node "n7"'):
        timeline(churn_plan('rate = "1/1s"\ndown = "1s"\ntarget = ["n7"]'))


def test_churn_and_another_fault_on_one_node_are_refused() -> None:
    text = churn_plan('rate = "1/2s"\ndown = "3s"\ntarget = ["n2"]')
    text += '[[fault]]\nid = "c"\nkind = "crash"\ntarget = "n2"\nat = "2s"\nduration = "1s"\n'
    with pytest.raises(PlanError, match='"c" overlaps "churn#1"'):
        timeline(text)


def test_dry_run_on_ten_nodes_lists_every_departure_and_return(tmp_path: Path) -> None:
    path = tmp_path / "churn.toml"
    path.write_text(churn_plan())
    done = subprocess.run(
        [sys.executable, "-m", "faults.schedule", str(path), "--dry-run", "--nodes", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "10 nodes" in lines[0] and "8 steps, ends at 10.0s" in lines[0]
    rows = [line.split() for line in lines[2:]]
    assert [(r[1], r[2], r[3]) for r in rows[:2]] == [
        ("start", "churn#1", "churn"),
        ("start", "churn#2", "churn"),
    ]
    assert all("how=stop" in line and "down=3.0" in line for line in lines[2:])
    shipped = subprocess.run(
        [sys.executable, "-m", "faults.schedule", "faults/plans/churn.toml", "--dry-run", "--json"]
        + ["--nodes", "10"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    steps = json.loads(shipped.stdout)["steps"]
    assert {s["kind"] for s in steps} == {"churn", "disk_full"}


# -- against the stand-in cluster ----------------------------------------------------------
@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    with FakeCluster(5) as fc:
        yield fc


def test_churn_runs_every_departure_and_return_and_leaves_all_running(cluster) -> None:
    text = churn_plan('rate = "1/500ms"\ndown = "150ms"\nhow = "crash"', duration="1s")
    tl = timeline(text.replace('at = "1s"', 'at = "0s"'), cluster.names)
    runner = Runner(tl, cluster.descriptor)
    result = runner.run()
    assert result.status == "completed", result.errors
    steps = step_records(runner.journal.records)
    assert len(tl.steps) == 4
    assert [(r["fault_id"], r["phase"], r["target"]) for r in steps] == [
        (s.fault_id, s.phase, s.target) for s in tl.steps
    ]
    assert all(r["outcome"] == "ok" and r["takes_down"] is True for r in steps)
    actions = [path.rsplit("/", 1)[1] for _, path, _ in cluster.calls if path.startswith("/nodes/")]
    assert actions.count("kill") == actions.count("start") == 2
    assert cluster.healthy()


def test_a_churn_stopped_midway_brings_every_node_back(cluster) -> None:
    text = churn_plan('rate = "1/500ms"\ndown = "10s"', duration="30s")
    tl = timeline(text.replace('at = "1s"', 'at = "0s"'), cluster.names)
    runner = Runner(tl, cluster.descriptor)
    runner.start()
    deadline = time.monotonic() + 5
    while sum(s != "running" for s in cluster.state.values()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sum(s == "stopped" for s in cluster.state.values()) == 2
    runner.stop(wait=10)
    assert runner.result.status == "aborted"
    assert cluster.healthy()
    heals = [r for r in step_records(runner.journal.records) if r["phase"] == END]
    assert len(heals) == 2 and all("final heal" in r["detail"]["reason"] for r in heals)


def test_disk_full_fills_and_frees_through_the_control_api(cluster) -> None:
    text = 'version = 1\n[[fault]]\nid = "full"\nkind = "disk_full"\ntarget = "n3"\n'
    text += 'at = "0s"\nduration = "50ms"\n'
    tl = timeline(text, cluster.names)
    seen = []
    runner = Runner(tl, cluster.descriptor)
    runner.events.fault_started.add_listener(lambda **_: seen.append(dict(cluster.full)))
    assert runner.run().status == "completed"
    assert seen == [{**dict.fromkeys(cluster.names, False), "n3": True}]
    assert cluster.healthy()
    records = step_records(runner.journal.records)
    assert [(r["phase"], r["acts_on"], r["takes_down"]) for r in records] == [
        ("start", "disk", False),
        ("end", "disk", False),
    ]
    assert fit_for(tl, cluster.descriptor).not_applied == ()


def test_disk_full_is_refused_up_front_on_a_cluster_without_small_disks(cluster) -> None:
    cluster.disk_mb = None
    text = 'version = 1\n[[fault]]\nid = "full"\nkind = "disk_full"\ntarget = "n3"\n'
    text += 'at = "0s"\nduration = "50ms"\n'
    tl = timeline(text, cluster.names)
    fit = fit_for(tl, cluster.descriptor)
    assert fit.not_applied == ("full:n3 (disk_full)",)
    assert "disk_full: the nodes' data dirs are not small filesystems" in fit.lines()[1]
    runner = Runner(tl, cluster.descriptor)
    result = runner.run()
    assert result.status == "failed"
    start, end = step_records(runner.journal.records)
    assert start["outcome"] == "error" and start["error"].startswith("NotApplied: disk_full:")
    assert end["outcome"] == "ok" and end["detail"]["note"] == "nothing to heal"
    assert not [c for c in cluster.calls if "disk" in c[1]]
