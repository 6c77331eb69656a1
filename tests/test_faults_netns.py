"""The nftables backend and backend selection.

The real test drops packets between two loopback addresses and skips, with the reason, where
nftables cannot be used (not root, no ``nft``, refused by the kernel); .ci/run installs
nftables so that it runs in CI.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

from faults.backends import BackendError, ControlClient, choose_backend, netns, select_backend
from faults.backends.control import ControlNetwork
from networks import loopback

HOSTS = {"n1": "127.0.0.11", "n2": "127.0.0.12", "n3": "127.0.0.13"}
DESCRIPTOR = {
    "control": "http://127.0.0.1:9",
    "token": "t",
    "nodes": [{"name": n, "http": f"http://{h}:9", "host": h} for n, h in HOSTS.items()],
}
CONNECT_TIMEOUT_S = 0.5


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    captured: list[str] = []
    monkeypatch.setattr(netns, "nft", captured.append)
    return captured


def test_partition_rules_cut_both_directions(scripts: list[str]) -> None:
    net = netns.NetnsNetwork(DESCRIPTOR, table="peerload_t")
    detail = net.partition("cut:n2", {"n2": ["n1", "n3"]})
    script = scripts[-1]
    assert "add table inet peerload_t" in script
    assert "add chain inet peerload_t cut1 { type filter hook output priority filter;" in script
    assert "add chain inet peerload_t cut1f { type filter hook forward priority filter;" in script
    for a, b in [("11", "12"), ("12", "11"), ("12", "13"), ("13", "12")]:
        assert f"ip saddr 127.0.0.{a} ip daddr 127.0.0.{b} drop" in script
    assert "127.0.0.11 ip daddr 127.0.0.13" not in script  # n1 <-> n3 untouched
    assert detail["cut"] == ["n1->n2", "n2->n1", "n2->n3", "n3->n2"]
    assert net.heal_partition("cut:n2", {})["removed"] == "cut1"
    assert scripts[-1] == (
        "flush chain inet peerload_t cut1\ndelete chain inet peerload_t cut1\n"
        "flush chain inet peerload_t cut1f\ndelete chain inet peerload_t cut1f\n"
    )
    assert net.heal_partition("cut:n2", {}) == {"backend": "netns", "note": "no rules to remove"}
    net.close()
    assert scripts[-1].endswith("delete table inet peerload_t\n")


def test_needs_distinct_host_addresses() -> None:
    same = {**DESCRIPTOR, "nodes": [dict(n, host="127.0.0.1") for n in DESCRIPTOR["nodes"]]}
    assert netns.node_hosts(same) is None
    with pytest.raises(netns.NetnsError, match="no distinct per-node host"):
        netns.NetnsNetwork(same)


def test_unavailable_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    assert netns.available(DESCRIPTOR) == (
        False,
        "needs root, or an unprivileged user+net namespace (unshare -rn)",
    )
    monkeypatch.setattr(netns.os, "geteuid", lambda: 0)
    monkeypatch.setattr(netns.shutil, "which", lambda name: None)
    assert "no nft binary" in netns.available(DESCRIPTOR)[1]


def test_select_backend_says_what_and_why(monkeypatch: pytest.MonkeyPatch) -> None:
    control = ControlClient(DESCRIPTOR)
    network, why = select_backend("control", DESCRIPTOR, control)
    assert isinstance(network, ControlNetwork) and why.startswith("control: requested")
    monkeypatch.setattr(netns, "available", lambda d: (False, "no nft binary on PATH"))
    network, why = select_backend("auto", DESCRIPTOR, control)
    assert network.name == "control"
    assert why == "control: auto picked it (netns not available: no nft binary on PATH)"
    with pytest.raises(BackendError, match="netns backend not available: no nft binary"):
        select_backend("netns", DESCRIPTOR, control)
    monkeypatch.setattr(netns, "available", lambda d: (True, "root, nft"))
    network, why = select_backend("auto", DESCRIPTOR, control)
    assert network.name == "netns" and why == "netns: auto picked it (root, nft)"


def test_a_choice_made_before_the_run_is_the_backend_the_run_gets(monkeypatch):
    monkeypatch.setattr(netns, "available", lambda d=None: (False, "no nft binary on PATH"))
    chosen = choose_backend("auto")  # before the cluster exists: the machine alone
    assert (chosen.name, chosen.reason) == (
        "control",
        "control: auto picked it (netns not available: no nft binary on PATH)",
    )
    monkeypatch.setattr(netns, "available", lambda d=None: (True, "root, nft"))  # not asked again
    network, why = select_backend(chosen, DESCRIPTOR, ControlClient(DESCRIPTOR))
    assert network.name == "control" and why == chosen.reason


def test_nodes_sharing_an_address_are_named():
    shared = {**DESCRIPTOR, "nodes": [dict(n, host="127.0.0.1") for n in DESCRIPTOR["nodes"]]}
    assert netns.address_clash(shared) == "n1, n2, n3 share 127.0.0.1"
    bare = {**DESCRIPTOR, "nodes": [{"name": "n1", "http": "http://x"}]}
    assert netns.address_clash(bare) == "the cluster descriptor gives no host address per node"


# -- real packets --------------------------------------------------------------------------
def connects(source: str, dest: tuple[str, int]) -> bool:
    with socket.socket() as s:
        s.bind((source, 0))
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(dest)
            return True
        except OSError:
            return False


@pytest.fixture
def block() -> Iterator[loopback.Block]:
    """Addresses of our own: real drop rules on addresses another network uses would cut it."""
    claimed = loopback.claim()
    yield claimed
    claimed.release()


def test_real_nftables_partition_drops_and_heals(block: loopback.Block) -> None:
    hosts = {n: block.host(10 + i) for i, n in enumerate(HOSTS, start=1)}
    nodes = [{"name": n, "http": f"http://{h}:9", "host": h} for n, h in hosts.items()]
    descriptor = {**DESCRIPTOR, "nodes": nodes}
    ok, why = netns.available(descriptor)
    if not ok:
        pytest.skip(f"nftables backend not usable here: {why}")
    net = netns.NetnsNetwork(descriptor)
    with socket.socket() as server:
        server.bind((hosts["n2"], 0))
        server.listen(8)
        listener = server.getsockname()
        try:
            assert connects(hosts["n1"], listener)
            net.partition("cut:n2", {"n2": ["n1"]})
            assert not connects(hosts["n1"], listener)  # n1 -> n2 dropped
            assert connects(hosts["n3"], listener)  # n3 -> n2 still fine
            assert connects("127.0.0.1", listener)  # clients (load generator) unaffected
            net.heal_partition("cut:n2", {})
            assert connects(hosts["n1"], listener)
        finally:
            net.close()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    assert net.table not in tables


def test_tables_are_per_instance_and_a_dead_runs_table_is_removed() -> None:
    ok, why = netns.available(DESCRIPTOR)
    if not ok:
        pytest.skip(f"nftables backend not usable here: {why}")
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{netns.TABLE_PREFIX}{dead.pid}_1"
    netns.nft(f"add table inet {stale}\n")
    first, second = netns.NetnsNetwork(DESCRIPTOR), netns.NetnsNetwork(DESCRIPTOR)
    try:
        assert stale in first.removed_stale
        assert first.table != second.table
        tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert stale not in tables
    finally:
        first.close()
        second.close()
