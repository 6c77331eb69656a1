"""The first hour with peerload: results kept per run, options checked before anything starts,
the verdict as the last line, ``--json`` parseable, the console in one place."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import reports
from locustfiles import console, record, validate
from locustfiles import options as opts
from locustfiles.outcome import NO_RUN, final_lines
from locustfiles.resultsdir import LATEST, RunFolders, check_explicit, new_run_folder
from locustfiles.runstate import RunState
from networks import disks
from networks.cluster import MAX_NODES
from reports.synthetic import synthetic_run
from tests.locust_run import (
    cluster_workdir,
    locust_cmd,
    orphans,
    post,
    wait_until,
    web_ui,
)

SHORT_RUN = ("--levels", "5", "--step-time", "2", "--stress-levels", "", "--fault-plan", "none")
T0 = 1_796_000_000.0  # a fixed instant


# -- results folders --------------------------------------------------------------------------
def test_each_run_gets_a_folder_named_by_its_utc_start_and_latest_follows(tmp_path):
    first = new_run_folder(tmp_path, T0)
    second = new_run_folder(tmp_path, T0)  # same second: a suffix, never the same folder
    third = new_run_folder(tmp_path, T0 + 61)
    assert first.name == time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime(T0))
    assert second.name == f"{first.name}-2"
    assert (tmp_path / LATEST).resolve() == third.resolve()
    assert not (tmp_path / LATEST).readlink().is_absolute()  # the results folder can move
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.name, second.name, third.name, LATEST]
    )


def test_an_explicit_folder_must_be_empty_unless_overwrite(tmp_path):
    check_explicit(tmp_path / "new", overwrite=False)  # not there yet: fine
    check_explicit(tmp_path, overwrite=False)  # empty: fine
    (tmp_path / "old.json").write_text("{}")
    with pytest.raises(ValueError, match="not empty.*--overwrite"):
        check_explicit(tmp_path, overwrite=False)
    check_explicit(tmp_path, overwrite=True)
    with pytest.raises(ValueError, match="not a folder"):
        check_explicit(tmp_path / "old.json", overwrite=True)


def test_nothing_is_created_before_a_run_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folders = RunFolders("", overwrite=False)
    folders.check()
    assert list(tmp_path.iterdir()) == []
    first = folders.start_run(str(folders.idle), T0)  # the option as init left it
    second = folders.start_run(str(first), T0 + 5)  # as the first run left it: unchanged
    assert first != second and first.parent == second.parent == Path("results")
    assert (tmp_path / "results" / LATEST).resolve() == (tmp_path / second).resolve()


def test_an_explicit_folder_gets_the_files_and_stays_ours_across_runs(tmp_path):
    out = tmp_path / "out"
    folders = RunFolders(str(out), overwrite=False)
    folders.check()
    assert folders.start_run(str(out), T0) == out
    (out / "report.html").write_text("ours")
    assert folders.start_run(str(out), T0 + 5) == out  # our own files do not refuse it
    other = tmp_path / "other"
    other.mkdir()
    (other / "x").write_text("theirs")
    with pytest.raises(ValueError, match="not empty"):
        folders.check(str(other))  # a web-UI form naming someone else's folder
    assert not (out / LATEST).exists()


# -- options ----------------------------------------------------------------------------------
def options(**changes) -> argparse.Namespace:
    """Our options as the suite's own parser defines them, plus the Locust ones it reads."""
    parser = argparse.ArgumentParser()
    opts.add_options(parser)
    values = vars(parser.parse_args([])) | {"profile": None, "web_port": 0}
    return argparse.Namespace(**(values | changes))


