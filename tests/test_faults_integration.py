"""The fault controller against a real 3-node cluster (networks.cluster): crash + restart, pause,
isolation, with detection, service by the 2 survivors, full recovery and the journal; the
nftables backend for real (skipped, with the reason, where it is not permitted); Ctrl-C in the
middle of a partition leaves the cluster healed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faults import Journal, Runner, parse_plan, read_journal, resolve, step_records
from faults.backends import ControlClient, netns
from faults.httpjson import HttpError, request_json
from faults.types import Step
from tests import probes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
CANARY = "alpha"  # every node's seeded corpus has alpha-* files
READY_S = 30.0
RECOVER_S = 30.0
CLI_TIMEOUT_S = 60.0
PLAN = """
version = 1
seed = 1
backend = "control"
[[fault]]
id = "crash"
kind = "crash"
target = "n1"
at = "1s"
duration = "4s"
[[fault]]
id = "pause"
kind = "pause"
target = "n2"
at = "9s"
duration = "4s"
[[fault]]
id = "isolate"
kind = "partition"
target = "n3"
at = "17s"
duration = "4s"
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    cluster_mod = pytest.importorskip("networks.cluster")
    with cluster_mod.Cluster(nodes=3) as c:
        yield c


@pytest.fixture
def healthy(cluster: Any) -> Any:
    """Every test starts (and must leave) the cluster at N/N alive with no faults set."""
    assert probes.time_until_all_alive(cluster.descriptor, since=time.monotonic(), timeout=READY_S)
    return cluster


def measure(descriptor: dict, step: Step, t0: float, heal_offset: float, out: dict) -> None:
    """During one fault: detection by the survivors, service by them; after it: recovery."""
    target = step.target
    survivors = [n["name"] for n in descriptor["nodes"] if n["name"] != target]
    started, healed_at = t0 + step.offset_s, t0 + heal_offset
    dead_after = probes.time_until_marked(
        descriptor, target, since=started, timeout=max(0.0, healed_at - 0.5 - time.monotonic())
    )
    serving = probes.canary_search(descriptor, CANARY, origins=survivors, expect=survivors)
    time.sleep(max(0.0, healed_at - time.monotonic()))
    recovered = probes.time_until_all_alive(descriptor, since=healed_at, timeout=RECOVER_S)
    out[step.fault_id] = {"dead_after": dead_after, "serving": serving, "recovered": recovered}


def test_crash_pause_partition_detected_served_recovered(healthy: Any, tmp_path: Path) -> None:
    descriptor = healthy.descriptor
    timeline = resolve(parse_plan(PLAN), [n["name"] for n in descriptor["nodes"]])
    heal_at = {s.key: s.offset_s for s in timeline.steps if s.phase == "end"}
    journal_path = tmp_path / "faults.jsonl"
    t0 = time.monotonic()
    results: dict[str, dict] = {}
    threads: list[threading.Thread] = []

    with Journal(journal_path) as journal:
        runner = Runner(timeline, descriptor, journal=journal, t0=t0)

        def on_started(step: Step, record: dict, **_: Any) -> None:
            args = (descriptor, step, t0, heal_at[step.key], results)
            threads.append(threading.Thread(target=measure, args=args, daemon=True))
            threads[-1].start()

        runner.events.fault_started.add_listener(on_started)
        result = runner.run()
    for t in threads:
        t.join(RECOVER_S + 10)

    assert result.status == "completed", result.errors
    for fault_id in ("crash", "pause", "isolate"):
        got = results[fault_id]
        assert got["dead_after"] is not None, f"{fault_id}: survivors never marked it dead"
        assert got["serving"].ok, f"{fault_id}: 2 of 3 did not serve: {got['serving'].detail}"
        assert got["recovered"] is not None, f"{fault_id}: never back to 3/3"

    steps = step_records(read_journal(journal_path))
    assert [(r["fault_id"], r["phase"], r["target"], r["outcome"]) for r in steps] == [
        ("crash", "start", "n1", "ok"),
        ("crash", "end", "n1", "ok"),
        ("pause", "start", "n2", "ok"),
        ("pause", "end", "n2", "ok"),
        ("isolate", "start", "n3", "ok"),
        ("isolate", "end", "n3", "ok"),
    ]
    assert all(abs(r["offset"] - r["planned_offset"]) < 1.0 for r in steps)
    assert probes.all_alive(descriptor).ok
    assert probes.canary_search(descriptor, CANARY).ok


def test_nftables_backend_partitions_for_real(healthy: Any) -> None:
    descriptor = healthy.descriptor
    ok, why = netns.available(descriptor)
    if not ok:
        pytest.skip(f"nftables backend not usable here: {why}")
    plan = PLAN.split("[[fault]]")[0].replace('"control"', '"netns"')
    plan += '[[fault]]\nid = "cut"\nkind = "partition"\ntarget = "n2"\nat = "0s"\nduration = "3s"\n'
    timeline = resolve(parse_plan(plan), [n["name"] for n in descriptor["nodes"]])
    runner = Runner(timeline, descriptor)
    assert runner.network.name == "netns"
    control = ControlClient(descriptor)
    seen: dict[str, Any] = {}

    def on_started(step: Step, **_: Any) -> None:
        since = time.monotonic()
        seen["dead_after"] = probes.time_until_marked(descriptor, "n2", since=since, timeout=2.5)
        seen["app_drop"] = control.fault_state("n2")["drop"]  # the node itself drops nothing

    runner.events.fault_started.add_listener(on_started)
    result = runner.run()
    assert result.status == "completed", result.errors
    assert seen["dead_after"] is not None and seen["app_drop"] == []
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert runner.network.table not in tables
    assert probes.time_until_all_alive(descriptor, since=time.monotonic(), timeout=RECOVER_S)


