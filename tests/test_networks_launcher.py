"""The launcher (networks/launcher.py) with real processes: peerload's node through it, and a
stand-in for "any binary" (tests/networks/httpserver.toml: python -m http.server per node)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from networks.launcher import Launcher
from networks.readiness import NotReady
from tests.conftest import cluster_cli

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
FAKE = Path(__file__).resolve().parent / "networks" / "httpserver.toml"
GONE_WITHIN_S = 5.0


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int]) -> None:
    deadline = time.monotonic() + GONE_WITHIN_S
    while any(running(p) for p in pids):
        assert time.monotonic() < deadline, f"still running: {[p for p in pids if running(p)]}"
        time.sleep(0.05)


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=2) as answer:
        return answer.read()


def test_builtin_network_through_the_launcher(tmp_path):
    with Launcher("builtin", 2, workdir=tmp_path, files_per_node=2) as c:
        descriptor = json.loads(c.descriptor_path.read_text())
        assert descriptor["network"] == "builtin" and descriptor["control"]
        for entry in descriptor["nodes"]:
            assert entry["shared_dir"] == f"{tmp_path}/{entry['name']}/shared"
            assert {f["name"] for f in entry["files"]} <= set(
                p.name for p in Path(entry["shared_dir"]).iterdir()
            )
        assert [n["host"] for n in descriptor["nodes"]] == [c.block.host(11), c.block.host(12)]
        n2 = c.nodes["n2"]
        port, pid = n2.http_port, n2.proc.pid
        c.kill("n2")
        assert not running(pid)
        c.start("n2")
        assert n2.http_port == port and n2.proc.pid != pid
        c.pause("n1")
        assert c.status()[0]["state"] == "paused"
        c.resume("n1")
        c.wait_ready(20)
        pids = [n.proc.pid for n in c.nodes.values()]
        with pytest.raises(RuntimeError, match="started its nodes already"):
            c.start_all()  # a second set of nodes would find their ports taken
        assert [n.proc.pid for n in c.nodes.values()] == pids
    wait_gone(pids)


def test_a_wiped_node_comes_back_holding_nothing_and_a_running_one_is_not_wiped(tmp_path):
    with Launcher("builtin", 2, workdir=tmp_path, files_per_node=3) as c:
        net = c.network.adapter_class(c.node_infos())
        try:
            with pytest.raises(ValueError, match="n2 is running: stop or kill it before wiping"):
                c.wipe("n2")
            assert len(net.files(net.node("n2"))) == 3
            c.stop("n2")
            wiped = c.wipe("n2")
            assert wiped["wiped_files"] >= 3  # the shared files, and the catalog beside them
            c.start("n2")
            assert net.files(net.node("n2")) == {}  # back as a node that never held anything
            assert len(net.files(net.node("n1"))) == 3
        finally:
            net.close()


def test_any_binary_starts_is_killed_restarted_and_leaves_nothing(tmp_path):
    with Launcher(str(FAKE), 3, workdir=tmp_path, files_per_node=2) as c:
        descriptor = c.descriptor
        assert descriptor["network"] == str(FAKE)
        assert {n["host"] for n in descriptor["nodes"]} == {"127.0.0.1"}  # no per-node address
        assert len({n["http"] for n in descriptor["nodes"]}) == 3
        n2 = c.nodes["n2"]
        listing = get(n2.http + "/").decode()
        assert all(f["name"] in listing for f in n2.files)  # the seeded corpus is served
        config = json.loads((n2.data_dir / "config.json").read_text())
        assert config == {"name": "n2", "port": n2.http_port, "shared": str(n2.shared_dir)}
        # joined: n2 and n3 each called the earlier nodes after start
        assert "joined-by=n3" in (tmp_path / "n1.log").read_text()
        assert "joined-by=n3" in (tmp_path / "n2.log").read_text()
        pid = n2.proc.pid
        c.kill("n2")
        assert c.status()[1]["state"] == "killed" and not running(pid)
        c.start("n2")
        assert get(n2.http + "/") and n2.proc.pid != pid
        c.stop("n3")
        assert c.status()[2]["state"] == "stopped"
        c.start("n3")
        pids = [n.proc.pid for n in c.nodes.values()]
    wait_gone(pids)


def test_a_node_that_exits_at_start_is_reported_and_nothing_stays(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        FAKE.read_text().replace('"--bind"', '"--no-such-flag"').replace(", timeout_s = 20", "")
    )
    launcher = Launcher(str(bad), 2, workdir=tmp_path / "w")
    with pytest.raises(NotReady, match="n1 exited at start"):
        launcher.start_all()


SCRIPT = """
import sys, time
from pathlib import Path
from networks.launcher import Launcher
# its folder under the test's tmp_path: a SIGKILLed launcher cannot remove a temp dir of its own
c = Launcher(sys.argv[1], 2, workdir=Path(sys.argv[2]), files_per_node=1).start_all()
c.kill("n2"); c.start("n2")   # a restart: spawned again, still dies with us
print(" ".join(str(n.proc.pid) for n in c.nodes.values()), flush=True)
time.sleep(60)
"""


def test_nodes_die_with_a_sigkilled_launcher(tmp_path):
    script = tmp_path / "launch.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(FAKE), str(tmp_path / "w")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2 and all(running(p) for p in pids)
    finally:
        proc.kill()
        proc.wait()
    time.sleep(0.1)
    wait_gone(pids)


def test_cluster_cli_starts_any_network_and_refuses_a_bad_one(tmp_path):
    flags = ["--nodes", "2", "--files", "1"]
    argv = [sys.executable, "-m", "networks.cluster", *flags]
    bad = subprocess.run(
        [*argv, "--network", str(tmp_path / "none.toml")], capture_output=True, text=True, cwd=ROOT
    )
    assert bad.returncode == 2 and bad.stderr.strip().endswith("none.toml': no such file")
    with cluster_cli([*flags, "--network", str(FAKE), "--workdir", str(tmp_path / "w")]) as (
        proc,
        pids,
    ):
        assert len(pids) == 2, pids
        assert json.loads((tmp_path / "w" / "cluster.json").read_text())["network"] == str(FAKE)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    wait_gone(pids)


def test_the_launcher_writes_each_nodes_catalog_and_its_manifest(tmp_path):
    with Launcher(str(FAKE), 3, workdir=tmp_path, files_per_node=30, seed=5) as c:
        descriptor = json.loads(c.descriptor_path.read_text())
        assert descriptor["files_per_node"] == 30
        holders: dict[tuple[str, str], set[str]] = {}
        for entry in descriptor["nodes"]:
            assert len(entry["files"]) >= 30
            for f in entry["files"]:
                data = (Path(entry["shared_dir"]) / f["name"]).read_bytes()
                assert (len(data), hashlib.sha256(data).hexdigest()) == (f["size"], f["sha256"])
                holders.setdefault((f["name"], f["sha256"]), set()).add(entry["name"])
    assert sum(len(nodes) > 1 for nodes in holders.values()) == 3 * 3  # 10 % of 30, per node


BESIDE_SERVER = """
import runpy
runpy.run_module("http.server", run_name="__main__", alter_sys=True)
"""


def _beside(tmp_path: Path, extra: str) -> Path:
    """The stand-in network run as a module beside its definition (cwd elsewhere: it imports
    only through the PYTHONPATH the launcher gives), with ``extra`` added to ``[node]``."""
    (tmp_path / "beside_server.py").write_text(BESIDE_SERVER)
    text = FAKE.read_text().replace('"-m", "http.server"', '"-m", "beside_server"')
    path = tmp_path / "net.toml"
    path.write_text(text.replace("[node]\n", f"[node]\n{extra}\n", 1))
    return path


def test_after_start_calls_run_on_every_node_before_it_counts_as_ready(tmp_path):
    definition = _beside(tmp_path, 'after_start = [{ method = "GET", path = "/?built-by={name}" }]')
    with Launcher(str(definition), 2, workdir=tmp_path / "w", files_per_node=1) as c:
        for name in ("n1", "n2"):  # n1 too: it joins nobody, yet is set up
            log = (tmp_path / "w" / f"{name}.log").read_text()
            assert f"GET /?built-by={name} " in log, log
        c.kill("n2")
        c.start("n2")  # a restart is a start: the calls run again
        log = (tmp_path / "w" / "n2.log").read_text()
        assert log.count("GET /?built-by=n2 ") == 2, log


def test_a_refused_after_start_call_fails_the_start_naming_it(tmp_path):
    definition = _beside(tmp_path, 'after_start = [{ method = "GET", path = "/absent-{name}" }]')
    launcher = Launcher(str(definition), 2, workdir=tmp_path / "w", files_per_node=1)
    with pytest.raises(
        RuntimeError, match=r"^n1 after_start GET http://.*/absent-n1: HTTP Error 404"
    ):
        launcher.start_all()
    assert all(n.proc is None or n.proc.poll() is not None for n in launcher.nodes.values())


def test_a_taken_control_port_is_one_line_before_any_node_starts(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "networks.cluster", "--nodes", "2", "--files", "1"]
            + ["--control-port", str(port), "--workdir", str(tmp_path / "w")],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert run.returncode == 2 and run.stdout == "", run.stdout + run.stderr
    assert run.stderr == (
        f"networks.cluster: --control-port {port}: cannot listen on 127.0.0.1:{port} "
        "(Address already in use)\n"
    )
    assert not (tmp_path / "w").exists()  # no node started, no folder left


def test_a_topology_link_not_made_is_a_join_gap_not_a_ready_network(tmp_path):
    # One neighbour at most per node: n3 cannot hold the links "full" asks of it. Seeing every
    # member is not enough to count as joined; the gap is named for the ``joined`` check.
    args = ("--max-degree", "1", "--min-degree", "1")
    c = Launcher("builtin", 3, workdir=tmp_path, files_per_node=1, node_args=args)
    try:
        c.start_all(timeout=4)
        gaps = c.join_gaps
    finally:
        c.close()
    assert any(g.startswith("n3 holds no link to") for g in gaps), gaps
