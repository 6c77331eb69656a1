"""reports.criteria, reports.thresholds and reports.verdict on small synthetic sample sets."""

from __future__ import annotations

import json

import pytest

from reports.criteria import (
    availability,
    evaluate,
    p95_response,
    protocol_progress,
    recovery,
    simultaneous_ops,
    single_node_failure,
    stress_success,
    success_rate_levels,
    sustained_throughput,
)
from reports.evidence import Evidence
from reports.result import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.thresholds import Thresholds
from reports.verdict import decide, judge_all
from tests.fixtures import req, win

TH = Thresholds()


def spread(start, end, n_ok, n_fail=0, **kw):
    """n_ok successes then n_fail failures, evenly spread over [start, end)."""
    n = n_ok + n_fail
    step = (end - start) / max(n, 1)
    return [req(start + i * step, ok=i < n_ok, **kw) for i in range(n)]


def only(results, window=None):
    picked = [r for r in results if window is None or r.window == window]
    assert len(picked) == 1, picked
    return picked[0]


def test_window_without_samples_is_insufficient():
    ev = Evidence(windows=[win("level-5", "level", 0, 10)], samples=[])
    r = only(success_rate_levels(ev, TH))
    assert r.verdict == INSUFFICIENT and r.n == 0 and r.value is None
    assert "n=0 < 20" in r.detail


def test_too_few_samples_is_insufficient_even_when_all_succeed():
    ev = Evidence(windows=[win("level-5", "level", 0, 10)], samples=spread(0, 10, 19))
    assert only(success_rate_levels(ev, TH)).verdict == INSUFFICIENT
    assert only(success_rate_levels(ev, TH.merged({"min_samples": 19}))).verdict == PASS


def test_all_failures_fail():
    ev = Evidence(windows=[win("level-5", "level", 0, 10)], samples=spread(0, 10, 0, 40))
    r = only(success_rate_levels(ev, TH))
    assert r.verdict == FAIL and r.value == 0.0 and r.n == 40
    assert "timeout ×40" in r.detail


def test_success_exactly_at_85_fails_because_the_spec_says_strictly_above():
    ev = Evidence(windows=[win("level-5", "level", 0, 10)], samples=spread(0, 10, 17, 3))
    r = only(success_rate_levels(ev, TH))
    assert r.value == 85.0 and r.verdict == FAIL
    assert r.describe() == "success_rate 85.0% = 85% (needs > 85%) in window level-5 (n=20)"


def test_stress_exactly_at_70_passes_because_the_spec_says_at_least():
    ev = Evidence(windows=[win("stress-30", "stress", 0, 10)], samples=spread(0, 10, 14, 6))
    r = only(stress_success(ev, TH))
    assert r.value == 70.0 and r.verdict == PASS and r.goal == ">= 70%"


def test_stress_is_judged_on_the_first_stress_window_not_the_breaking_one():
    windows = [win("stress-30", "stress", 0, 10), win("stress-40", "stress", 10, 20, users=40)]
    samples = spread(0, 10, 20) + spread(10, 20, 10, 10)  # 100 %, then 50 %: the ramp broke
    r = only(stress_success(Evidence(windows=windows, samples=samples), TH))
    assert r.window == "stress-30" and r.value == 100.0 and r.verdict == PASS
    assert "40 users" in r.detail


def test_one_fault_window_inside_another_is_judged_on_its_own_samples():
    outer = win("fault:crash:n1", "fault", 0, 60, fault_id="crash", fault_kind="crash", target="n1")
    inner = win(
        "fault:pause:n2", "fault", 20, 30, fault_id="pause", fault_kind="pause", target="n2"
    )
    samples = spread(0, 20, 40) + spread(20, 30, 10, 20) + spread(30, 60, 100)
    ev = Evidence(windows=[outer, inner], samples=samples)
    results = single_node_failure(ev, TH)
    r_outer, r_inner = only(results, "fault:crash:n1"), only(results, "fault:pause:n2")
    assert (r_outer.n, r_inner.n) == (170, 30)  # the inner requests count in both
    assert r_outer.verdict == PASS and r_outer.value == pytest.approx(150 / 170 * 100)
    assert r_inner.verdict == FAIL and "overlaps fault:crash:n1" in r_inner.detail


def test_recovery_of_a_nested_fault_waits_for_the_enclosing_one():
    outer = win("fault:crash:n1", "fault", 0, 60, fault_id="crash", fault_kind="crash", target="n1")
    inner = win(
        "fault:pause:n2", "fault", 20, 30, fault_id="pause", fault_kind="pause", target="n2"
    )
    series = [{"t": t, "nodes_alive": 2 if t < 63 else 3, "nodes_total": 3} for t in range(70)]
    results = recovery(Evidence(windows=[outer, inner], series=series), TH)
    r_inner = only(results, "fault:pause:n2")
    assert r_inner.verdict == PASS and r_inner.value == 3
    assert "after fault:crash:n1 ended" in r_inner.detail
    assert only(results, "fault:crash:n1").value == 3