def test_good_options_pass_and_create_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    validate.check_options(options(), web_ui=True)
    plain = options(levels="5,10", stress_levels="", fault_plan="quick")
    validate.check_options(plain, web_ui=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"network": "nosuch"}, "--network: network 'nosuch': not a shipped network"),
        ({"step_time": -3.0}, "--step-time must be 0"),
        ({"step_time": float("nan")}, "--step-time must be 0"),
        ({"stress_p95_ms": 0.0}, "--stress-p95-ms must be a number > 0"),
        ({"levels": "5,x"}, "--levels: not a comma-separated list"),
        ({"levels": ""}, "--levels: at least one level"),
        ({"levels": "0"}, "--levels: user counts must be 1..100000"),
        ({"stress_levels": "a"}, "--stress-levels: not a comma-separated list"),
        ({"nodes": MAX_NODES + 1}, f"--nodes must be 1..{MAX_NODES}"),
        ({"topology": "mesh"}, "--topology: topology 'mesh': unknown kind 'mesh'"),
        ({"topology": "random:d=5"}, "--topology: topology 'random:d=5' on 5 nodes: d must be"),
        ({"topology": "ring", "cluster": "http://127.0.0.1:1"}, "--topology: for the embedded"),
        (
            {"fault_plan": "nosuch"},
            "no such plan file; shipped plans: churn, links, phase4, quick, scale, wide, or none",
        ),
        (
            {"nodes": 2},
            "--fault-plan quick: not for 2 nodes: fault[3].kind: no link of this topology can be "
            "cut without a split",
        ),
        ({"nodes": 2}, "; use more --nodes or --fault-plan none"),
        ({"profile": "slow"}, "--profile must be one of"),
        ({"threshold": "nosuch=1"}, "unknown threshold"),
        ({"baseline": "/nonexistent/run"}, "--baseline: "),
        ({"disk_mb": 3}, "--disk-mb: disk_mb (--disk-mb) must be 4..65536 MiB, not 3"),
        ({"disk_mb": 64, "cluster": "http://127.0.0.1:1"}, "--disk-mb: the embedded network's"),
    ],
)
def test_a_bad_option_is_one_line(change, message):
    with pytest.raises(ValueError) as caught:
        validate.check_options(options(**change), web_ui=False)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_small_disks_are_asked_for_or_follow_the_plan():
    root = disks.available()[0]
    assert validate.needs_small_disks(options()) is None  # quick: no disk_full
    assert validate.needs_small_disks(options(disk_mb=64)) == 64
    assert validate.needs_small_disks(options(fault_plan="churn")) == (
        disks.DEFAULT_MB if root else None
    )
    if not root:
        with pytest.raises(ValueError, match="^--disk-mb: mounting a tmpfs needs root"):
            validate.check_options(options(disk_mb=64), web_ui=False)


def test_nodes_do_not_count_against_a_given_cluster():
    validate.check_options(options(nodes=500, cluster="http://127.0.0.1:1"), web_ui=False)


def test_a_network_too_small_for_the_plan_runs_without_one():
    validate.check_options(options(nodes=2, fault_plan="none"), web_ui=False)


# -- --baseline: a previous run of the same setup ----------------------------------------------
def baseline_folder(folder: Path, **changes) -> Path:
    """A results folder recorded with the setup of ``options()``, with ``changes``."""
    run = synthetic_run(seed=3, scale=0.4)
    run["config"].update(record.run_setup(options()) | changes)
    run["status"]["nodes"] = run["config"]["nodes"]  # what the run saw
    reports.build(folder, run)
    return folder


def test_a_baseline_of_another_setup_is_refused_before_anything_starts(tmp_path):
    other = baseline_folder(tmp_path / "tiny", network="tinyp2p", nodes=3)
    with pytest.raises(ValueError) as refused:
        validate.check_options(options(baseline=str(other)), web_ui=False)
    assert str(refused.value) == (
        f"--baseline {other}: another setup (baseline vs this run): network tinyp2p vs builtin, "
        "nodes 3 vs 5; --baseline-any-setup compares anyway"
    )
    validate.check_options(options(baseline=str(other), baseline_any_setup=True), web_ui=False)


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"levels": "5,10"}, "levels 5,10,20,25 vs 5,10"),
        ({"step_time": 2.0}, "step time 6 vs 2.0"),
        ({"stress_levels": ""}, "stress start 40 vs none"),
        ({"fault_plan": "none"}, "fault plan quick vs none"),
        (
            {"profile": "full"},
            "nodes 5 vs 3, topology ring vs full, profile quick vs full, step time 6 vs 30, "
            "stress start 40 vs 50, "
            "fault plan quick vs phase4, files per node 80 vs 500",
        ),
        (
            {"cluster": "http://127.0.0.1:1,http://127.0.0.1:2"},
            "nodes 5 vs 2, topology ring vs full, fault plan quick vs none, "
            "files per node 80 vs unrecorded",
        ),
        ({"files_per_node": 200}, "files per node 80 vs 200"),
    ],
)
def test_the_options_that_shape_the_load_are_part_of_the_setup(tmp_path, change, differs):
    same = baseline_folder(tmp_path / "same")
    assert record.baseline(options(baseline=str(same)))["source"] == str(same)
    with pytest.raises(ValueError, match=f"another setup \\(baseline vs this run\\): {differs};"):
        record.baseline(options(baseline=str(same), **change))


