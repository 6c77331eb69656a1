"""The fork server (networks/forkserver.py) with real processes: peerload's node forked from a
zygote that imported it once, driven through the launcher like a Popen-started node."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from networks.definition import NetworkDefinition, load_network, parse
from networks.forkserver import ForkServerError
from networks.launcher import Launcher
from networks.readiness import NotReady
from tests.test_networks_launcher import FAKE, ROOT, running, wait_gone

pytestmark = pytest.mark.integration

PRELOAD = ("node.__main__", "node.server")
STOPPED = "T"
SIGNAL_LANDS_S = 5.0


def forked(preload: tuple[str, ...] = PRELOAD) -> NetworkDefinition:
    """The builtin network with its nodes forked by a fork server that imported ``preload``."""
    net = load_network("builtin")
    return dataclasses.replace(net, node=dataclasses.replace(net.node, preload=preload))


def stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, ..."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ")[1].split()


def state(pid: int) -> str:
    return stat(pid)[0]


def parent(pid: int) -> int:
    return int(stat(pid)[1])


def wait_stopped(pid: int, stopped: bool) -> None:
    """Until the process is stopped (or not): a signal lands a moment after it is sent."""
    deadline = time.monotonic() + SIGNAL_LANDS_S
    while (state(pid) == STOPPED) != stopped:
        assert time.monotonic() < deadline, f"{pid} is {state(pid)}, not stopped={stopped}"
        time.sleep(0.02)


def test_forked_nodes_are_processes_of_their_own_and_obey_the_launcher(tmp_path):
    with Launcher(forked(), 3, workdir=tmp_path, files_per_node=2) as c:
        zygote = c.forkserver.pid
        pids = {name: n.proc.pid for name, n in c.nodes.items()}
        assert len(set(pids.values())) == 3 and zygote not in pids.values()
        for pid in pids.values():  # a group of its own each, children of the zygote
            assert os.getpgid(pid) == pid and parent(pid) == zygote
        for node in c.nodes.values():  # ps and psutil show each node's own command line
            argv = node.proc.args  # then empty ones: the area keeps the zygote's size
            shown = psutil.Process(node.proc.pid).cmdline()
            assert shown[: len(argv)] == argv and not any(shown[len(argv) :]), shown
        # gRPC works in a forked node, as client and server: n1 pulls n2's file
        net = c.network.adapter_class(c.node_infos())
        try:
            held = c.nodes["n2"].files[0]
            source = net.node("n2")
            assert net.node_download(net.node("n1"), held["name"], held["sha256"], source)
        finally:
            net.close()
        c.pause("n3")
        wait_stopped(pids["n3"], True)
        c.resume("n3")
        wait_stopped(pids["n3"], False)
        c.kill("n2")
        assert c.nodes["n2"].proc.returncode == -signal.SIGKILL and not running(pids["n2"])
        c.start("n2")
        assert c.nodes["n2"].proc.pid != pids["n2"] and running(c.nodes["n2"].proc.pid)
        c.stop("n3")  # SIGTERM: the node drains and exits 0, as the zygote reports
        assert c.nodes["n3"].proc.returncode == 0 and c.status()[2]["state"] == "stopped"
        c.wait_ready(20)
        left = [zygote, *(n.proc.pid for n in c.nodes.values())]
    wait_gone(left)


def test_a_forked_node_that_fails_at_start_says_its_exit_code_and_last_line(tmp_path):
    launcher = Launcher(forked(), 2, workdir=tmp_path, node_args=("--ttl-cap", "99"))
    with pytest.raises(NotReady, match=r"n1 exited at start \(exit code 2\): .*--ttl-cap 0\.\.16"):
        launcher.start_all()
    assert not running(launcher.forkserver.pid)


def test_a_preload_that_does_not_import_is_one_line_and_leaves_nothing(tmp_path):
    launcher = Launcher(forked(("node.no_such_module",)), 2, workdir=tmp_path)
    with pytest.raises(ForkServerError, match="No module named 'node.no_such_module'"):
        launcher.start_all()
    assert not running(launcher.forkserver.pid)
    assert all(n.proc is None for n in launcher.nodes.values())


def test_preload_needs_a_python_module_command():
    data = {
        "name": "x",
        "adapter": "networks.adapter:Adapter",
        "node": {"command": ["{python}", "x.py"], "ready": {"tcp": "http"}, "preload": ["x"]},
    }
    with pytest.raises(ValueError, match=r'^t: node.preload: node.command must start with "\{py'):
        parse(data, spec="t", here=ROOT, source="t")
    data["node"].update(command=["{python}", "-m", "x"], preload=["x", "not a module"])
    with pytest.raises(ValueError, match="node.preload: 'not a module' is not a module name"):
        parse(data, spec="t", here=ROOT, source="t")
    data["node"]["preload"] = ["x.y"]
    assert parse(data, spec="t", here=ROOT, source="t").node.preload == ("x.y",)


def test_any_python_module_network_can_be_forked(tmp_path):
    text = FAKE.read_text().replace("[node]\n", '[node]\npreload = ["http.server"]\n', 1)
    (tmp_path / "net.toml").write_text(text)
    with Launcher(str(tmp_path / "net.toml"), 2, workdir=tmp_path / "w") as c:
        assert all(n.proc.pid != c.forkserver.pid for n in c.nodes.values())
        assert "joined-by=n2" in (tmp_path / "w" / "n1.log").read_text()
        left = [c.forkserver.pid, *(n.proc.pid for n in c.nodes.values())]
    wait_gone(left)


def test_a_preload_that_leaves_a_thread_running_is_refused(tmp_path):
    (tmp_path / "threaded.py").write_text(
        "import threading, time\n"
        "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    )
    text = FAKE.read_text().replace("[node]\n", '[node]\npreload = ["threaded"]\n', 1)
    (tmp_path / "net.toml").write_text(text)
    launcher = Launcher(str(tmp_path / "net.toml"), 1, workdir=tmp_path / "w")
    with pytest.raises(
        ForkServerError, match=r"exit code 1\): .* 1 threads running: fork is unsafe"
    ):
        launcher.start_all()
    assert not running(launcher.forkserver.pid)


SCRIPT = """
import dataclasses, json, sys, time
from pathlib import Path
from networks.definition import load_network
from networks.launcher import Launcher
net = load_network("builtin")
net = dataclasses.replace(net, node=dataclasses.replace(net.node, preload={preload!r}))
with Launcher(net, 2, workdir=Path(sys.argv[1]), files_per_node=1) as c:
    c.kill("n2"); c.start("n2")   # a restart: forked again, still dies with us
    pids = [c.forkserver.pid, *(n.proc.pid for n in c.nodes.values())]
    print(json.dumps(pids), flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_the_zygote_and_its_nodes_die_with_the_launcher(tmp_path, sig):
    script = tmp_path / "launch.py"
    script.write_text(textwrap.dedent(SCRIPT.format(preload=PRELOAD)))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "w")],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        pids = json.loads(proc.stdout.readline())
        assert len(pids) == 3 and all(running(p) for p in pids)
        proc.send_signal(sig)  # SIGINT: Ctrl-C, the launcher closes; SIGKILL: death signals
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    time.sleep(0.1)
    wait_gone(pids)
