"""A network namespace per node (networks/netns.py): nodes reachable from the host, nftables
partitions (faults/backends/netns.py) cut node-to-node traffic whatever address it leaves from,
and nothing is left behind: not at the end, not on an error, not by a SIGKILLed run.

Needs root, ``ip`` and ``nft``; skipped with the reason otherwise."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from faults.backends import netns as nft_backend
from networks import netns
from networks.launcher import Launcher
from networks.readiness import NotReady
from tests.conftest import cluster_cli, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
FAKE = ROOT / "tests" / "networks" / "httpserver.toml"
CUT_TIMEOUT_S = 1.0

_ok, _why = netns.available()
_nft_ok, _nft_why = nft_backend.available()
if not (_ok and _nft_ok):
    _reason = _why if not _ok else _nft_why
    pytest.skip(f"namespaces not testable here: {_reason}", allow_module_level=True)


def leftovers(prefix: str) -> list[str]:
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return [line for line in (names + links).splitlines() if prefix in line]


def reach_from(ns: str, host: str, port: int) -> bool:
    """Whether a TCP connect from inside namespace ``ns`` gets through (refused counts)."""
    code = (
        "import socket,sys\n"
        f"s=socket.socket(); s.settimeout({CUT_TIMEOUT_S})\n"
        f"try: s.connect(({host!r},{port}))\n"
        "except ConnectionRefusedError: pass\n"
        "except OSError: sys.exit(1)\n"
    )
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], timeout=10)
    return done.returncode == 0


def test_nodes_in_namespaces_partition_and_cleanup(tmp_path):
    prefix = f"pl-{os.getpid()}-"
    with Launcher(str(FAKE), 3, workdir=tmp_path, files_per_node=1, netns=True) as c:
        d = c.descriptor
        assert d["netns"] is True
        hosts = {n["name"]: n["host"] for n in d["nodes"]}
        assert len(set(hosts.values())) == 3 and all(
            h.startswith("10.213.") for h in hosts.values()
        )
        n1, n2 = c.nodes["n1"], c.nodes["n2"]
        with urllib.request.urlopen(n2.http + "/", timeout=2) as answer:  # host -> node
            assert answer.status == 200
        assert reach_from(n1.netns, n2.host, n2.http_port)
        cuts = nft_backend.NetnsNetwork(d)
        try:
            cuts.partition("cut:n2", {"n2": ["n1", "n3"]})
            assert not reach_from(n1.netns, n2.host, n2.http_port)
            assert not reach_from(n2.netns, n1.host, n1.http_port)
            assert reach_from(n1.netns, c.nodes["n3"].host, c.nodes["n3"].http_port)
            cuts.heal_partition("cut:n2", {})
            assert reach_from(n1.netns, n2.host, n2.http_port)
        finally:
            cuts.close()
        c.kill("n2")
        c.start("n2")
        assert leftovers(prefix)
    assert leftovers(prefix) == []


def test_a_failed_start_removes_its_namespaces(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(FAKE.read_text().replace('"--bind"', '"--no-such-flag"'))
    prefix = f"pl-{os.getpid()}-"
    with pytest.raises(NotReady, match="exited at start"):
        Launcher(str(bad), 2, workdir=tmp_path / "w", netns=True).start_all()
    assert leftovers(prefix) == []


def test_a_later_run_removes_what_a_killed_run_left(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = netns.Namespaces(["n1"], pid=dead.pid)
    stale.create()  # made, never removed: as a SIGKILLed run leaves it
    assert leftovers(f"pl-{dead.pid}-")
    fresh = netns.Namespaces(["n1"])
    try:
        fresh.create()
        assert f"pl-{dead.pid}-n1" in fresh.removed_stale
        assert leftovers(f"pl-{dead.pid}-") == []
    finally:
        fresh.remove()


def test_the_builtin_node_in_namespaces_sees_a_cut_peer_dead(tmp_path):
    """Our node's own gRPC and peer traffic is cut too: n1 stops seeing n2 alive."""
    with Launcher("builtin", 3, workdir=tmp_path, files_per_node=1, netns=True) as c:
        cuts = nft_backend.NetnsNetwork(c.descriptor)
        try:
            cuts.partition("cut:n2", {"n2": ["n1", "n3"]})

            def n2_state():
                with urllib.request.urlopen(c.nodes["n1"].http + "/peers", timeout=2) as r:
                    peers = json.loads(r.read())["peers"]
                return next(p["state"] for p in peers if p["name"] == "n2") != "alive"

            wait_for(n2_state, timeout=15, interval=0.2)
        finally:
            cuts.close()
        c.wait_ready(20)


def test_ctrl_c_on_the_cluster_cli_removes_its_namespaces(tmp_path):
    args = ["--nodes", "2", "--files", "1", "--netns"]
    args += ["--network", str(FAKE), "--workdir", str(tmp_path / "w")]
    with cluster_cli(args) as (proc, _):
        assert leftovers(f"pl-{proc.pid}-")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    assert leftovers(f"pl-{proc.pid}-") == []
