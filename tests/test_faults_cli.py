"""``python -m faults.schedule`` (``faults/cli.py``) as a user runs it: exit codes, one-line
errors, Ctrl-C heals."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults import read_journal
from faults.cli import main
from faults.testing import FakeCluster
from tests.fixtures import LONG_PARTITION

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "faults" / "plans"
CLI_TIMEOUT_S = 30
SHORT = """
version = 1
seed = 5
backend = "auto"
[[fault]]
id = "crash"
kind = "crash"
target = "one"
at = "0s"
duration = "50ms"
"""


def cli(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faults.schedule", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        **kw,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    assert_one_line(done.stderr, *needles)


def assert_one_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for needle in needles:
        assert needle in lines[0]


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """main() in this process (fast) for the many error cases; one subprocess case covers -m."""
    code = main(list(args))
    return code, capsys.readouterr().err


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[FakeCluster, Path]]:
    with FakeCluster(3) as fc:
        path = tmp_path / "cluster.json"
        path.write_text(json.dumps(fc.descriptor))
        yield fc, path


def write(tmp_path: Path, text: str, name: str = "plan.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_bad_plan_exits_2_with_the_field(tmp_path: Path) -> None:
    plan = write(tmp_path, SHORT.replace('duration = "50ms"', 'duration = "-3s"'))
    done = cli(plan, "--dry-run")
    assert_one_line_error(done, 'fault[0].duration: negative duration "-3s"')


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        (('target = "one"', 'target = "n7"'), 'fault[0].target: unknown node "n7"'),
        (('target = "one"', 'target = "all"'), "a majority must stay up"),
        (('kind = "crash"', 'kind = "meteor"'), "fault[0].kind: unknown kind 'meteor'"),
        (('duration = "50ms"', 'duration = "soon"'), "fault[0].duration: unparseable duration"),
    ],
)
def test_bad_plans_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str], needle: str
) -> None:
    code, err = in_process(capsys, write(tmp_path, SHORT.replace(*change)), "--dry-run")
    assert code == 2
    assert_one_line(err, needle)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--backend", "tc"], "invalid choice: 'tc'"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--dry-run", "--nodes", "0"], "--nodes: 0 is not a node count"),
        ([], "--cluster DESCRIPTOR is required unless --dry-run"),
        (["--cluster", "/nonexistent/cluster.json"], "cannot read cluster descriptor"),
    ],
)
def test_bad_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    code, err = in_process(capsys, write(tmp_path, SHORT), *args)
    assert code == 2
    assert_one_line(err, needle)


def test_missing_plan_and_bad_descriptor_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = in_process(capsys, str(tmp_path / "nope.toml"), "--dry-run")
    assert code == 2
    assert_one_line(err, "cannot read plan")
    bad = tmp_path / "cluster.json"
    bad.write_text('{"control": "http://127.0.0.1:1"}')
    code, err = in_process(capsys, write(tmp_path, SHORT), "--cluster", str(bad))
    assert code == 2
    assert_one_line(err, 'missing "token"')
    bad.write_text("{not json")
    code, err = in_process(capsys, write(tmp_path, SHORT), "--cluster", str(bad))
    assert code == 2
    assert_one_line(err, "cluster descriptor is not JSON")


def test_dry_run_prints_the_resolved_timeline() -> None:
    done = cli(str(PLANS / "phase4.toml"), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "seed 4, 3 nodes (n1, n2, n3)" in done.stdout
    assert done.stdout.count(" start ") == 6 and done.stdout.count(" end ") == 6


def test_dry_run_of_link_faults_loss_and_bandwidth() -> None:
    done = cli(str(ROOT / "tests" / "plans" / "links.toml"), "--dry-run", "--nodes", "5")
    assert done.returncode == 0, done.stderr
    assert "seed 11, 5 nodes (n1, n2, n3, n4, n5), backend auto, 12 steps" in done.stdout
    lines = done.stdout.splitlines()
    assert sum(" loss " in ln and "percent=30" in ln for ln in lines) == 10  # each node in turn
    capped = [ln.split() for ln in lines if " bandwidth " in ln]
    assert [(c[1], c[5]) for c in capped] == [("start", "kbit=512"), ("end", "kbit=512")]
    assert capped[0][4].count("+") == 1  # a minority of 5: two nodes at once


def test_dry_run_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(PLANS / "quick.toml"), "--dry-run", "--json", "--nodes", "n1,n2,n3,n4"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json["seed"] == 7 and len(as_json["steps"]) == 8 and len(as_json["nodes"]) == 4


def test_runs_a_plan_against_a_cluster(tmp_path: Path, cluster: tuple[FakeCluster, Path]) -> None:
    fc, descriptor = cluster
    journal = tmp_path / "faults.jsonl"
    done = cli(write(tmp_path, SHORT), "--cluster", str(descriptor), "--journal", str(journal))
    assert done.returncode == 0, done.stderr
    # which one depends on this machine (root + nft -> netns); either way it says why
    assert re.search(r"^backend (control|netns): auto picked it \(.+\)$", done.stdout, re.M)
    assert "run completed: 2 steps ok, 0 failed" in done.stdout
    assert len([ln for ln in done.stdout.splitlines() if ln.startswith("[")]) == 2
    assert [r["record"] for r in read_journal(journal)] == ["plan", "begin", "step"] * 1 + [
        "begin",
        "step",
        "run",
    ]
    assert fc.healthy()


def test_failed_step_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cluster: tuple[FakeCluster, Path]
) -> None:
    fc, descriptor = cluster
    fc.fail_paths.update(f"/nodes/n{i}/kill" for i in range(1, 4))
    plan = write(tmp_path, SHORT)
    before = signal.getsignal(signal.SIGINT)
    code = main([plan, "--cluster", str(descriptor), "--backend", "control"])
    assert signal.getsignal(signal.SIGINT) is before  # handlers restored after the run
    out, err = capsys.readouterr()
    assert code == 1 and "run failed" in out
    assert (out + err).count("injected failure") == 1  # on the step's line, nowhere else


def test_a_stale_descriptor_fails_at_once_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeCluster(3) as fc:
        stale = fc.descriptor  # the cluster it describes is gone once this block ends
    path = tmp_path / "cluster.json"
    path.write_text(json.dumps(stale))
    started = time.monotonic()
    code, err = in_process(capsys, str(PLANS / "quick.toml"), "--cluster", str(path))
    assert code == 2 and time.monotonic() - started < 5
    assert_one_line(err, str(path), "the cluster does not answer", "networks.cluster")


@pytest.mark.parametrize(
    ("sig", "code", "status"), [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 1, "aborted")]
)
def test_signal_mid_partition_heals_then_exits(
    tmp_path: Path, cluster: tuple[FakeCluster, Path], sig: int, code: int, status: str
) -> None:
    fc, descriptor = cluster
    journal = tmp_path / "faults.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "faults.schedule",
            write(tmp_path, LONG_PARTITION),
            "--cluster",
            str(descriptor),
            "--journal",
            str(journal),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + CLI_TIMEOUT_S
        while not fc.drop["n2"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fc.drop["n2"] == ["n1", "n3"], "the partition never started"
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert fc.healthy()
    records = read_journal(journal)
    assert records[-1] == records[-1] | {"record": "run", "status": status}
    assert records[-2]["detail"]["reason"] == f"final heal ({status})"


def test_faults_schedule_is_still_the_cli() -> None:
    from faults import schedule

    assert schedule.main is main
