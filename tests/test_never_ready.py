"""A network that never becomes ready is judged, not refused: real nodes of ours that never join
(tests/networks/nojoin.toml), and nodes that never answer their ready probe."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from networks.launcher import Launcher
from networks.readiness import NotReady, describe
from tests.locust_run import ROOT, cluster_workdir, orphans, run_headless

pytestmark = pytest.mark.integration
NOJOIN = ROOT / "tests" / "networks" / "nojoin.toml"
START_S = 30


def test_views_say_what_each_node_sees():
    assert describe("n3", {"n1": "dead", "n2": "suspect"}) == "n3 sees only itself"
    assert describe("n1", {"n2": "alive", "n3": "dead"}) == "n1 sees n1, n2"
    assert describe("n2", None, "refused") == "n2 does not answer (refused)"


def test_node_cluster_says_which_nodes_are_not_joined(tmp_path):
    cmd = [sys.executable, "-m", "networks.cluster", "--network", str(NOJOIN), "--nodes", "3"]
    cmd += ["--files-per-node", "2", "--workdir", str(tmp_path / "w")]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    lines = []
    try:
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline and (line := proc.stdout.readline()):
            lines.append(line.strip())
            if line.strip() == "ready":
                break
    finally:
        proc.terminate()
        proc.wait(10)
    assert "ready" in lines, lines
    (gaps,) = [line for line in lines if line.startswith("not joined: ")]
    seen = "n1 sees only itself; n2 sees only itself; n3 sees only itself"
    held = "n1 holds no link to n2, n3; n2 holds no link to n1, n3; n3 holds no link to n1, n2"
    assert gaps == f"not joined: {seen}; {held}"
    assert proc.returncode == 0


def test_nodes_that_never_answer_their_ready_probe_are_not_ready_with_logs(tmp_path):
    definition = tmp_path / "mute.toml"
    definition.write_text(
        "\n".join(
            [
                'name = "mute"',
                'adapter = "networks.adapter:Adapter"',
                "[node]",
                'command = ["{python}", "-c", "print(\'starting {name}\', flush=True); '
                'import time; time.sleep(60)"]',
                'cwd = "{data_dir}"',
                'ports = ["http"]',
                'shared_dir = "{data_dir}/files"',
                'ready = { http_get = "/", timeout_s = 1 }',
            ]
        )
    )
    launcher = Launcher(str(definition), 2, workdir=tmp_path / "w", files_per_node=1)
    with pytest.raises(NotReady, match="n1 did not start") as caught:
        launcher.start_all()
    assert caught.value.logs["n1"] == b"starting n1\n"
    assert all(n.proc.poll() is not None for n in launcher.nodes.values() if n.proc)


@pytest.mark.load
def test_a_run_on_a_network_that_never_joins_is_not_ready_with_the_joined_row_and_logs(tmp_path):
    results = tmp_path / "results"
    done = run_headless(
        results, "--network", str(NOJOIN), "--files-per-node", "2", "--fault-plan", "none",
        timeout=120,
    )  # fmt: skip
    output = done.stdout + done.stderr
    try:
        assert done.returncode == 1, output[-3000:]
        assert "not joined: n1 sees only itself" in output
        complete = json.loads((results / "phase4_complete_results.json").read_text())
        assert complete["verdict"]["label"] == "NOT READY"
        (row,) = [r for r in complete["criteria"] if r["name"] == "initial_verification"]
        assert row["verdict"] == "fail" and "joined" in row["detail"], row
        assert "n3 sees only itself" in row["detail"], row  # what each node sees
        for name in ("n1", "n2", "n3"):
            assert (results / "logs" / f"{name}.log").is_file()
        assert "NOT READY" in (results / "PHASE4_FINAL_REPORT.md").read_text()
    finally:
        assert orphans(cluster_workdir(output)) == []


@pytest.mark.load
def test_a_run_whose_node_crashes_at_start_is_not_ready_naming_why(tmp_path):
    definition = tmp_path / "crashing.toml"
    definition.write_text(
        "\n".join(
            [
                'name = "crashing"',
                'adapter = "networks.adapter:Adapter"',
                "[node]",
                'command = ["{python}", "-c", "raise SystemExit(\'boom: {name} has no catalog\')"]',
                'cwd = "{data_dir}"',
                'ports = ["http"]',
                'shared_dir = "{data_dir}/files"',
                'ready = { http_get = "/", timeout_s = 10 }',
            ]
        )
    )
    results = tmp_path / "results"
    done = run_headless(results, "--network", str(definition), "--fault-plan", "none", timeout=60)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]  # judged, not refused (exit 2 is bad options)
    complete = json.loads((results / "phase4_complete_results.json").read_text())
    assert complete["verdict"]["label"] == "NOT READY"
    (row,) = [r for r in complete["criteria"] if r["name"] == "initial_verification"]
    assert "node n1 exited at start (exit code 1): boom: n1 has no catalog" in row["detail"]
    assert (results / "logs" / "n1.log").read_text().strip() == "boom: n1 has no catalog"
