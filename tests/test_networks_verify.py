"""``python -m networks.verify``: conformance before load, each check a named line; exit 0/1/2."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from networks import adapter_class
from networks.accountcheck import check_account
from networks.adapter import Hit, NodeInfo
from networks.builtin import BuiltinAdapter
from networks.launcher import Launcher
from networks.topology import build
from networks.verify import FAIL, NOT_MEASURABLE, PASS, check_ttl_depth, conformance
from tests.patched import check_on_two, patched_definition

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ("up", "joined", "search", "ttl0", "ttl1", "download", "corpus", "index", "concurrent")
CHECKS += ("parallel", "sizes")


def verify(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "networks.verify", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_a_bad_network_is_one_line_and_exit_2():
    run = verify("--network", "nosuch")
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("networks.verify: error: network 'nosuch'")
    assert "Traceback" not in run.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    ("network", "passed"), [("builtin", 18), ("examples/tinyp2p/network.toml", 11)]
)
def test_a_healthy_network_passes_every_named_check(network, passed):
    if "tinyp2p" in network:
        pytest.importorskip("aiohttp", reason="the example network needs the 'examples' extra")
    run = verify("--network", network)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in CHECKS:
        assert f"pass            {name}:" in run.stdout, name
    assert f"{passed} passed, 0 failed" in run.stdout
    assert "not measurable  ttl_depth: a full mesh: every node is 1 hop away" in run.stdout
    # a full mesh cannot show a TTL 1 that goes on: the check says so
    assert "unverified: that it stops after one hop (no node is 2 hops away)" in run.stdout
    if passed == 18:  # our node downloads from another node: the Phase 3 flow is checked
        assert "pass            account: 3 nodes' health answers count the peers" in run.stdout
        assert "pass            counts: after 3 searches from n1" in run.stdout
        assert "pass            malformed: 148 malformed or edge requests to n1, n2" in run.stdout
        assert "pass            rogue: 14 wrong files refused by n1, n2, none kept" in run.stdout
        assert "pass            flow: n2 downloaded a file from n1, serves it intact," in run.stdout
    else:  # tinyp2p cannot be asked to: said, never a pass; and what it does not say is named
        assert "not measurable  flow: the network cannot be asked to download from" in run.stdout
        assert "not measurable  malformed: the adapter cannot send malformed" in run.stdout
        assert "not measurable  rogue: the adapter cannot make a member serve" in run.stdout
        assert "not measurable  remove: the network cannot be given and rid of" in run.stdout
        assert "not measurable  counts: the network does not report its nodes' own" in run.stdout
        assert "not measurable  account: no health answer says how many peers" in run.stdout
        assert "not measurable  minimal: the adapter cannot make a minimal member" in run.stdout
        assert "unverified: the hits' sha256 (the network gives none)" in run.stdout


@pytest.mark.integration
def test_attached_to_a_network_with_a_node_down_it_fails_naming_the_check():
    with Launcher("builtin", 3) as network:
        network.kill("n3")
        run = verify("--cluster", str(network.descriptor_path))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "FAIL            up: n3 does not answer" in run.stdout


@pytest.fixture(scope="module")
def line_of_five():
    """Five of our nodes joined in a line, n1 - n2 - n3 - n4 - n5 (stopped at the end)."""
    with Launcher("builtin", 5, topology="line", files_per_node=2) as network:
        yield network


@pytest.mark.integration
def test_on_a_line_each_node_bootstraps_to_its_earlier_neighbour_only(line_of_five):
    descriptor = json.loads(line_of_five.descriptor_path.read_text())
    names = ["n1", "n2", "n3", "n4", "n5"]
    assert descriptor["topology"] == {
        "spec": "line",
        "nodes": names,
        "edges": [[a, b] for a, b in zip(names, names[1:], strict=False)],
    }
    nodes = line_of_five.nodes
    for before, node in zip([None, *names], names, strict=False):
        argv = Path(f"/proc/{nodes[node].proc.pid}/cmdline").read_text().split("\0")
        joined = [argv[i + 1] for i, a in enumerate(argv) if a == "--bootstrap"]
        assert joined == ([nodes[before].http] if before else []), (node, argv)


@pytest.mark.integration
def test_on_a_line_a_search_with_ttl_k_finds_exactly_the_nodes_within_k_hops(line_of_five):
    net = adapter_class("builtin")(line_of_five.node_infos())
    try:
        checks = {
            c.name: c
            for c in conformance(
                net, line_of_five.node_infos(), index=False, topology=line_of_five.topology
            )
        }
    finally:
        net.close()
    assert checks["search"].outcome == PASS, checks["search"].detail
    assert checks["ttl_depth"].outcome == PASS, checks["ttl_depth"].detail
    assert "TTL 1, 2, 3 from n1 on line" in checks["ttl_depth"].detail


def test_the_depth_check_is_not_measurable_without_links_or_on_a_full_mesh():
    nodes = [NodeInfo(n, files=({"name": f"alpha-{n}-000.txt"},)) for n in ("n1", "n2", "n3")]
    full = build("full", [n.name for n in nodes])
    assert check_ttl_depth(None, nodes, None).outcome == NOT_MEASURABLE
    found = check_ttl_depth(None, nodes, full)
    assert found.outcome == NOT_MEASURABLE and "a full mesh" in found.detail


class OffByOne(BuiltinAdapter):
    """A network whose TTL is off by one: it forwards one hop further than asked."""

    def search(self, node, term, ttl):
        return super().search(node, term, ttl + 1)


class SharedBuffer(BuiltinAdapter):
    """A network whose node answers from one buffer shared by every query in flight: alone
    each answer is right, at once they get each other's hits."""

    last: list = []

    def search(self, node, term, ttl):
        SharedBuffer.last = [super().search(node, term, ttl)]
        time.sleep(0.05)
        return SharedBuffer.last[0]