LINK_PLAN = """
version = 1
backend = "{backend}"
[[fault]]
id = "lossy"
kind = "loss"
percent = 100
target = "n2"
at = "0s"
duration = "3s"
[[fault]]
id = "narrow"
kind = "bandwidth"
kbit = 512
target = "n3"
at = "0s"
duration = "3s"
"""


@pytest.mark.parametrize("backend", ["control", "netns"])
def test_a_total_loss_cuts_its_node_off_and_a_cap_leaves_searches_working(
    healthy: Any, backend: str
) -> None:
    """Loss of every packet (netns) or peer message (control) on n2's links looks like a
    partition to its peers; a 512 kbit/s cap on n3 (netns only) leaves small messages through."""
    descriptor = healthy.descriptor
    if backend == "netns":
        ok, why = netns.available(descriptor)
        if not ok:
            pytest.skip(f"nftables backend not usable here: {why}")
    timeline = resolve(parse_plan(LINK_PLAN.format(backend=backend)), ["n1", "n2", "n3"])
    runner = Runner(timeline, descriptor)
    control = ControlClient(descriptor)
    seen: dict[str, Any] = {}

    def on_started(step: Step, record: dict, **_: Any) -> None:
        if step.kind == "loss":  # both start at 0 s: the cap is on once this one is
            return
        since = time.monotonic()
        seen["loss_pct"] = control.fault_state("n2")["loss_pct"]
        seen["dead_after"] = probes.time_until_marked(descriptor, "n2", since=since, timeout=2.5)
        seen["capped"] = probes.canary_search(
            descriptor, CANARY, origins=["n1"], expect=["n1", "n3"]
        )
        seen["detail"] = record["detail"]

    runner.events.fault_started.add_listener(on_started)
    result = runner.run()
    steps = {(r["kind"], r["phase"]): r for r in step_records(runner.journal.records)}
    assert seen["dead_after"] is not None, "n1 and n3 never marked n2 dead"
    assert seen["loss_pct"] == (100 if backend == "control" else 0)  # netns: no node involved
    assert all(r["outcome"] == "ok" for k, r in steps.items() if k[0] == "loss")
    if backend == "netns":
        assert result.status == "completed", result.errors
        assert seen["capped"].ok, seen["capped"].detail
        assert "policed by nftables" in seen["detail"]["how"]
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert runner.network.table not in tables
    else:  # no cap without netns: said in the journal, nothing done
        assert steps[("bandwidth", "start")]["error"].startswith("WrongBackend")
    assert control.fault_state("n2")["loss_pct"] == 0
    assert probes.time_until_all_alive(descriptor, since=time.monotonic(), timeout=RECOVER_S)


def test_ctrl_c_mid_partition_leaves_the_cluster_healed(healthy: Any, tmp_path: Path) -> None:
    descriptor = healthy.descriptor
    plan = tmp_path / "cut.toml"
    plan.write_text(
        'version = 1\nbackend = "control"\n[[fault]]\nid = "cut"\nkind = "partition"\n'
        'target = "n2"\nat = "0s"\nduration = "60s"\n'
    )
    control = ControlClient(descriptor)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faults.schedule",
            str(plan),
            "--cluster",
            str(healthy.descriptor_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while not control.fault_state("n2")["drop"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert control.fault_state("n2")["drop"] == ["n1", "n3"]
        assert probes.time_until_marked(descriptor, "n2", since=time.monotonic(), timeout=5)
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert all(control.fault_state(n)["drop"] == [] for n in ("n1", "n2", "n3"))
    assert probes.time_until_all_alive(descriptor, since=time.monotonic(), timeout=RECOVER_S)


TINY = "examples/tinyp2p/network.toml"
TINY_PLAN = """
version = 1
backend = "control"
[[fault]]
id = "isolate"
kind = "partition"
target = "n2"
at = "0s"
duration = "0.5s"
[[fault]]
id = "crash"
kind = "crash"
target = "n1"
at = "0.6s"
duration = "0.5s"
"""


def test_the_control_backend_cannot_partition_tinyp2p_and_the_journal_says_so() -> None:
    """The example network does not serve peerload's /admin API: its partition with the
    control backend is a journaled error, nothing is sent to the nodes, and a crash (through
    the launcher) still happens."""
    pytest.importorskip("aiohttp", reason="the example network needs the 'examples' extra")
    cluster_mod = pytest.importorskip("networks.cluster")
    with cluster_mod.Cluster(nodes=3, network=TINY) as c:
        descriptor = c.descriptor
        node = descriptor["nodes"][1]["http"]
        with pytest.raises(HttpError) as refused:  # not ours: it would answer 404
            request_json("POST", f"{node}/admin/partition", {"drop": ["n1"]})
        assert refused.value.status == 404
        timeline = resolve(parse_plan(TINY_PLAN), [n["name"] for n in descriptor["nodes"]])
        runner = Runner(timeline, descriptor)
        assert runner.network.name == "control"
        result = runner.run()
    records = step_records(runner.journal.records)
    assert [(r["fault_id"], r["phase"], r["outcome"]) for r in records] == [
        ("isolate", "start", "error"),
        ("isolate", "end", "ok"),  # nothing to heal: nothing was sent
        ("crash", "start", "ok"),
        ("crash", "end", "ok"),
    ]
    assert result.errors == [
        f"isolate:n2 start: NoAdminApi: the {ROOT / TINY} network does not serve peerload's node "
        "/admin API, which a partition with the control backend needs"
    ]