def test_recovery_never_reached_fails_and_slow_recovery_fails_when_gated():
    fault = win("fault:crash:n2", "fault", 0, 10, fault_id="crash", fault_kind="crash", target="n2")
    down = [{"t": t, "nodes_alive": 2, "nodes_total": 3} for t in range(30)]
    r = only(recovery(Evidence(windows=[fault], series=down), TH))
    assert r.verdict == FAIL and r.goal == "N/N alive"
    assert r.describe().startswith("recovery never back to N/N in window fault:crash:n2")
    back = [{"t": t, "nodes_alive": 2 if t < 25 else 3, "nodes_total": 3} for t in range(30)]
    assert only(recovery(Evidence(windows=[fault], series=back), TH)).verdict == PASS
    gated = TH.merged({"recovery_s": 10})
    assert only(recovery(Evidence(windows=[fault], series=back), gated)).verdict == FAIL


def test_recovery_without_evidence_is_insufficient():
    fault = win("fault:crash:n2", "fault", 0, 10, fault_id="crash", fault_kind="crash", target="n2")
    assert only(recovery(Evidence(windows=[fault]), TH)).verdict == INSUFFICIENT


def test_no_single_node_faults_is_insufficient_not_pass():
    r = only(single_node_failure(Evidence(windows=[win("level-5", "level", 0, 10)]), TH))
    assert r.verdict == INSUFFICIENT and r.window == "faults"


def test_protocol_progress_needs_both_protocols():
    windows = [
        win("level-5", "level", 0, 10),
        win("level-10", "faults", 10, 20),  # the Locust shape's fault stage is checked too
        win("x", "level", 20, 30),
    ]
    samples = spread(0, 10, 30) + spread(0, 10, 5, proto="grpc", op="download")
    samples += spread(10, 20, 30)  # no gRPC at all in level-10; "x" has no traffic
    results = protocol_progress(Evidence(windows=windows, samples=samples), TH)
    assert only(results, "level-5").verdict == PASS
    assert (
        only(results, "level-10").verdict == FAIL
        and "gRPC ok 0" in only(results, "level-10").detail
    )
    assert not [r for r in results if r.window == "x"]


def test_p95_is_reported_unless_gated():
    ev = Evidence(windows=[win("level-5", "level", 0, 10)], samples=spread(0, 10, 40, lat=500.0))
    assert only(p95_response(ev, TH)).verdict == REPORTED
    assert only(p95_response(ev, TH.merged({"p95_ms": 400}))).verdict == FAIL


def test_throughput_concurrency_and_availability():
    windows = [win("level-5", "level", 0, 10), win("stress-30", "stress", 10, 20)]
    samples = spread(0, 10, 150, lat=1950.0) + spread(10, 20, 0, 50)
    ev = Evidence(windows=windows, samples=samples)
    assert only(sustained_throughput(ev, TH)).value == 15.0
    inflight = only(simultaneous_ops(ev, TH.merged({"concurrency_basis": "inflight"})))
    assert inflight.value == 30  # 15 starts/s, each 1.95 s long
    assert only(availability(ev, TH)).value == 100.0  # stress excluded
    users = only(simultaneous_ops(ev, TH))  # default basis: the user level that held
    assert users.value == 5 and users.verdict == FAIL and "peak in flight: 30" in users.detail


def test_thresholds_from_dict_toml_and_json(tmp_path):
    assert Thresholds.from_dict({"success_pct": "90"}).success_pct == 90.0
    assert Thresholds.from_dict({"thresholds": {"p95_ms": 800}}).p95_ms == 800.0
    toml = tmp_path / "t.toml"
    toml.write_text("[thresholds]\nstress_pct = 60\ninsufficient_fails = false\n")
    loaded = Thresholds.load(toml)
    assert loaded.stress_pct == 60.0 and loaded.insufficient_fails is False
    js = tmp_path / "t.json"
    js.write_text(json.dumps({"min_samples": 5}))
    assert Thresholds.load(js).min_samples == 5
    with pytest.raises(ValueError, match="unknown threshold"):
        Thresholds.from_dict({"sucess_pct": 90})
    with pytest.raises(ValueError, match="concurrency_basis"):
        Thresholds.from_dict({"concurrency_basis": "threads"})


def test_verdict_reason_names_criterion_window_and_count():
    fault = win(
        "fault:crash-each:n2",
        "fault",
        0,
        10,
        fault_id="crash-each",
        fault_kind="crash",
        target="n2",
    )
    ev = Evidence(windows=[fault], samples=spread(0, 10, 60, 40))
    verdict = decide(single_node_failure(ev, TH), TH)
    assert not verdict.ready and verdict.exit_code == 1
    assert verdict.reason == (
        "NOT READY: single_node_failure 60.0% < 85% in window fault:crash-each:n2 (n=100)"
    )


def test_insufficient_blocks_ready_unless_configured_otherwise():
    ev = Evidence(windows=[win("level-5", "level", 0, 10)])
    results = success_rate_levels(ev, TH)
    assert not decide(results, TH).ready
    lenient = TH.merged({"insufficient_fails": False})
    verdict = decide(results, lenient)
    assert verdict.ready and "1 insufficient, not gating" in verdict.reason


def test_empty_run_is_not_ready():
    verdict = judge_all(Evidence())
    assert not verdict.ready and verdict.reason.startswith("NOT READY:")
    assert {r.verdict for r in evaluate(Evidence(), TH)} == {INSUFFICIENT}