class DownloadsAside(BuiltinAdapter):
    """A network that stores a download where it neither serves nor indexes it."""

    def node_download(self, node, name, sha256, source):
        hit = Hit(source.name, name, sha256, None, 1, source.grpc)
        data = b"".join(self.download(source, hit, 5))
        Path(node.data_dir, "downloads").mkdir(exist_ok=True)
        Path(node.data_dir, "downloads", name).write_bytes(data)
        return hashlib.sha256(data).hexdigest()


def _checks(network, cls=BuiltinAdapter, *names):
    net = cls(network.node_infos())
    try:
        found = {
            c.name: c for c in conformance(net, network.node_infos(), topology=network.topology)
        }
        return [found[n] for n in names]
    finally:
        net.close()


@pytest.mark.integration
def test_on_a_line_ttl1_flow_and_concurrent_pass_and_catch_what_they_are_about(line_of_five):
    ttl1, flow, concurrent = _checks(line_of_five, BuiltinAdapter, "ttl1", "flow", "concurrent")
    assert ttl1.outcome == PASS and ttl1.detail == "TTL 1 from n1 found exactly its 1 neighbours"
    assert flow.outcome == PASS and "n3 finds it there" in flow.detail, flow.detail
    assert concurrent.outcome == PASS, concurrent.detail

    (ttl1,) = _checks(line_of_five, OffByOne, "ttl1")
    assert ttl1.outcome == FAIL and ttl1.detail.startswith("TTL 1 from n1: hits from beyond TTL")

    (flow,) = _checks(line_of_five, DownloadsAside, "flow")
    assert flow.outcome == FAIL and "from n2 failed: n2: NOT_FOUND" in flow.detail, flow.detail

    (concurrent,) = _checks(line_of_five, SharedBuffer, "concurrent")
    assert concurrent.outcome == FAIL and " of 50 searches at once from n1 wrong" in (
        concurrent.detail
    ), concurrent.detail


#: Our node whose membership counts (and links to) the members of another state than asked.
WRONG_STATE = (
    "import node.membership as m; "
    "m.Membership.in_state = lambda self, state: "
    "[x for x in self.members.values() if x.state > state]"
)


@pytest.mark.integration
def test_a_health_answer_that_counts_the_wrong_peers_fails_account(tmp_path):
    ours = check_on_two("builtin", tmp_path / "ours", check_account)
    assert ours.outcome == PASS, ours.detail
    bad = check_on_two(
        patched_definition(tmp_path, "wrong-state", WRONG_STATE), tmp_path, check_account
    )
    assert bad.outcome == FAIL
    assert "n1 says 0 peers alive in its health answer, its view 1" in bad.detail
