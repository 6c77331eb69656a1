"""The Phase 4 Locust suite, run for real: headless, distributed, and through the web UI."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request

import psutil
import pytest

import reports
from reports.results import COMPLETE, HTML, MARKDOWN
from tests.locust_run import (
    ROOT,
    cluster_workdir,
    locust_cmd,
    orphans,
    post,
    run_headless,
    wait_until,
    web_ui,
)

pytestmark = pytest.mark.integration

OPS = ("search", "index", "download")


def check_concurrency_results(results, levels):
    data = json.loads((results / "concurrency_results.json").read_text())
    names = [level["name"] for level in data["levels"]]
    for users in levels:
        assert f"level-{users}" in names, names
    for level in data["levels"]:
        assert level["n"] > 0 and level["p95_ms"] is not None, level
    for op in OPS:
        assert any(level["operations"].get(op, {}).get("n") for level in data["levels"]), op
    assert "breaking_point" in data
    return data


@pytest.mark.load(last=True)  # judged READY: it wants the machine to itself
def test_quick_profile_headless(tmp_path):
    run = run_headless(tmp_path, "--profile", "quick")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-3000:]
    data = check_concurrency_results(tmp_path, (5, 10, 20, 25))
    assert all(level["success_pct"] > 85 for level in data["levels"] if level["kind"] == "level")
    assert re.search(r"integrity: \d+ acked uploads, 0 lost, 0 changed, 0 of \d+ checked", output)
    workdir = cluster_workdir(output)
    assert workdir is not None and not workdir.exists()
    assert orphans(workdir) == []
    status = json.loads((tmp_path / COMPLETE).read_text())["run"]["status"]
    assert status["rogue"]["outcome"] == "pass", status["rogue"]  # made last, on real nodes
    assert "rogue member (pass): 14 wrong files refused by n1, n2, none kept" in output
    # while one link was cut, its two ends were polled and neither accused anyone
    faults_run = json.loads((tmp_path / "fault_tolerance_results.json").read_text())["faults"]
    [cut] = [f for f in faults_run if f["kind"] == "link"]
    assert cut["views_read"] >= 10 and cut["sightings"] == [], cut
    # the rows our node gives evidence for are judged on it, not reported
    criteria = json.loads((tmp_path / COMPLETE).read_text())["criteria"]
    for name in ("node_crashes", "answer_time", "wrong_metadata"):
        assert {c["verdict"] for c in criteria if c["name"] == name} == {"pass"}, name
    # The contract between the suite and reports, on real output: what the run wrote (run
    # state, windows, journal, samples, fault and concurrency results) normalises and judges
    # to the same verdict, and renders the same report, byte for byte.
    written = {f: (tmp_path / f).read_bytes() for f in (MARKDOWN, HTML, COMPLETE)}
    verdict = reports.rerender(tmp_path)
    assert run.stdout.rstrip().splitlines()[-1] == f"peerload: {verdict.reason}"
    assert verdict.label == "READY" and verdict.exit_code == run.returncode
    assert {f: (tmp_path / f).read_bytes() for f in written} == written


def test_bad_option_is_one_line_and_exit_2(tmp_path):
    run = run_headless(tmp_path, "--profile", "slow")
    assert run.returncode == 2
    assert "--profile must be one of" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.load
def test_web_ui_runs_and_stops_a_test_and_shows_the_options(tmp_path):
    with web_ui(tmp_path) as ui:
        page = urllib.request.urlopen(f"{ui}/", timeout=10).read().decode()
        for option in ("failover", "fault_plan", "results_dir", "cluster"):
            assert option in page, option
        form = "user_count=6&spawn_rate=6&host=http%3A%2F%2F127.0.0.1&failover=on"

        def requests_made() -> bool:
            stats = json.loads(urllib.request.urlopen(f"{ui}/stats/requests", timeout=10).read())
            total = next(s for s in stats["stats"] if s["name"] == "Aggregated")
            return total["num_requests"] > 20

        results = tmp_path / "concurrency_results.json"
        for run in (1, 2):  # a second run after Stop starts clean (shape, windows, journal)
            assert post(f"{ui}/swarm", form)["success"]
            wait_until(requests_made, 30, f"no requests through the web UI (run {run})")
            time.sleep(3)
            post(f"{ui}/stop")
            wait_until(results.exists, 30, f"no results after /stop (run {run})")
            levels = json.loads(results.read_text())["levels"]
            assert levels and levels[0]["name"] == "level-5" and levels[0]["n"] > 0
            assert len({lv["name"] for lv in levels}) == len(levels)  # no stale repeats
            assert (tmp_path / "PHASE4_FINAL_REPORT.md").exists()
            results.unlink()


@pytest.mark.load
def test_a_run_cut_short_inside_a_fault_is_inconclusive_not_blamed_on_the_network(tmp_path):
    plan = ROOT / "tests" / "plans" / "crash_no_restart.toml"
    run = run_headless(
        tmp_path,
        "--levels", "5", "--step-time", "3", "--stress-levels", "",
        "--fault-plan", str(plan), "--run-time", "14s",
    )  # fmt: skip
    output = run.stdout + run.stderr
    # -t (9 s idle + one 3 s level, then 2 s into the plan) ends the run while n2 is still down:
    # the run cannot tell whether n2 would have come back, so it says so (exit 4), and never
    # "NOT READY: recovery never back".
    assert run.returncode == 4, output[-3000:]
    assert "INCONCLUSIVE: run_complete: cut short: run time reached during faults" in output
    report = (tmp_path / "PHASE4_FINAL_REPORT.md").read_text()
    assert "**Verdict: INCONCLUSIVE**" in report and "fault:crash-forever:n2" in report
    faults_json = json.loads((tmp_path / "fault_tolerance_results.json").read_text())
    (crash,) = faults_json["faults"]
    assert crash["recovered"] is False and crash["healed_by"].startswith("final heal")
    assert orphans(cluster_workdir(output)) == []


#: How long after its last window a distributed run's users may still start a request: the
#: drain's stop reaches the workers within this (before the fix they went on for the whole
#: final verification and integrity check, ~50 s, and their uploads looked lost).
DRAIN_SLACK_S = 2.0


@pytest.mark.load
def test_distributed_run_with_thousands_of_uploads_loses_none(tmp_path):
    run = run_headless(
        tmp_path,
        "--processes", "2", "--levels", "5,10", "--step-time", "4", "--stress-levels", "40",
        "--fault-plan", "none",
    )  # fmt: skip
    output = run.stdout + run.stderr
    record = json.loads((tmp_path / COMPLETE).read_text())
    (row,) = [c for c in record["criteria"] if c["name"] == "acked_writes"]
    assert row["verdict"] == "pass", output[-3000:]
    integrity = record["run"]["integrity"]
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").open()]
    uploads = [s for s in samples if s["op"] == "index" and s["ok"]]
    # As many uploads as a real run makes, every acknowledgement from both workers reached the
    # master (one ack per successful upload), and every one was on its node afterwards.
    assert len(uploads) > 1000
    assert integrity["acked_uploads"] == len(uploads)
    assert integrity["lost"] == integrity["corrupt"] == 0
    # The load had stopped before the network was checked.
    last_end = max(w["end"] for w in record["run"]["windows"])
    assert max(s["t"] for s in samples) < last_end + DRAIN_SLACK_S
    assert orphans(cluster_workdir(output)) == []


@pytest.mark.load
def test_distributed_over_two_workers_and_one_that_dies_makes_the_run_inconclusive(tmp_path):
    cmd = locust_cmd("--headless", "--only-summary", "--results-dir", str(tmp_path))
    cmd += ["--processes", "2", "--levels", "5,10", "--step-time", "5", "--stress-levels", ""]
    cmd += ["--fault-plan", "none"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        master = psutil.Process(proc.pid)
        workers = wait_until(
            lambda: [c for c in master.children() if "locust" in " ".join(c.cmdline())],
            30,
            "no worker processes",
        )
        time.sleep(6)  # the verification is over and both workers' users are running
        workers[0].kill()
        output = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    # A lost worker is the harness's failure, not the network's: the run cannot tell.
    assert proc.returncode == 4, output[-2000:]
    # Named when Locust noticed its heartbeat missing before the end, else said generically.
    died = r"INCONCLUSIVE: workers: (\S+: its heartbeat went missing|a worker died during the run)"
    assert re.search(died, output), output[-2000:]
    # Everything else worked across processes: the workers' samples reached the master, the
    # survivor carried the run to its end, and the end-of-run checks ran on what was acked.
    data = check_concurrency_results(tmp_path, (5, 10))
    assert sum(level["n"] for level in data["levels"]) > 50
    assert re.search(r"integrity: \d+ acked uploads, 0 lost, 0 changed, 0 of \d+ checked", output)
    assert orphans(cluster_workdir(output)) == []