def test_the_run_records_its_setup_and_the_baseline_folder_resolved(tmp_path):
    baseline_folder(tmp_path / "2026-01-01T00-00-00")
    (tmp_path / LATEST).symlink_to("2026-01-01T00-00-00")  # after the run: the run itself
    given = options(baseline=str(tmp_path / LATEST), cluster="http://127.0.0.1:1")
    state = RunState({"nodes": [{"name": "n1", "http": "http://127.0.0.1:1"}]})
    with pytest.raises(
        ValueError, match="nodes 5 vs 1, topology ring vs full, fault plan quick vs none"
    ):
        record.baseline(given)
    given.baseline_any_setup = True
    state.baseline = record.baseline(given)
    config = record.run_record(state, given, live=True)["config"]
    assert config["baseline"] == str((tmp_path / "2026-01-01T00-00-00").resolve())
    assert config["baseline_any_setup"] is True
    assert {k: config[k] for k in ("network", "nodes", "topology", "faults")} == {
        "network": "builtin",
        "nodes": 1,
        "topology": "full",
        "faults": "none",  # bare URLs: no control API, no faults
    }


def test_a_taken_web_port_is_refused_before_anything_starts():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"--web-port: cannot listen on 127.0.0.1:{port}"):
            validate.check_options(options(web_port=port), web_ui=True)
        validate.check_options(options(web_port=port), web_ui=False)  # headless: no web UI


# -- console ----------------------------------------------------------------------------------
def test_with_json_our_lines_go_to_stderr(capsys):
    try:
        console.say("plain")
        console.reserve_stdout_for_json(True)
        console.say("json on")
        console.line("dashboard")
    finally:
        console.reserve_stdout_for_json(False)
    out, err = capsys.readouterr()
    assert out == "peerload: plain\n"
    assert err == "peerload: json on\ndashboard\n"


def test_the_final_lines_end_with_the_verdict(tmp_path):
    state = RunState({"nodes": [{"name": "n1", "http": "http://127.0.0.1:1"}]})
    assert final_lines(state) == [NO_RUN]  # a web-UI session that never ran load
    state.results_dir = tmp_path
    assert final_lines(state)[-1] == record.exit_code(state)[1]


# -- real Locust runs -------------------------------------------------------------------------
def run_locust(cwd: Path, *args: str, stdout=subprocess.PIPE, stderr=subprocess.STDOUT):
    return subprocess.run(
        locust_cmd("--headless", *args),
        cwd=cwd,
        stdout=stdout,
        stderr=stderr,
        text=True,
        timeout=180,
    )


@pytest.mark.integration
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--step-time", "-3"), "--step-time must be 0"),
        (("--fault-plan", "nosuch"), "shipped plans: churn, links, phase4, quick"),
        (("--levels", "5,x"), "--levels: not a comma-separated list"),
        (("--nodes", str(MAX_NODES + 1)), f"--nodes must be 1..{MAX_NODES}"),
        (("--nodes", "2"), "not for 2 nodes: fault[3].kind: no link"),
        (("--results-dir", "full"), "--results-dir full is not empty"),
        (("--disk-mb", "3"), "--disk-mb: disk_mb (--disk-mb) must be 4..65536 MiB"),
    ],
)
def test_bad_options_exit_2_with_one_line_and_no_cluster(tmp_path, args, message):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.json").write_text("{}")
    run = run_locust(tmp_path, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ours = [line for line in run.stderr.splitlines() if line.startswith("peerload:")]
    assert run.returncode == 2, run.stdout + run.stderr
    assert len(ours) == 1 and message in ours[0], run.stderr
    assert "cluster" not in run.stdout and "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]  # nothing written


@pytest.mark.integration
def test_a_baseline_of_another_setup_exits_2_before_the_cluster_starts(tmp_path):
    other = baseline_folder(tmp_path / "tiny", network="tinyp2p", nodes=3)
    run = run_locust(tmp_path, "--baseline", str(other), stderr=subprocess.PIPE)
    ours = [line for line in run.stderr.splitlines() if line.startswith("peerload:")]
    assert run.returncode == 2, run.stdout + run.stderr
    assert ours == [
        f"peerload: error: --baseline {other}: another setup (baseline vs this run): network "
        "tinyp2p vs builtin, nodes 3 vs 5; --baseline-any-setup compares anyway"
    ], run.stderr
    assert "cluster" not in run.stdout and "Traceback" not in run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]  # nothing else written


