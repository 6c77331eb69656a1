"""Failure detection and recovery of real node processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import cluster_cli, peer_state, wait_for
from tests.http import call, get

pytestmark = pytest.mark.integration


def all_alive(cluster) -> bool:
    return all(get(f"{n.http}/health")["peers_alive"] == 2 for n in cluster.nodes.values())


def test_killed_node_is_marked_dead_and_rejoins_with_catalog_intact(fresh_cluster):
    c = fresh_cluster
    n3 = c.nodes["n3"].http
    status, ack = call("PUT", f"{n3}/files/acked.bin", os.urandom(50_000))
    assert status == 201
    c.kill("n3")
    wait_for(lambda: peer_state(c, "n1", "n3") == "dead", timeout=3)
    wait_for(lambda: peer_state(c, "n2", "n3") == "dead", timeout=3)
    assert get(f"{c.nodes['n1'].http}/health")["peers_alive"] == 1

    c.start("n3")  # same data dir, no bootstrap help needed beyond its remembered peers
    wait_for(lambda: all_alive(c), timeout=5)
    assert get(f"{n3}/files/acked.bin")["sha256"] == ack["sha256"]
    names = {r["name"] for r in get(f"{c.nodes['n1'].http}/search?q=acked")["results"]}
    assert names == {"acked.bin"}


def test_paused_node_is_detected_and_searches_answer_partial_within_deadline(fresh_cluster):
    c = fresh_cluster
    c.pause("n2")
    try:
        started = time.monotonic()
        answer = get(f"{c.nodes['n1'].http}/search?q=alpha&ttl=3&deadline_ms=800")
        assert time.monotonic() - started < 1.5
        assert answer["partial"] is True
        assert {r["node"] for r in answer["results"]} >= {"n1", "n3"}
        for observer in ("n1", "n3"):
            wait_for(lambda o=observer: peer_state(c, o, "n2") == "dead", timeout=3)
        # Declared dead, n2 is no longer asked (no waiting), and n3, with no other member to
        # link to instead of its neighbour n2, flags n1's answer as possibly lacking n2's part.
        started = time.monotonic()
        answer = get(f"{c.nodes['n1'].http}/search?q=alpha&ttl=3")
        assert time.monotonic() - started < 0.5
        assert answer["partial"] is True and answer["reached"] == 2
    finally:
        c.resume("n2")
    wait_for(lambda: all_alive(c), timeout=5)
    answer = get(f"{c.nodes['n1'].http}/search?q=alpha&ttl=3")
    assert answer["partial"] is False and answer["reached"] == 3


def test_sigterm_drains_and_exits_cleanly(fresh_cluster):
    c = fresh_cluster
    proc = c.nodes["n1"].proc
    c.stop("n1")
    assert proc.returncode == 0
    wait_for(lambda: peer_state(c, "n2", "n1") == "dead", timeout=3)


def test_second_node_on_a_taken_port_fails_with_one_line(cluster, tmp_path):
    n1 = cluster.nodes["n1"]
    for flag, port in (("--http-port", n1.http_port), ("--grpc-port", n1.grpc_port)):
        run = subprocess.run(
            [sys.executable, "-m", "node", "--name", "x", "--host", n1.host, flag, str(port)]
            + ["--data-dir", str(tmp_path / flag)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 2, run.stderr
        assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
        assert str(port) in run.stderr


def test_sigterm_lets_a_request_in_flight_finish(fresh_cluster):
    import threading

    c = fresh_cluster
    n1 = c.nodes["n1"]
    assert call("POST", f"{n1.http}/admin/partition", {"drop": ["n2"]}, token=c.token)[0] == 200
    answers = []
    slow = threading.Thread(
        target=lambda: answers.append(call("GET", f"{n1.http}/search?q=alpha&deadline_ms=1500"))
    )
    slow.start()
    time.sleep(0.3)  # the search now waits on the partitioned peer
    proc = n1.proc
    c.stop("n1")  # SIGTERM while the search is in flight
    slow.join(10)
    status, answer = answers[0]
    assert status == 200 and answer["partial"] is True
    assert proc.returncode == 0


def test_cluster_cli_stops_on_signals_and_leaves_no_nodes(tmp_path):
    import signal

    args = ["--nodes", "2", "--workdir", str(tmp_path / "c")]
    with cluster_cli(args, stderr=subprocess.STDOUT) as (proc, pids):
        assert len(pids) == 2, pids
        for _ in range(5):  # a burst, as an impatient Ctrl-C gives
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.01)
        assert proc.wait(timeout=30) == 0
        for pid in pids:
            wait_for(lambda pid=pid: not _running(pid), timeout=5)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_a_pull_from_a_dead_peer_is_a_502_and_one_log_line(fresh_cluster):
    c = fresh_cluster
    hit = get(f"{c.nodes['n1'].http}/search?q=n2-&ttl=2")["results"][0]
    c.kill("n2")
    log = c.workdir / "n1.log"
    before = log.read_text()
    body = {"name": hit["name"], "sha256": hit["sha256"], "from": "n2"}
    status, answer = call("POST", f"{c.nodes['n1'].http}/download", body)
    assert status == 502 and "refused" in answer["error"].lower()
    time.sleep(0.2)  # the log line is written before the answer; give the file a moment
    added = log.read_text()[len(before) :].strip().splitlines()
    assert len(added) == 1 and "Traceback" not in added[0], added
    assert hit["name"] in added[0] and "502" in added[0]
