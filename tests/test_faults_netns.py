"""The nftables backend and backend selection.

The real tests drop packets between loopback addresses (a partition on addresses of our own; loss
and a bandwidth cap in a network namespace the test makes, ``unshare --net``) and skip, with the
reason, where nftables cannot be used (not root, no ``nft``, refused by the kernel); .ci/run
installs nftables so that they run in CI.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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


def test_loss_and_bandwidth_rules_touch_only_the_targets_links(scripts: list[str]) -> None:
    net = netns.NetnsNetwork(DESCRIPTOR, table="peerload_t")
    detail = net.loss("lossy:n2", ["n2"], 30)
    script = scripts[-1]
    pairs = "127.0.0.11 . 127.0.0.12, 127.0.0.12 . 127.0.0.11, 127.0.0.12 . 127.0.0.13, "
    pairs += "127.0.0.13 . 127.0.0.12"
    for chain in ("loss1 { type filter hook output", "loss1f { type filter hook forward"):
        assert f"add chain inet peerload_t {chain}" in script
    rule = f"ip saddr . ip daddr {{ {pairs} }} numgen random mod 100 < 30 drop"
    assert script.count(rule) == 2  # one per hook; n1 <-> n3 untouched
    assert (detail["chain"], detail["percent"], detail["links"]) == ("loss1", 30, 4)
    detail = net.bandwidth("narrow:n1", ["n1"], 8000)  # 1,000,000 bytes/s
    script = scripts[-1]
    over = "limit rate over 1000000 bytes/second burst 65536 bytes drop"
    assert f"ip saddr 127.0.0.11 ip daddr {{ 127.0.0.12, 127.0.0.13 }} {over}" in script
    assert f"ip saddr {{ 127.0.0.12, 127.0.0.13 }} ip daddr 127.0.0.11 {over}" in script
    assert detail["chain"] == "rate2" and "policed by nftables" in detail["how"]
    net.bandwidth("tiny:n3", ["n3"], 64)  # a small rate still passes one 64 KiB segment
    assert "limit rate over 8000 bytes/second burst 65536 bytes drop" in scripts[-1]
    assert net.heal_loss("lossy:n2", ["n2"])["removed"] == "loss1"
    assert scripts[-1] == (
        "flush chain inet peerload_t loss1\ndelete chain inet peerload_t loss1\n"
        "flush chain inet peerload_t loss1f\ndelete chain inet peerload_t loss1f\n"
    )
    assert net.heal_bandwidth("narrow:n1", ["n1"])["removed"] == "rate2"
    assert net.heal_loss("lossy:n2", ["n2"]) == {"backend": "netns", "note": "no rules to remove"}
    assert net.reset(list(HOSTS))["removed"] == ["rate3"]


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


# -- real packets in a namespace of the test's own: loss and a bandwidth cap ------------------
ROOT = Path(__file__).resolve().parent.parent
DATAGRAMS = 200
DRAIN_S = 0.5
TRANSFER_BYTES = 1 << 20
CAP_KBIT = 4000  # 500 kB/s: nftables' bucket (a second of it, plus the burst) passes at once,
# the rest of the transfer (about 480 kB) takes about a second
TRANSFER_TIMEOUT_S = 30.0


def datagrams_through(source: str, dest: str, count: int = DATAGRAMS) -> int:
    """How many of ``count`` UDP datagrams from ``source`` reach ``dest`` (a bounded loop)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind((dest, 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.bind((source, 0))
            for i in range(count):
                try:
                    tx.sendto(i.to_bytes(4, "big"), rx.getsockname())
                except PermissionError:  # dropped in our own output hook: the sender is told
                    pass
        received = set()
        rx.settimeout(DRAIN_S)
        while len(received) < count:
            try:
                received.add(rx.recv(64))
            except TimeoutError:
                break
    return len(received)


def transfer_s(source: str, dest: str, size: int = TRANSFER_BYTES) -> float:
    """Seconds for ``size`` bytes over TCP from ``source`` until ``dest`` has them all."""
    got = 0
    with socket.socket() as server:
        server.bind((dest, 0))
        server.listen(1)
        server.settimeout(TRANSFER_TIMEOUT_S)

        def receive() -> None:
            nonlocal got
            conn, _ = server.accept()
            with conn:
                conn.settimeout(TRANSFER_TIMEOUT_S)
                while chunk := conn.recv(1 << 16):
                    got += len(chunk)

        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        started = time.monotonic()
        with socket.create_connection(
            server.getsockname(), timeout=TRANSFER_TIMEOUT_S, source_address=(source, 0)
        ) as sender:
            sender.sendall(b"x" * size)
        reader.join(TRANSFER_TIMEOUT_S)
        took = time.monotonic() - started
    assert got == size, f"{got} of {size} bytes arrived"
    return took


def nft_listing() -> str:
    return subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout


def measure_links() -> dict:
    """Run inside a fresh network namespace (``unshare --net``): loss and a bandwidth cap on
    n1's links, measured with real packets; what was seen, as JSON-able values."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    ok, why = netns.available(DESCRIPTOR)
    if not ok:
        return {"skip": why}
    n1, n2, n3 = HOSTS.values()
    net = netns.NetnsNetwork(DESCRIPTOR)
    seen: dict = {"before": datagrams_through(n1, n2), "answered": answered(n1, (n2, 9))}
    try:
        net.loss("all:n1", ["n1"], 100)
        seen["loss100"] = datagrams_through(n1, n2)
        seen["loss100_reverse"] = datagrams_through(n2, n1)
        seen["loss100_answered"] = answered(n1, (n2, 9))
        seen["loss100_other_link"] = datagrams_through(n3, n2)
        seen["loss100_client"] = datagrams_through("127.0.0.1", n1)
        net.heal_loss("all:n1", ["n1"])
        net.loss("some:n1", ["n1"], 30)
        seen["loss30"] = datagrams_through(n1, n2)
        net.heal_loss("some:n1", ["n1"])
        seen["healed"] = datagrams_through(n1, n2)
        seen["ruleset_after_heal"] = nft_listing()
        seen["plain_s"] = transfer_s(n1, n2)
        seen["cap"] = net.bandwidth("narrow:n1", ["n1"], CAP_KBIT)
        seen["capped_s"] = transfer_s(n1, n2)
        seen["capped_other_link_s"] = transfer_s(n3, n2)
        net.heal_bandwidth("narrow:n1", ["n1"])
        seen["uncapped_s"] = transfer_s(n1, n2)
    finally:
        net.close()
    seen["ruleset_after_close"] = nft_listing()
    seen["table"] = net.table
    return seen


def answered(source: str, dest: tuple[str, int]) -> bool:
    """Whether a connection from ``source`` to ``dest`` got an answer (nothing listens on port 9:
    refused, if the SYN got there)."""
    with socket.socket() as s:
        s.bind((source, 0))
        s.settimeout(CONNECT_TIMEOUT_S)
        try:
            s.connect(dest)
        except ConnectionRefusedError:
            return True
        except OSError:
            return False
    return True


def test_real_loss_and_bandwidth_in_a_namespace_of_our_own() -> None:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare (util-linux) and ip (iproute2) for a namespace of its own")
    code = "import json, tests.test_faults_netns as t; print(json.dumps(t.measure_links()))"
    done = subprocess.run(
        ["unshare", "--net", sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"no network namespace here: {done.stderr.strip().splitlines()[-1]}")
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in seen:
        pytest.skip(f"nftables backend not usable here: {seen['skip']}")
    assert seen["before"] == DATAGRAMS
    assert seen["loss100"] == seen["loss100_reverse"] == 0  # both directions
    assert seen["answered"] is True and seen["loss100_answered"] is False
    assert seen["loss100_other_link"] == DATAGRAMS  # n3 <-> n2 is not n1's link
    assert seen["loss100_client"] == DATAGRAMS  # nor is a client's traffic
    assert 0.4 * DATAGRAMS < seen["loss30"] < 0.95 * DATAGRAMS  # ~70 % expected
    assert seen["healed"] == DATAGRAMS
    assert "numgen" not in seen["ruleset_after_heal"]  # the heal took its rules, and only them
    assert seen["table"] in seen["ruleset_after_heal"]
    assert seen["cap"]["kbit"] == CAP_KBIT
    rate = CAP_KBIT * 125  # bytes/s
    least_s = (TRANSFER_BYTES - rate - netns.BURST_BYTES) / rate  # what the bucket cannot hold
    assert seen["capped_s"] > 0.5 * least_s  # the cap holds
    assert seen["capped_s"] > 5 * seen["plain_s"]
    assert seen["capped_s"] > 5 * seen["capped_other_link_s"]
    assert seen["uncapped_s"] < seen["capped_s"] / 5
    assert seen["table"] not in seen["ruleset_after_close"]


def test_a_delay_is_not_a_packet_rule_the_nodes_admin_api_adds_it(scripts: list[str]) -> None:
    from faults.backends.control import ControlClient, ControlNetwork
    from faults.testing import FakeCluster

    with pytest.raises(netns.NetnsError, match="a delay needs a namespace per node"):
        netns.NetnsNetwork(DESCRIPTOR, table="peerload_t").slow("lat:n1", ["n1"], 50)
    with FakeCluster(3) as fc:
        pairs = zip(fc.descriptor["nodes"], HOSTS.values(), strict=True)
        hosts = {**fc.descriptor, "nodes": [{**n, "host": h} for n, h in pairs]}
        delays = ControlNetwork(ControlClient(fc.descriptor))
        net = netns.NetnsNetwork(hosts, table="peerload_t", delays=delays)
        assert net.slow("lat:n1", ["n1"], 50)["backend"] == "netns (delay in the node)"
        assert fc.latency["n1"] == 50 and scripts == []  # no nftables rule for it
        net.fast("lat:n1", ["n1"])
        assert fc.latency["n1"] == 0