@pytest.mark.integration
def test_a_taken_web_port_exits_2_before_the_cluster_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        run = subprocess.run(
            locust_cmd("--web-port", port), cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
    assert run.returncode == 2, run.stdout + run.stderr
    assert "--web-port: cannot listen" in run.stderr and "Traceback" not in run.stderr
    assert "starting an embedded" not in run.stdout


@pytest.mark.integration
@pytest.mark.load
def test_runs_keep_their_results_the_verdict_is_last_and_json_parses(tmp_path):
    results = tmp_path / "results"
    first = run_locust(tmp_path, *SHORT_RUN)  # stdout and stderr interleaved, as on a terminal
    # judged (too short to be READY): whatever the verdict, it is the last line
    assert first.returncode not in (2, None), first.stdout[-3000:]
    lines = first.stdout.rstrip("\n").splitlines()
    assert lines[-1].startswith("peerload: ") and "error" not in lines[-1], lines[-5:]
    assert lines[-2].startswith("peerload: report: results/"), lines[-5:]
    # Locust's final summary and percentiles only (one "Aggregated" row each): no tables every
    # 2 s between our dashboard lines
    assert first.stdout.count("Aggregated") == 2, first.stdout
    assert orphans(cluster_workdir(first.stdout)) == []

    second = run_locust(tmp_path, *SHORT_RUN, "--json", stderr=subprocess.PIPE)
    stats = json.loads(second.stdout)  # nothing of ours on stdout
    assert isinstance(stats, list) and {s["name"] for s in stats} >= {"search", "index"}
    assert second.stderr.rstrip("\n").splitlines()[-1].startswith("peerload: "), second.stderr

    folders = sorted(p for p in results.iterdir() if p.name != LATEST)
    assert len(folders) == 2, folders
    assert (results / LATEST).resolve() == folders[-1].resolve()
    for folder in folders:
        assert (folder / "PHASE4_FINAL_REPORT.md").is_file()
        assert (folder / "concurrency_results.json").is_file()


@pytest.mark.integration
@pytest.mark.load
def test_web_ui_serves_only_its_own_report_shows_the_verdict_and_writes_nothing_unused(tmp_path):
    stale = tmp_path / "results" / "2020-01-01T00-00-00"
    stale.mkdir(parents=True)
    (stale / "report.html").write_text("an older process's report")
    (tmp_path / "results" / LATEST).symlink_to(stale.name)
    before = sorted(p.name for p in (tmp_path / "results").iterdir())

    with web_ui(None, cwd=tmp_path) as ui:  # a session that never runs load
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"{ui}/peerload/report", timeout=10)
        assert answer.value.code == 404
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == before

    with web_ui(None, *SHORT_RUN, cwd=tmp_path) as ui:
        state = f"{ui}/peerload/cluster/state"
        assert post(f"{ui}/swarm", "user_count=5&spawn_rate=5&host=http%3A%2F%2F127.0.0.1")
        wait_until(
            lambda: json.loads(urllib.request.urlopen(state, timeout=10).read())["ended"],
            90,
            "the run never ended",
        )
        snapshot = json.loads(urllib.request.urlopen(state, timeout=10).read())
        assert snapshot["verdict"].startswith("Verdict of the finished run: ")
        assert snapshot["criteria_title"] == "Final criteria"
        assert snapshot["report"] and snapshot["criteria"]
        page = urllib.request.urlopen(f"{ui}/peerload/report", timeout=10).read().decode()
        assert "older process" not in page
        log = (tmp_path / "locust-webui.log").read_text()
        assert "peerload: run ended: " in log  # printed when the run ended, not at quit
    latest = (tmp_path / "results" / LATEST).resolve()
    assert latest != stale.resolve() and (latest / "report.html").is_file()
