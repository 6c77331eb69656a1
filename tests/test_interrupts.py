"""A run ended by a signal (SIGTERM from a CI timeout, Ctrl-C) mid-load, headless and in the
web UI: faults healed, nodes stopped, temp folders removed, the report written as INCONCLUSIVE
with the reason, exit 4, within a bound."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reports.results import COMPLETE, MARKDOWN
from tests.locust_run import (
    ROOT,
    cluster_workdir,
    free_port,
    locust_cmd,
    orphans,
    post,
    wait_until,
)

pytestmark = [pytest.mark.integration, pytest.mark.load]

#: From the signal to the process's exit, report written (measured: 1.0–1.8 s headless).
END_WITHIN_S = 10.0
RUNNING = "initial network verification passed"
CHECKING_AFTER = "final verification and integrity: checking the network after the run"
#: Long enough to be mid-run when the signal lands: levels, then the fault stage.
RUN_ARGS = ("--levels", "5,10", "--step-time", "5", "--stress-levels", "")


def start(log: Path, *args: str) -> subprocess.Popen:
    out = log.open("w")
    try:
        return subprocess.Popen(
            locust_cmd(*args), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, text=True
        )
    finally:
        out.close()  # the child has its own copy


def interrupt(
    proc: subprocess.Popen, log: Path, sig: int, when: str = RUNNING, after_s: float = 3.0
) -> tuple[int, float, str]:
    """Wait until the log says ``when`` (the load runs), send ``sig`` ``after_s`` later; the exit
    code, the seconds it took, the log."""
    try:
        wait_until(lambda: when in log.read_text(), 120, f"the log never said {when!r}")
        time.sleep(after_s)
        sent = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=60)
        return code, time.monotonic() - sent, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check_ended_inconclusive(results: Path, code: int, took: float, output: str, why: str):
    assert code == 4, output[-3000:]
    assert took < END_WITHIN_S, f"took {took:.1f} s"
    assert re.search(rf"INCONCLUSIVE: run_complete: interrupted \({re.escape(why)}", output)
    record = json.loads((results / COMPLETE).read_text())
    assert record["verdict"]["label"] == "INCONCLUSIVE"
    assert "**Verdict: INCONCLUSIVE**" in (results / MARKDOWN).read_text()
    workdir = cluster_workdir(output)
    assert workdir is not None and not workdir.exists()  # the embedded cluster's temp folder
    assert orphans(workdir) == []


@pytest.mark.parametrize(
    ("sig", "why"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C (SIGINT)")]
)
def test_a_headless_run_ended_by_a_signal_writes_its_report(tmp_path, sig, why):
    results, log = tmp_path / "results", tmp_path / "locust.log"
    proc = start(log, "--headless", "--only-summary", "--results-dir", str(results), *RUN_ARGS)
    code, took, output = interrupt(proc, log, sig)
    check_ended_inconclusive(results, code, took, output, why)


def test_a_sigterm_while_the_network_is_checked_after_the_run_still_writes_the_report(tmp_path):
    """The load is over and the end is checking the network when a CI timeout strikes: quitting
    then killed the end before the report (no report, "the run ended before it was judged")."""
    results, log = tmp_path / "results", tmp_path / "locust.log"
    args = ("--results-dir", str(results), "--fault-plan", "none", *RUN_ARGS)
    proc = start(log, "--headless", "--only-summary", *args)
    code, took, output = interrupt(proc, log, signal.SIGTERM, CHECKING_AFTER, after_s=0.0)
    check_ended_inconclusive(
        results, code, took, output, "SIGTERM while the network was checked after the run"
    )


def test_a_web_ui_run_ended_by_sigterm_writes_its_report(tmp_path):
    results, log = tmp_path / "results", tmp_path / "locust.log"
    port = free_port()
    proc = start(
        log, "--web-host", "127.0.0.1", "--web-port", str(port), "--results-dir", str(results),
        *RUN_ARGS,
    )  # fmt: skip
    ui = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: "cluster page" in log.read_text(), 60, "web UI never came up")
        wait_until(lambda: post(f"{ui}/swarm", "user_count=5&spawn_rate=5"), 30, "no swarm")
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    code, took, output = interrupt(proc, log, signal.SIGTERM)
    check_ended_inconclusive(results, code, took, output, "Ctrl-C or SIGTERM")
