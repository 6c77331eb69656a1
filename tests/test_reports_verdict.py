"""reports.verdict: one decision from every criterion row, and every output agrees with it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import reports
from reports.__main__ import main as cli_main
from reports.evidence import Evidence
from reports.regression import baseline_summary
from reports.resilience import single_node_failure
from reports.rows import (
    CORRECTNESS,
    COUNT,
    FAIL,
    HARNESS,
    INSUFFICIENT,
    PASS,
    REGRESSION,
    REPORTED,
    RESILIENCE,
    SERVICE,
    Check,
    Result,
)
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from reports.verdict import INCONCLUSIVE, NOT_READY, READY, REGRESSED, decide
from tests.fixtures import ADMIN_404, fail_steps, fault_win, spread

TH = Thresholds()
REPO = Path(__file__).resolve().parents[1]
SCALE = 0.4  # as in test_reports_render: every window well above min_samples


def row(name: str, family: str = SERVICE, verdict: str = PASS, window: str = "run") -> Result:
    """A criterion row: a count that must be 0 (1 when it failed)."""
    check = Check(name, "<=", 0, COUNT, 1, family=family)
    return check.result(window, float(verdict == FAIL), verdict, 1)


def test_correctness_failure_wins_over_a_harness_failure():
    results = [
        row("run_complete", HARNESS, FAIL),
        row("acked_writes", CORRECTNESS, FAIL, "after run"),
        row("success_rate", SERVICE, FAIL),
    ]
    verdict = decide(results, TH)
    assert (verdict.label, verdict.exit_code, verdict.ready) == (NOT_READY, 1, False)
    assert verdict.reason == "NOT READY: acked_writes 1 > 0 in window after run (n=1)"
    assert [r.name for r in verdict.failed] == ["acked_writes"]


def test_a_harness_failure_alone_makes_the_run_inconclusive():
    results = [row("acked_writes", CORRECTNESS), row("workers", HARNESS, FAIL)]
    results += [row("success_rate", SERVICE, FAIL), row("regression_p95", REGRESSION, FAIL)]
    verdict = decide(results, TH)
    assert (verdict.label, verdict.exit_code, verdict.ready) == (INCONCLUSIVE, 4, False)
    assert verdict.reason == "INCONCLUSIVE: workers 1 > 0 in window run (n=1)"


def test_missing_harness_evidence_is_inconclusive_even_when_insufficient_does_not_gate():
    results = [row("monitor_gaps", HARNESS, INSUFFICIENT), row("success_rate")]
    assert decide(results, TH).label == INCONCLUSIVE
    assert decide(results, TH.merged({"insufficient_fails": False})).label == INCONCLUSIVE


def test_a_harness_row_only_reported_does_not_stop_a_verdict():
    results = [row("run_complete", HARNESS, REPORTED), row("success_rate")]
    assert decide(results, TH).label == READY


def test_a_regression_alone_is_its_own_verdict():
    results = [row("success_rate"), row("regression_capacity", REGRESSION, FAIL, "stress")]
    verdict = decide(results, TH)
    assert (verdict.label, verdict.exit_code, verdict.ready) == (REGRESSED, 3, False)
    assert verdict.reason.startswith("REGRESSION: regression_capacity")


def test_a_failure_elsewhere_is_not_ready_before_any_regression():
    results = [row("regression_p95", REGRESSION, FAIL), row("mean_response", SERVICE, FAIL)]
    verdict = decide(results, TH)
    assert verdict.label == NOT_READY and [r.name for r in verdict.failed] == ["mean_response"]


def test_regression_rows_without_evidence_do_not_gate():
    results = [row("success_rate"), row("regression_capacity", REGRESSION, INSUFFICIENT)]
    assert decide(results, TH).label == READY


def test_ready_counts_gated_checks_and_notes_reported_rows():
    results = [row("success_rate"), row("workers", HARNESS), row("p95_response", SERVICE, REPORTED)]
    verdict = decide(results, TH)
    assert (verdict.label, verdict.exit_code, verdict.ready) == (READY, 0, True)
    assert verdict.reason == "READY: all 2 gated checks passed (1 reported only)"
    assert verdict.to_dict() == {
        "ready": True,
        "label": READY,
        "exit_code": 0,
        "reason": verdict.reason,
        "failed": [],
        "counts": {PASS: 2, REPORTED: 1},
    }


def test_the_reason_names_a_failure_before_missing_evidence_and_causes_before_consequences():
    results = [
        row("success_rate", SERVICE, INSUFFICIENT),
        row("availability", SERVICE, FAIL),
        row("recovery", RESILIENCE, FAIL, "fault:crash:n2"),
    ]
    verdict = decide(results, TH)
    assert verdict.reason.startswith("NOT READY: recovery 1 > 0 in window fault:crash:n2")
    assert verdict.reason.endswith("(+2 more)") and len(verdict.failed) == 3


def test_verdict_reason_names_criterion_window_and_count():
    fault = fault_win("n2", 0, 10, fault_id="crash-each")
    ev = Evidence(windows=[fault], samples=spread(0, 10, 60, 40))
    verdict = decide(single_node_failure(ev, TH), TH)
    assert verdict.reason == (
        "NOT READY: single_node_failure 60.0% < 85% in window fault:crash-each:n2 (n=100)"
    )


# -- every output says the same ----------------------------------------------------------------


def lose_writes(run: dict) -> None:
    run["integrity"].update(lost=2, examples=["idx-synthetic-1.bin", "idx-synthetic-7.bin"])


def interrupt(run: dict) -> None:
    run["status"]["interrupted"] = "SIGTERM"


def compare_with_a_faster_baseline(run: dict) -> None:
    summary = baseline_summary(Evidence.from_run(run), TH)
    for level in summary["levels"].values():
        level["ops_per_s"] *= 2
    run["baseline"] = {"source": "faster", **summary}


def healthy(run: dict) -> None:
    """The synthetic run as it is."""


def partition_not_applied(run: dict) -> None:
    """The partition of n3 failed at every step, and the nodes never noticed it."""
    fail_steps(run, "isolate", "n3")
    for entry in run["fault_results"]:
        if entry["fault_id"] == "isolate":
            entry.update(detected_s=None, recovered_s=None, recovered=False)


OUTCOMES = [
    (healthy, READY),
    (lose_writes, NOT_READY),
    (interrupt, INCONCLUSIVE),
    (compare_with_a_faster_baseline, REGRESSED),
    (partition_not_applied, INCONCLUSIVE),
]


def built(out: Path, change) -> reports.Verdict:
    run = synthetic_run(seed=3, scale=SCALE)
    change(run)
    return reports.build(out, run)


def says_ready(out: Path) -> list[str]:
    """The written files that say READY other than as part of NOT READY."""
    return [
        p.name for p in sorted(out.iterdir()) if "READY" in p.read_text().replace("NOT READY", "")
    ]


@pytest.mark.parametrize(("change", "label"), OUTCOMES, ids=[o[0].__name__ for o in OUTCOMES])
def test_every_output_says_the_verdict(tmp_path, capsys, change, label):
    verdict = built(tmp_path, change)
    assert verdict.label == label, verdict.reason
    assert cli_main([str(tmp_path)]) == verdict.exit_code  # python -m reports, re-judging
    assert capsys.readouterr().out.strip() == verdict.reason
    says = set(says_ready(tmp_path))
    assert says >= {"PHASE4_FINAL_REPORT.md", "report.html"} if label == READY else not says


def test_python_m_reports_exits_3_on_a_regression(tmp_path):
    verdict = built(tmp_path, compare_with_a_faster_baseline)
    done = subprocess.run(
        [sys.executable, "-m", "reports", str(tmp_path)], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == verdict.exit_code == 3
    assert done.stdout.strip().startswith("REGRESSION: regression_throughput")


def test_a_run_that_lost_acked_writes_is_called_ready_nowhere(tmp_path):
    verdict = built(tmp_path, lose_writes)
    assert verdict.reason.startswith("NOT READY: acked_writes 2 > 0 in window after run")
    assert len(list(tmp_path.iterdir())) == 5  # md, html, two JSON results, samples
    assert says_ready(tmp_path) == []


# -- a fault that did not happen ---------------------------------------------------------------


def test_a_fault_that_did_not_happen_makes_the_run_inconclusive_naming_the_step(tmp_path):
    verdict = built(tmp_path, partition_not_applied)
    assert verdict.label == INCONCLUSIVE and verdict.exit_code == 4
    assert verdict.reason == (
        f"INCONCLUSIVE: faults_applied: 2 of 6 steps failed: isolate:n3 start, end: {ADMIN_404} "
        "in window run (n=6)"
    )
    assert [r.name for r in verdict.failed] == ["faults_applied"]
    report = (tmp_path / "PHASE4_FINAL_REPORT.md").read_text()
    blocking = report.split("Blocking findings:", 1)[1].split("\n\n", 1)[0]
    assert f"isolate:n3 start, end: {ADMIN_404}" in blocking
    assert "Top recommendation: **Faults were not applied" in report
    assert f"Evidence: 2 of 6 steps failed: isolate:n3 start, end: {ADMIN_404}" in report


def test_a_fault_that_did_not_happen_leaves_a_correctness_failure_not_ready(tmp_path):
    def both(run: dict) -> None:
        partition_not_applied(run)
        lose_writes(run)

    verdict = built(tmp_path, both)
    assert verdict.label == NOT_READY
    assert verdict.reason.startswith("NOT READY: acked_writes 2 > 0 in window after run")
    not_applied = [r for r in verdict.results if r.name == "faults_applied"]
    assert [r.verdict for r in not_applied] == [FAIL]  # still in the table, not the decision
