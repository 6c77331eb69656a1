"""Nodes on several hosts over SSH (networks/remote.py), with network namespaces running a real
sshd as the hosts (tests/hostlab.py): start, signal and restart nodes on them, cut links between
hosts with nftables there, and lose a host mid-run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import reports
from bench.hosts_figures import NOT_MEASURED, compare, figures
from faults.backends.control import ControlClient, ControlNetwork
from faults.backends.hosts import HostsNetwork
from faults.backends.netns import NetnsError
from networks.adapter import NodeInfo
from networks.hosts import HostsError, home_index, load_hosts, parse_hosts
from networks.remote import RemoteLauncher
from networks.ssh import HostError
from reports.evidence import Evidence
from reports.harness import faults_applied, hosts, workers
from reports.rows import Result
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from reports.verdict import decide
from tests.conftest import ROOT, cluster_cli, wait_for
from tests.hostlab import HostLab, missing
from tests.http import get
from tests.locust_run import free_port, run_headless

NODES_PER_HOST = 2
#: How the run names a worker whose heartbeat went missing (locustfiles/heartbeats.py; not
#: imported: importing Locust monkey-patches this process).
MISSING = "its heartbeat went missing (Locust marked it missing: usually a saturated CPU)"
LOST_HOST_BOUND_S = 25.0  # ServerAlive 2 s x 5, a connect timeout of 3 s, and a margin
CROSS = {"n1": ["n3", "n4"], "n2": ["n3", "n4"]}  # host 1's nodes from host 2's
PLAN = ROOT / "tests" / "plans" / "hosts.toml"  # a crash on host 2, a cut between hosts; 10 s
SHORT = ("--levels", "5,25", "--step-time", "3", "--stress-levels", "", "--fault-plan", str(PLAN))

needs_lab = pytest.mark.skipif(missing() is not None, reason=f"hosts lab: {missing()}")


@pytest.fixture
def lab(tmp_path):
    """Two hosts (namespaces with sshd), removed with everything in them at the end."""
    lab = HostLab(tmp_path, 2).create()
    try:
        yield lab
    finally:
        lab.remove()


def state_of(pid: int) -> str:
    """The process's state letter (R, S, T for stopped...), '' when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def netns_of(pid: int) -> str:
    return subprocess.run(
        ["ip", "netns", "identify", str(pid)], capture_output=True, text=True
    ).stdout.strip()


def connects(lab: HostLab, ns: str, address: str, port: int) -> bool:
    """Whether a TCP connection from host ``ns`` to address:port succeeds within 1 s."""
    probe = f"import socket; socket.create_connection(({address!r}, {port}), 1).close()"
    done = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", probe], timeout=10)
    return done.returncode == 0


def left_behind(lab: HostLab) -> dict[str, list[int]]:
    """Processes in the hosts other than their listening sshd."""
    out = {}
    for ns in lab.names:
        extra = [p for p in lab.pids(ns) if p != lab.sshd[ns].pid and state_of(p) != "Z"]
        extra = [p for p in extra if p not in lab.sshd_pids(ns) or _is_session(p)]
        if extra:
            out[ns] = extra
    return out


def _is_session(pid: int) -> bool:
    """An sshd that serves a connection (its parent is the listener, not ``ip netns exec``)."""
    parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
    return Path(f"/proc/{parent}/exe").resolve().name == "sshd"


