"""The whole Phase 4 evaluation on a second, independent network (examples/tinyp2p): the same
users through its adapter, crash and pause through the launcher, a partition through one
network namespace per node, and a verdict that is honest about what the example gets wrong.

Needs the ``examples`` extra, and root with ``ip`` and ``nft`` for the namespace partition;
skipped with the reason otherwise."""

from __future__ import annotations

import json
import subprocess

import psutil
import pytest

from faults.backends import netns as nft_backend
from networks import netns
from tests.locust_run import ROOT, cluster_workdir, run_headless

pytestmark = [pytest.mark.integration, pytest.mark.load]
NETWORK = ROOT / "examples" / "tinyp2p" / "network.toml"
PLAN = ROOT / "tests" / "plans" / "short.toml"  # crash, pause, partition in ~14 s
COMPARTIR = ROOT / "examples" / "compartir" / "network.toml"
LINKS = ROOT / "tests" / "plans" / "links_short.toml"  # a delay, then a cut, in ~10 s
SHORT = ("--levels", "5,25", "--step-time", "3", "--stress-levels", "", "--fault-plan", str(PLAN))
#: The 3-node full mesh this test judges the example on: its logins happen once, at start, so on
#: the quick profile's ring one lost login leaves it split in two (NOT READY on ``joined`` before
#: any load, a real flaw of the example, but not the flaws this test is about).
MESH = ("--nodes", "3", "--topology", "full")

pytest.importorskip("aiohttp", reason="the example network needs the 'examples' extra")
_ok, _why = netns.available()
_nft_ok, _nft_why = nft_backend.available()
if not (_ok and _nft_ok):  # name the missing part: each says why even when it is available
    _missing = _nft_why if _ok else _why
    pytest.skip(f"no namespace partitions here: {_missing}", allow_module_level=True)


def tiny_processes(workdir) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if "examples.tinyp2p" in cmdline and str(workdir) in cmdline:
            found.append(cmdline)
    return found


def test_the_quick_profile_judges_the_example_network_honestly(tmp_path):
    run = run_headless(tmp_path, "--network", str(NETWORK), *MESH, *SHORT, timeout=300)
    output = run.stdout + run.stderr
    assert "one network namespace per node" in output, output[-3000:]  # for the partition
    complete = json.loads((tmp_path / "phase4_complete_results.json").read_text())
    verdict, rows = complete["verdict"], complete["criteria"]
    # The run itself went through: every stage, every fault applied and healed.
    said = "\n".join(line for line in output.splitlines() if line.startswith("peerload:"))
    assert verdict["label"] != "INCONCLUSIVE", said
    assert (tmp_path / "fault_tolerance_results.json").exists(), said  # it got past the start
    faults = json.loads((tmp_path / "fault_tolerance_results.json").read_text())["faults"]
    assert sorted(f["kind"] for f in faults) == ["crash", "partition", "pause"]
    assert all(f["outcome"] == "ok" for f in faults), faults
    # What the example cannot be asked is said, never passed.
    unmeasurable = {r["name"] for r in rows if "not measurable on this network" in r["detail"]}
    assert {"flood_cost", "op_success_rate"} <= unmeasurable, unmeasurable
    # The example answers searches without a partial flag and its partitions never heal:
    # that is not READY, and the exit code, the JSON and the last line say the same.
    assert verdict["label"] == "NOT READY" and run.returncode == 1, verdict["reason"]
    assert run.stdout.rstrip().splitlines()[-1] == f"peerload: {verdict['reason']}"
    workdir = cluster_workdir(output)
    assert workdir is not None and tiny_processes(workdir) == []
    assert stale_namespaces() == []


def test_a_network_without_the_admin_api_is_delayed_cut_and_judged_on_its_own_flaws(tmp_path):
    """examples/compartir shares 127.0.0.1 and serves no /admin: the delay is a delay line in
    its node's namespace, the cut nftables; with --keep-going its failed start is judged with
    the rest, and its one-way membership and the answers its TTL loses are named."""
    plan = ("--fault-plan", str(LINKS), "--keep-going", "--nodes", "3")
    args = ("--network", str(COMPARTIR), *SHORT[:-2], *plan)
    run = run_headless(tmp_path, *args, timeout=300)
    output = run.stdout + run.stderr
    assert "one network namespace per node" in output, output[-3000:]
    complete = json.loads((tmp_path / "phase4_complete_results.json").read_text())
    verdict = complete["verdict"]
    faults = json.loads((tmp_path / "fault_tolerance_results.json").read_text())["faults"]
    assert sorted(f["kind"] for f in faults) == ["latency", "partition"], faults
    assert all(f["outcome"] == "ok" for f in faults), faults
    journal = [json.loads(line) for line in (tmp_path / "fault_journal.jsonl").open()]
    slowed = [r for r in journal if r.get("kind") == "latency" and r.get("record") == "step"]
    start, end = (r["detail"] for r in slowed)
    assert "delay line" in start["how"] and start["ms"] == 200, start
    held = next(iter(end["packets"].values()))
    assert held["forwarded"] > 0, end  # packets really went through the line
    failed = {r["name"] for r in complete["criteria"] if r["verdict"] == "fail"}
    assert {"initial_verification", "missing_hits"} <= failed, failed
    assert "joined" in verdict["reason"], verdict["reason"]
    assert verdict["label"] == "NOT READY" and run.returncode == 1, verdict["reason"]
    assert stale_namespaces() == []


def stale_namespaces() -> list[str]:
    """Our namespaces (``pl-<pid>-<node>``) whose run is gone: none may be left."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("pl-")]
    return [n for n in names if not psutil.pid_exists(int(n.split("-")[1]))]
