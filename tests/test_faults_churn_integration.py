"""churn and disk_full against real node processes (networks.cluster).

churn: for ~10 s nodes of a 5-node cluster leave (SIGTERM or SIGKILL) and rejoin with their
data, never more than the majority guard allows at once; the journal has every departure and
return, and every node is alive at the end. disk_full: one node's data dir (a small tmpfs the
launcher mounted, root only: skipped with the reason elsewhere) runs full: an upload to it gets
a 507 with a JSON error and is not stored, searches and downloads go on, every upload
acknowledged before is still there, and after the heal uploads work again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from faults import Runner, parse_plan, resolve, step_records
from faults.backends import ControlClient
from faults.types import END, START, Step
from networks import disks
from networks.adapter import Hit
from tests import probes
from tests.http import call

pytestmark = pytest.mark.integration

RECOVER_S = 30.0
CHURN = """
version = 1
seed = 2
backend = "control"
[[fault]]
id = "churn"
kind = "churn"
target = "all"
rate = "1/2s"
down = "3s"
how = "{how}"
data = "{data}"
at = "0.5s"
duration = "10s"
"""
DISK_FULL = """
version = 1
seed = 1
backend = "control"
[[fault]]
id = "full"
kind = "disk_full"
target = "n2"
at = "0s"
duration = "6s"
"""


def names(descriptor: dict) -> list[str]:
    return [n["name"] for n in descriptor["nodes"]]


@pytest.mark.parametrize(("how", "data"), [("stop", "keep"), ("crash", "keep"), ("stop", "wipe")])
def test_churn_nodes_leave_and_come_back_and_all_are_alive_at_the_end(how: str, data: str) -> None:
    cluster_mod = pytest.importorskip("networks.cluster")
    with cluster_mod.Cluster(nodes=5, files_per_node=4) as cluster:
        descriptor = cluster.descriptor
        timeline = resolve(parse_plan(CHURN.format(how=how, data=data)), names(descriptor))
        starts = [s for s in timeline.steps if s.phase == START]
        assert len(starts) == 4 and len({s.target for s in starts}) > 1
        control = ControlClient(descriptor)
        seen: list[tuple[str, str, dict[str, str]]] = []

        def after(step: Step, record: dict, **_: Any) -> None:
            seen.append((step.fault_id, step.phase, control.node_states()))

        runner = Runner(timeline, descriptor)
        runner.events.step_finished.add_listener(after)
        result = runner.run()

        assert result.status == "completed", result.errors
        steps = step_records(runner.journal.records)
        assert [(r["fault_id"], r["phase"], r["target"]) for r in steps] == [
            (s.fault_id, s.phase, s.target) for s in timeline.steps
        ]
        assert all(r["outcome"] == "ok" and r["takes_down"] is True for r in steps)
        gone = "stopped" if how == "stop" else "killed"
        for (fault_id, phase, states), step in zip(seen, timeline.steps, strict=True):
            assert states[step.target] == (gone if phase == START else "running"), fault_id
            away = [n for n, state in states.items() if state != "running"]
            assert len(away) <= 2, f"after {fault_id} {phase}: {away} away at once"
        assert probes.time_until_all_alive(descriptor, since=time.monotonic(), timeout=RECOVER_S)
        canary = probes.canary_search(descriptor, "alpha")
        left = {s.target for s in starts}
        held = {n["name"]: call("GET", f"{n['http']}/files")[1] for n in descriptor["nodes"]}
        counts = {name: len(body.get("files", [])) for name, body in held.items()}
        if data == "wipe":  # every node that left came back empty; the others kept theirs
            wiped = [r["detail"]["wiped"] for r in steps if r["phase"] == START]
            first = {
                s.target: w[s.target]["wiped_files"]
                for w, s in reversed(list(zip(wiped, starts, strict=True)))
            }
            assert min(first.values()) >= 4, first  # its seeded files (a second time: fewer)
            assert {n for n, c in counts.items() if c == 0} == left, counts
            kept = sorted(set(names(descriptor)) - left)  # only they still answer with files
            assert all(r["hits_from"] == kept for r in canary.detail.values()), canary.detail
        else:
            assert set(counts.values()) == {4}, counts
            assert canary.ok, canary.summary


@pytest.fixture(scope="module")
def small_disks() -> Iterator[Any]:
    ok, why = disks.available()
    if not ok:
        pytest.skip(f"disk_full needs data dirs on small disks of their own: {why}")
    cluster_mod = pytest.importorskip("networks.cluster")
    with cluster_mod.Cluster(nodes=3, files_per_node=4, disk_mb=32) as cluster:
        data_dirs = [n.data_dir for n in cluster.nodes.values()]
        assert all(os.path.ismount(d) for d in data_dirs)
        yield cluster
    assert not any(os.path.ismount(d) for d in data_dirs)  # the launcher unmounted them


def upload(node: dict, name: str, data: bytes) -> tuple[int, dict]:
    return call("PUT", f"{node['http']}/files/{name}", data)


def test_disk_full_refuses_uploads_serves_the_rest_and_loses_nothing(small_disks: Any) -> None:
    descriptor = small_disks.descriptor
    assert descriptor["disk_mb"] == 32
    nodes = {n["name"]: n for n in descriptor["nodes"]}
    acked = {}
    for i in range(6):
        data = f"acknowledged before {i} ".encode() * 200
        status, body = upload(nodes[f"n{i % 3 + 1}"], f"before-{i}.bin", data)
        assert status == 201, body
        acked[(f"n{i % 3 + 1}", body["name"])] = hashlib.sha256(data).hexdigest()
    during: dict[str, Any] = {}

    def while_full(step: Step, record: dict, **_: Any) -> None:
        free = disks.free_bytes(small_disks.nodes["n2"].data_dir)
        during["free"] = free
        during["upload"] = upload(nodes["n2"], "during.bin", b"d" * 10_000)
        during["small"] = upload(nodes["n2"], "tiny.bin", b"t")
        during["other"] = upload(nodes["n1"], "elsewhere.bin", b"e" * 10_000)
        during["search"] = call("GET", f"{nodes['n2']['http']}/search?q=before-")
        during["search_n1"] = call("GET", f"{nodes['n1']['http']}/search?q=before-1")
        adapter = small_disks.network.adapter_class(small_disks.node_infos())
        try:
            n2 = adapter.node("n2")
            hit = Hit("n2", "before-1.bin", acked[("n2", "before-1.bin")], None, 0, n2.grpc)
            during["download"] = b"".join(adapter.download(n2, hit, timeout=10))
        finally:
            adapter.close()
        n1_file = next(n for (node, n) in acked if node == "n1")
        pull = {"name": n1_file, "sha256": acked[("n1", n1_file)], "from": "n1"}
        during["pull_into_full"] = call("POST", f"{nodes['n2']['http']}/download", pull)
        pull = {"name": "before-1.bin", "sha256": acked[("n2", "before-1.bin")], "from": "n2"}
        during["pull_from_full"] = call("POST", f"{nodes['n3']['http']}/download", pull)

    timeline = resolve(parse_plan(DISK_FULL), names(descriptor))
    runner = Runner(timeline, descriptor)
    runner.events.fault_started.add_listener(while_full)
    result = runner.run()
    assert result.status == "completed", result.errors

    assert during["free"] == 0
    for key in ("upload", "small", "pull_into_full"):
        status, body = during[key]
        assert status == 507, (key, status, body)
        assert "no space left on this node's disk" in body["error"], key
    assert during["other"][0] == 201
    status, found = during["search"]
    assert status == 200 and {h["name"] for h in found["results"]} >= {name for (_, name) in acked}
    assert during["search_n1"][0] == 200 and during["search_n1"][1]["results"]
    assert hashlib.sha256(during["download"]).hexdigest() == acked[("n2", "before-1.bin")]
    assert during["pull_from_full"][0] == 200, during["pull_from_full"]
    assert not any(r["error"] for r in step_records(runner.journal.records))

    # After the heal: the filler is gone, uploads work, nothing acknowledged was lost.
    assert disks.free_bytes(small_disks.nodes["n2"].data_dir) > 0
    status, body = upload(nodes["n2"], "after.bin", b"a" * 10_000)
    assert status == 201, body
    for (node, name), sha in acked.items():
        status, info = call("GET", f"{nodes[node]['http']}/files/{name}")
        assert status == 200 and info["sha256"] == sha, (node, name, info)
    for name in ("during.bin", "tiny.bin"):
        assert call("GET", f"{nodes['n2']['http']}/files/{name}")[0] == 404
    assert probes.all_alive(descriptor).ok
    ends = [r for r in step_records(runner.journal.records) if r["phase"] == END]
    assert ends[0]["detail"]["nodes"]["n2"]["freed_bytes"] > 0