# -- the hosts file ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data, field",
    [
        ({}, "host"),
        ({"host": [{"address": "10.0.0.1", "data_dir": "/d"}]}, "host[0].nodes"),
        ({"host": [{"address": "nope", "nodes": 1, "data_dir": "/d"}]}, "host[0].address"),
        ({"host": [{"address": "10.0.0.1", "nodes": 0, "data_dir": "/d"}]}, "host[0].nodes"),
        ({"host": [{"address": "10.0.0.1", "nodes": 1, "data_dir": "d"}]}, "host[0].data_dir"),
        ({"host": [{"address": "10.0.0.1", "nodes": 1, "data_dir": "/d", "x": 1}]}, "host[0].x"),
        ({"host": [{"address": "10.0.0.1", "nodes": 1, "data_dir": "/d", "port": 0}]}, "port"),
        ({"host": [{"address": "10.0.0.1", "nodes": 1, "data_dir": "/d"}] * 2}, "listed twice"),
        ({"host": [{"address": "10.0.0.1", "nodes": 1, "data_dir": "/d"}] * 65}, "at most 64"),
        ({"host_key_check": "no", "host": []}, "host"),
    ],
)
def test_a_bad_hosts_file_names_the_field(data, field):
    with pytest.raises(HostsError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_hosts(data)


def test_the_cluster_cli_refuses_a_bad_hosts_file_with_exit_2(tmp_path):
    path = tmp_path / "hosts.toml"
    path.write_text('[[host]]\naddress = "10.0.0.1"\nnodes = 2\n')
    done = subprocess.run(
        [sys.executable, "-m", "networks.cluster", "--hosts", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "networks.cluster: host[0].data_dir: missing"


def test_the_descriptor_carries_the_hosts_file_as_read(tmp_path):
    key = tmp_path / "k"
    key.write_text("not read")
    data = {"host": [{"address": "10.0.0.1", "nodes": 2, "data_dir": "/d", "key": str(key)}]}
    hosts = parse_hosts(data)
    assert parse_hosts(json.loads(json.dumps(hosts.to_dict()))) == hosts
    assert "not read" not in json.dumps(hosts.to_dict())  # a key's path, never the key


def test_a_worker_is_given_home_nodes_on_its_own_host():
    nodes = [NodeInfo(name=f"n{i}", http="", grpc="", host="") for i in range(1, 5)]
    assert [home_index(nodes, n, "n3,n4") for n in range(4)] == [2, 3, 2, 3]
    assert [home_index(nodes, n, "") for n in range(2)] == [0, 1]  # not on a host: all nodes


def test_the_report_names_a_worker_whose_heartbeat_went_missing():
    lost = {"host2_5f1c": MISSING}
    [result] = workers(Evidence(status={"worker_died": True, "workers_lost": lost}), Thresholds())
    assert (result.family, result.verdict) == ("harness", "fail")
    assert result.detail == f"host2_5f1c: {MISSING}"


def test_a_lost_host_makes_the_run_inconclusive_whatever_else_failed():
    """Its nodes' failures judge nothing: what they did, and why, is unknown."""
    lost = {"root@10.0.0.6:22": "no answer within 15s"}
    rows = hosts(Evidence(status={"hosts_lost": lost}), Thresholds())
    assert [(r.name, r.verdict, r.detail) for r in rows] == [
        ("hosts", "fail", "root@10.0.0.6:22: no answer within 15s")
    ]
    wrong = Result("acked_writes", "run", 3.0, 0.0, "<=", "fail", 10, family="correctness")
    verdict = decide([wrong, *rows], Thresholds())
    assert verdict.label == "INCONCLUSIVE" and "root@10.0.0.6:22" in verdict.reason
    assert hosts(Evidence(status={"hosts_lost": {}}), Thresholds())[0].verdict == "pass"
    assert hosts(Evidence(status={"worker_died": False}), Thresholds()) == []  # one machine


def test_the_evaluation_figures_are_the_reports_own(tmp_path):
    """bench/hosts_run.py's table (and the README's) reads each fault's times as the report
    judged them, and says when one was not measured rather than showing a number."""
    run = synthetic_run(seed=1, scale=0.3)
    verdict = reports.build(tmp_path, run)
    complete = json.loads((tmp_path / "phase4_complete_results.json").read_text())
    found = figures(
        tmp_path, verdict.exit_code, {"where": "hosts", "hosts": 2, "nodes_per_host": 2}
    )
    timings = complete["fault_timings"]
    assert [(f["id"], f["target"], f["detected_s"], f["service_s"]) for f in found["faults"]] == [
        (t["fault_id"], t["target"], t["detected_s"], t["service_s"]) for t in timings
    ]
    assert (found["verdict"], found["exit_code"]) == (verdict.label, verdict.exit_code)
    assert len(found["failed"]) == len(complete["verdict"]["failed"])
    timings[0]["detection_measured"] = False
    (tmp_path / "phase4_complete_results.json").write_text(json.dumps(complete))
    unmeasured = figures(tmp_path, 0, {"where": "local", "hosts": 1, "nodes_per_host": 4})
    assert unmeasured["faults"][0]["detected_s"] == NOT_MEASURED
    side_by_side = compare([found, unmeasured]).splitlines()
    assert side_by_side[0] == "| | 2 hosts × 2 nodes | one machine, 4 nodes |"
    assert f"| {NOT_MEASURED} / " in side_by_side[3]


# -- nodes on hosts ------------------------------------------------------------------------
@needs_lab
@pytest.mark.integration
def test_nodes_start_on_each_host_and_obey_signals_over_ssh(lab, tmp_path):
    hosts = load_hosts(lab.hosts_toml(NODES_PER_HOST))
    workdir = tmp_path / "run"  # given, so it stays: the logs come back into it
    with RemoteLauncher("builtin", hosts, files_per_node=4, workdir=workdir) as cluster:
        where = {n.name: netns_of(n.proc.pid) for n in cluster.nodes.values()}
        assert where == {"n1": lab.names[0], "n2": lab.names[0]} | {
            "n3": lab.names[1],
            "n4": lab.names[1],
        }
        # They found each other across the hosts, and hold their corpus there.
        peers = get(f"{cluster.nodes['n1'].http}/peers")["peers"]
        assert {p["name"] for p in peers if p["state"] == "alive"} >= {"n2", "n3", "n4"}
        assert get(f"{cluster.nodes['n4'].http}/files")["files"]
        descriptor = json.loads(cluster.descriptor_path.read_text())
        entry = descriptor["nodes"][0]
        assert (entry["pid"], entry["host_pid"]) == (None, cluster.nodes["n1"].proc.pid)
        assert [n["ssh"] for n in descriptor["nodes"]][1:3] == [
            f"root@{lab.address(lab.names[0])}:22",
            f"root@{lab.address(lab.names[1])}:22",
        ]

        old = cluster.nodes["n3"].proc.pid
        assert cluster.kill("n3")["state"] == "killed"
        wait_for(lambda: state_of(old) in ("", "Z"), 5)
        assert cluster.start("n3")["state"] == "running"
        assert cluster.nodes["n3"].proc.pid != old

        pid = cluster.nodes["n2"].proc.pid
        cluster.pause("n2")
        assert state_of(pid) == "T"
        cluster.resume("n2")
        assert state_of(pid) in ("R", "S")
        cluster.stop("n4")
        assert cluster.status()[3]["state"] == "stopped"
        cluster.start("n4")
        cluster.wait_ready(30)
        # A node that exits by itself is seen here through its session's end, no polling.
        crashed = cluster.nodes["n1"].proc.pid
        os.kill(crashed, signal.SIGKILL)
        wait_for(lambda: cluster.status()[0]["state"] == "exited", 5)
        remote_dirs = list(cluster.run_dir.values())
    # Logs came back; nothing is left running on the hosts, nor their run folders.
    assert "listening" in (workdir / "n3.log").read_text()
    assert "listening" in (workdir / "n1.log").read_text()
    assert left_behind(lab) == {}
    assert not any(Path(d).exists() for d in remote_dirs)


@needs_lab
@pytest.mark.integration
def test_a_cross_host_partition_cuts_traffic_between_hosts_and_heals(lab):
    hosts = load_hosts(lab.hosts_toml(NODES_PER_HOST))
    h1, h2 = lab.names
    with RemoteLauncher("builtin", hosts, files_per_node=2) as cluster:
        n1, n3 = cluster.nodes["n1"], cluster.nodes["n3"]
        net = HostsNetwork(cluster.descriptor)  # no admin API given: nftables only
        try:
            assert connects(lab, h1, n3.host, n3.http_port)
            applied = net.partition("cut", CROSS)
            assert applied["backend"] == "hosts"
            assert not connects(lab, h1, n3.host, n3.http_port)
            assert not connects(lab, h2, n1.host, n1.http_port)
            assert connects(lab, h1, n1.host, cluster.nodes["n2"].http_port)  # same host
            assert connects(lab, h2, n3.host, cluster.nodes["n4"].http_port)
            # The nodes see it: each side marks the other dead.
            wait_for(lambda: _dead(n1.http, "n3"), 30, 0.2)
            with pytest.raises(NetnsError, match="n1 and n2 share host"):
                net.partition("same", {"n1": ["n2"]})
            net.heal_partition("cut", CROSS)
            wait_for(lambda: not _dead(n1.http, "n3"), 30, 0.2)
            assert connects(lab, h1, n3.host, n3.http_port)
            assert connects(lab, h2, n1.host, n1.http_port)
            net.loss("lossy", ["n1"], 100)
            assert not connects(lab, h1, n3.host, n3.http_port)
        finally:
            net.close()
        for ns in lab.names:  # the table went from every host
            tables = subprocess.run(
                ["ip", "netns", "exec", ns, "nft", "list", "tables"],
                capture_output=True,
                text=True,
            ).stdout
            assert net.table not in tables
        assert connects(lab, h1, n3.host, n3.http_port)
        wait_for(lambda: not _dead(n1.http, "n3"), 30, 0.2)
        # With the nodes' admin API (as a run builds it): isolate-one, on a host of two nodes.
        nodes_cut = ControlNetwork(ControlClient(cluster.descriptor))
        net = HostsNetwork(cluster.descriptor, delays=nodes_cut)
        try:
            applied = net.partition("isolate", {"n1": ["n2", "n3", "n4"]})
            assert applied["in_nodes"]["backend"] == "control"
            assert not connects(lab, h2, n1.host, n1.http_port)  # nftables, across hosts
            wait_for(lambda: _dead(cluster.nodes["n2"].http, "n1"), 30, 0.2)  # n2 on n1's host
            net.heal_partition("isolate", {"n1": ["n2", "n3", "n4"]})
            wait_for(lambda: not _dead(cluster.nodes["n2"].http, "n1"), 30, 0.2)
        finally:
            net.close()
        # A run SIGKILLed while its cut holds: the next backend from here removes the cut.
        before = set(Path(tempfile.gettempdir()).glob("pl-nft-*"))
        subprocess.run(
            [sys.executable, "-c", KILLED_MID_CUT, str(cluster.descriptor_path)], cwd=ROOT
        )
        for left in set(Path(tempfile.gettempdir()).glob("pl-nft-*")) - before:
            shutil.rmtree(left)  # the killed process's ssh control dir: it could not clean up
        assert not connects(lab, h1, n3.host, n3.http_port)
        again = HostsNetwork(cluster.descriptor)
        again.close()
        assert len(again.removed_stale) == 2  # one table on each host
        assert connects(lab, h1, n3.host, n3.http_port)


#: A process that cuts the hosts apart and dies without closing its backend.
KILLED_MID_CUT = f"""
import json, os, sys
from faults.backends.hosts import HostsNetwork
net = HostsNetwork(json.loads(open(sys.argv[1]).read()))
net.partition("cut", {CROSS!r})
os.kill(os.getpid(), 9)
"""


def _dead(url: str, name: str) -> bool:
    peers = get(f"{url}/peers")["peers"]
    return any(p["name"] == name and p["state"] == "dead" for p in peers)


@needs_lab
@pytest.mark.integration
def test_a_host_that_stops_answering_is_a_harness_failure(lab, tmp_path):
    """sshd of host 2 frozen mid-run: the crash planned on its node fails naming the host, the
    report's faults_applied check fails (INCONCLUSIVE, a harness failure), nodes elsewhere
    are untouched, and closing does not hang on it."""
    hosts = load_hosts(lab.hosts_toml(NODES_PER_HOST))
    h2 = lab.names[1]
    plan = tmp_path / "crash_n3.toml"
    plan.write_text(
        'version = 1\nseed = 1\nbackend = "auto"\n[[fault]]\nid = "crash-n3"\n'
        'kind = "crash"\ntarget = "n3"\nat = "0s"\nduration = "2s"\n'
    )
    journal = tmp_path / "journal.jsonl"
    frozen = []
    cluster = RemoteLauncher("builtin", hosts, files_per_node=2).start_all()
    try:
        frozen = lab.sshd_pids(h2)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "faults", str(plan), "--cluster", str(cluster.descriptor_path)]
            + ["--journal", str(journal)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 1, done.stdout + done.stderr
        assert f"host root@{lab.address(h2)}:22 does not answer" in done.stdout + done.stderr
        lines = [json.loads(x) for x in journal.read_text().splitlines()]
        [result] = faults_applied(Evidence(journal=lines), Thresholds())
        assert (result.family, result.verdict) == ("harness", "fail")
        assert time.monotonic() - started < 2 * LOST_HOST_BOUND_S
        with pytest.raises(HostError, match=lab.address(h2)):
            cluster.kill("n4")
        assert cluster.kill("n1")["state"] == "killed"  # the other host still answers
        assert cluster.lost_hosts.keys() == {f"root@{lab.address(h2)}:22"}
        # What a Locust run reads at its end (locustfiles/heartbeats.py): the host, by name.
        lost = ControlClient(cluster.descriptor).hosts_lost()
        assert lost.keys() == {f"root@{lab.address(h2)}:22"}
        assert [r.get("host_lost") is not None for r in cluster.status()] == [False] * 2 + [
            True
        ] * 2
        started = time.monotonic()
    finally:
        cluster.close()
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert time.monotonic() - started < LOST_HOST_BOUND_S
    # Back, the host's sshd ends the dropped sessions, and each node's watchdog kills it.
    wait_for(lambda: not left_behind(lab), 15, 0.2)


@needs_lab
@pytest.mark.integration
def test_hosts_check_reaches_every_host_and_names_one_that_does_not(lab):
    hosts = str(lab.hosts_toml(1))
    check = [sys.executable, "-m", "networks.hosts", "check", "--hosts", hosts]
    done = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.count(": answers (1 nodes") == 2, done.stdout
    lab.sshd[lab.names[1]].kill()  # the listener: nothing answers on port 22 now
    lab.sshd[lab.names[1]].wait()
    done = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"host root@{lab.address(lab.names[1])}:22 does not answer" in done.stdout


@needs_lab
@pytest.mark.integration
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_the_cluster_cli_leaves_nothing_on_the_hosts(lab, sig):
    """Ctrl-C stops every node on every host; even a SIGKILLed launcher takes them down (each
    node's watchdog on its host sees the session's stdin close)."""
    hosts = lab.hosts_toml(1)
    args = ["--hosts", str(hosts), "--files-per-node", "2", "--workdir", str(lab.tmp / "run")]
    before = set(Path(tempfile.gettempdir()).glob("pl-ssh-*"))
    with cluster_cli(args, stderr=subprocess.DEVNULL) as (proc, pids):
        assert len(pids) == 2 and all(state_of(p) for p in pids)
        proc.send_signal(sig)
        proc.wait(30)
    wait_for(lambda: not left_behind(lab), 15, 0.2)
    assert not any(state_of(p) for p in pids)
    for path in set(Path(tempfile.gettempdir()).glob("pl-ssh-*")) - before:
        sockets = [p.name for p in path.iterdir()]  # a SIGKILLed launcher could not clean up
        if any(name.startswith(f"{lab.address(ns)}-") for name in sockets for ns in lab.names):
            shutil.rmtree(path)


def evaluate(lab: HostLab, tmp_path: Path, during=None) -> tuple[dict, str, str]:
    """A short evaluation: the cluster on the lab's hosts, a Locust worker on each, the master
    here; ``during(workers_process)`` runs alongside the load. The complete results, the
    master's output and the workers command's."""
    hosts = load_hosts(lab.hosts_toml(NODES_PER_HOST))
    results = tmp_path / "results"
    port = free_port()
    with RemoteLauncher("builtin", hosts, workdir=tmp_path / "run") as cluster:
        descriptor = str(cluster.descriptor_path)
        workers = subprocess.Popen(
            [sys.executable, "-m", "networks.hosts", "workers", "--cluster", descriptor]
            + ["--master-host", lab.gateway, "--master-port", str(port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        side = threading.Thread(target=during, args=(lab,)) if during else None
        try:
            if side:
                side.start()
            run = run_headless(
                results,
                *("--master", "--master-bind-host", lab.gateway, "--master-bind-port", str(port)),
                *("--expect-workers", "2", "--cluster", descriptor, *SHORT),
                timeout=300,
            )
            workers_output = workers.communicate(timeout=60)[0]
        finally:
            if side:
                side.join()
            if workers.poll() is None:
                workers.send_signal(signal.SIGINT)
                workers.wait(30)
    assert workers.returncode == 0, workers_output
    complete = json.loads((results / "phase4_complete_results.json").read_text())
    return complete, run.stdout + run.stderr, workers_output


@needs_lab
@pytest.mark.integration
@pytest.mark.load
def test_a_short_evaluation_across_hosts_runs_end_to_end(lab, tmp_path):
    """Locust's master here, one worker per host loading its own nodes, a crash on host 2 and
    a cut between the hosts through nftables there; the run is judged, not INCONCLUSIVE."""
    complete, output, _ = evaluate(lab, tmp_path)
    assert "faults: hosts backend" in output, output[-3000:]
    verdict = complete["verdict"]
    assert verdict["label"] != "INCONCLUSIVE", verdict["reason"]
    print(f"verdict across hosts: {verdict['reason']}")
    results = tmp_path / "results"
    faults = json.loads((results / "fault_tolerance_results.json").read_text())["faults"]
    assert sorted(f["kind"] for f in faults) == ["crash", "partition"]
    assert all(f["outcome"] == "ok" for f in faults), faults
    # Each host's worker loaded its own nodes: home nodes on both hosts, from two workers.
    samples = [json.loads(x) for x in (results / "samples.jsonl").read_text().splitlines()]
    assert {s.get("home") for s in samples} >= {"n1", "n2", "n3", "n4"}
    for ns in lab.names:
        log = (tmp_path / "run" / f"worker-{lab.address(ns)}.log").read_text()
        assert "Starting Locust" in log or "worker" in log.lower(), log[-2000:]
    assert left_behind(lab) == {}


FREEZE_AFTER_S = 12.0  # into the load (workers connect, then 5 s idle and the first level)
FREEZE_S = 8.0  # Locust marks a worker missing after ~3 heartbeats of 1 s


def freeze_a_worker(lab: HostLab) -> None:
    """SIGSTOP the Locust worker on the second host for ``FREEZE_S``: a CPU so busy it sends no
    heartbeat, as far as the master can tell."""

    def worker() -> list[int]:
        return [p for p in lab.pids(lab.names[1]) if b"--worker" in _cmdline(p)]

    wait_for(worker, 60, 0.2)
    time.sleep(FREEZE_AFTER_S)
    pids = worker()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(FREEZE_S)
    for pid in pids:
        os.kill(pid, signal.SIGCONT)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@needs_lab
@pytest.mark.integration
@pytest.mark.load
def test_a_worker_whose_heartbeat_goes_missing_is_named_in_the_report(lab, tmp_path):
    """A worker frozen for 8 s mid-run: the workers check fails naming it and why, so the run
    is never READY (INCONCLUSIVE, unless the network also failed a correctness check)."""
    complete, output, _ = evaluate(lab, tmp_path, during=freeze_a_worker)
    assert complete["verdict"]["label"] != "READY"
    [row] = [r for r in complete["criteria"] if r["name"] == "workers"]
    assert row["verdict"] == "fail" and MISSING in row["detail"], row
    [worker] = complete["run"]["status"]["workers_lost"]  # hostname_hex: the lab shares one
    assert worker in row["detail"] and worker in output


def freeze_host_2(lab: HostLab) -> None:
    """Host 2's sshd frozen from ``FREEZE_AFTER_S`` into the load for ``SSH_LOST_S``: longer
    than ServerAlive allows, so the launcher loses the host; on resume its sshd ends the
    dropped sessions and the nodes' watchdogs take them down."""
    ns = lab.names[1]
    wait_for(lambda: [p for p in lab.pids(ns) if b"--worker" in _cmdline(p)], 60, 0.2)
    time.sleep(FREEZE_AFTER_S)
    frozen = lab.sshd_pids(ns)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    time.sleep(SSH_LOST_S)
    for pid in frozen:
        os.kill(pid, signal.SIGCONT)


SSH_LOST_S = 14.0


@needs_lab
@pytest.mark.integration
@pytest.mark.load
def test_a_host_lost_during_the_load_makes_the_run_inconclusive(lab, tmp_path):
    complete, output, _ = evaluate(lab, tmp_path, during=freeze_host_2)
    verdict = complete["verdict"]
    host = f"root@{lab.address(lab.names[1])}:22"
    assert verdict["label"] == "INCONCLUSIVE" and host in verdict["reason"], verdict["reason"]
    assert complete["run"]["status"]["hosts_lost"].keys() == {host}
    assert f"host {host} lost" in output
    assert left_behind(lab) == {}
