"""reports.criteria (service criteria, the registry) and reports.thresholds on small sample sets."""

from __future__ import annotations

import json

import pytest

from reports.criteria import (
    availability,
    evaluate,
    mean_response,
    op_success_rate,
    p95_response,
    protocol_progress,
    simultaneous_ops,
    stress_success,
    success_rate_levels,
    sustained_throughput,
)
from reports.evidence import Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.thresholds import Thresholds
from reports.verdict import INCONCLUSIVE, decide, judge_all
from tests.fixtures import only, req, spread, status, win

TH = Thresholds()
LEVEL = win("level-5", "level", 0, 10)


def level_ev(samples: list[dict], **run) -> Evidence:
    return Evidence(windows=[LEVEL], samples=samples, **run)


def row(results, op: str, window: str = "levels"):
    """The row of one operation in one window (``levels``: every level pooled)."""
    return only(results, f"{window} · {op}")


def test_window_without_samples_is_insufficient():
    r = only(success_rate_levels(level_ev([]), TH))
    assert r.verdict == INSUFFICIENT and r.n == 0 and r.value is None
    assert "n=0 < 20" in r.detail


def test_too_few_samples_is_insufficient_even_when_all_succeed():
    ev = level_ev(spread(0, 10, 19))
    assert only(success_rate_levels(ev, TH)).verdict == INSUFFICIENT
    assert only(success_rate_levels(ev, TH.merged({"min_samples": 19}))).verdict == PASS


def test_all_failures_fail():
    r = only(success_rate_levels(level_ev(spread(0, 10, 0, 40)), TH))
    assert r.verdict == FAIL and r.value == 0.0 and r.n == 40
    assert "timeout ×40" in r.detail


def test_success_exactly_at_85_fails_because_the_spec_says_strictly_above():
    r = only(success_rate_levels(level_ev(spread(0, 10, 17, 3)), TH))
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
    starved = only(results, "level-10")
    assert starved.verdict == FAIL and "gRPC ok 0" in starved.detail
    assert not [r for r in results if r.window == "x"]


# -- each operation on its own ---------------------------------------------------------------


def test_one_broken_operation_fails_although_the_level_as_a_whole_passes():
    samples = spread(0, 10, 200) + spread(0, 10, 10, 10, op="index")
    ev = level_ev(samples)
    assert only(success_rate_levels(ev, TH)).verdict == PASS  # 210 / 220 pooled
    results = op_success_rate(ev, TH)
    assert row(results, "search", "level-5").verdict == PASS
    broken = row(results, "index", "level-5")
    assert broken.verdict == FAIL and broken.value == 50.0 and broken.n == 20
    assert row(results, "index").verdict == FAIL and "timeout ×10" in row(results, "index").detail


def test_an_operation_too_thin_in_each_level_is_still_judged_over_the_levels_pooled():
    windows = [LEVEL, win("level-10", "level", 10, 20, users=10)]
    samples = spread(0, 10, 15, op="index") + spread(10, 20, 15, op="index")
    results = op_success_rate(Evidence(windows=windows, samples=samples), TH)
    assert not [r for r in results if r.window.startswith("level-") and "index" in r.window]
    pooled = row(results, "index")
    assert pooled.verdict == PASS and pooled.n == 30


def test_an_operation_that_never_ran_is_insufficient_unless_the_network_lacks_it():
    ev = level_ev(spread(0, 10, 40))
    missing = row(op_success_rate(ev, TH), "node_download")
    assert missing.verdict == INSUFFICIENT and missing.n == 0
    own = level_ev(spread(0, 10, 40), status=status(operations=["search"]))
    judged = {r.window for r in op_success_rate(own, TH) if r.verdict != REPORTED}
    assert judged == {"level-5 · search", "levels · search"}
    lacking = row(op_success_rate(own, TH), "node_download")
    assert lacking.verdict == REPORTED and "not measurable on this network" in lacking.detail


def test_mean_response_fails_the_slow_operation_only():
    samples = spread(0, 10, 40) + spread(0, 10, 40, op="download", proto="grpc", lat=1200.0)
    results = mean_response(level_ev(samples), TH)
    assert row(results, "search", "level-5").verdict == PASS
    slow = row(results, "download", "level-5")
    assert slow.verdict == FAIL and slow.value == 1200.0
    assert row(results, "download").verdict == FAIL


def test_mean_response_exactly_at_the_limit_fails_because_it_must_be_below():
    r = row(mean_response(level_ev(spread(0, 10, 40, lat=1000.0)), TH), "search")
    assert r.value == 1000.0 and r.verdict == FAIL and r.goal == "< 1000 ms"


def test_a_slow_level_fails_even_when_the_pooled_mean_passes():
    windows = [LEVEL, win("level-25", "level", 10, 20, users=25)]
    samples = spread(0, 10, 100, lat=200.0) + spread(10, 20, 25, lat=1500.0)
    results = mean_response(Evidence(windows=windows, samples=samples), TH)
    assert row(results, "search", "level-25").verdict == FAIL
    assert row(results, "search").verdict == PASS  # (100 * 200 + 25 * 1500) / 125 = 460 ms


def test_time_to_first_byte_is_judged_though_it_is_not_a_request():
    samples = spread(0, 10, 30, op="download_ttfb", proto="grpc", lat=1100.0)
    ev = level_ev(samples)
    assert ev.requests == []
    assert row(mean_response(ev, TH), "download_ttfb", "level-5").verdict == FAIL


def test_p95_is_reported_per_operation_unless_gated():
    samples = spread(0, 10, 40, lat=500.0) + spread(0, 10, 40, op="index", lat=50.0)
    ev = level_ev(samples)
    assert row(p95_response(ev, TH), "search").verdict == REPORTED
    gated = p95_response(ev, TH.merged({"p95_ms": 400}))
    assert row(gated, "search").verdict == FAIL and row(gated, "index").verdict == PASS


# -- simultaneous operations -----------------------------------------------------------------


def chains(users: int, start: float, end: float, lat_s: float = 1.0, **kw) -> list[dict]:
    """``users`` users each sending requests back to back (no think time) over [start, end)."""
    count = round((end - start) / lat_s)
    return [
        req(start + k * lat_s, lat=lat_s * 1000, **kw) for _ in range(users) for k in range(count)
    ]


BURST = win("level-25", "level", 0, 10, users=25, burst_start=5)


def concurrency(samples: list[dict], th: Thresholds = TH):
    return only(simultaneous_ops(Evidence(windows=[BURST], samples=samples), th))


def test_operations_in_flight_through_the_burst_pass():
    r = concurrency(chains(25, 5, 10))
    assert r.verdict == PASS and r.value == 25 and r.n == 125
    assert "basis: inflight" in r.detail and "sustained 25, peak 25" in r.detail


def test_a_peak_is_not_sustained_concurrency():
    spike = [req(7.0, lat=500.0) for _ in range(30)]
    r = concurrency(chains(10, 5, 10) + spike)
    assert r.verdict == FAIL and r.value == 10
    assert "sustained 10, peak 40" in r.detail


def test_load_before_the_burst_and_failed_requests_do_not_count():
    before = chains(40, 0, 5)  # think-time half of the level: not the burst
    failed = chains(10, 5, 10, ok=False)
    r = concurrency(before + chains(20, 5, 10) + failed)
    assert r.value == 20 and r.n == 150
    assert r.verdict == FAIL and r.describe().startswith("simultaneous_ops 20 = 20 (needs > 20)")


def test_a_thin_burst_is_insufficient():
    assert concurrency(chains(3, 5, 10)).verdict == INSUFFICIENT  # 15 requests


def test_the_best_level_is_judged():
    low = win("level-5", "level", 10, 20, burst_start=15)
    samples = chains(25, 5, 10) + chains(5, 15, 20)
    r = only(simultaneous_ops(Evidence(windows=[BURST, low], samples=samples), TH))
    assert r.window == "level-25" and r.verdict == PASS


def test_users_basis_takes_the_highest_level_that_met_the_success_threshold():
    top = win("level-25", "level", 10, 20, users=25)
    windows = [win("level-20", "level", 0, 10, users=20), top]
    samples = spread(0, 10, 40) + spread(10, 20, 20, 20)  # level-25 did not hold
    users = TH.merged({"concurrency_basis": "users"})
    r = only(simultaneous_ops(Evidence(windows=windows, samples=samples), users))
    assert r.value == 20 and r.window == "level-20" and r.verdict == FAIL
    assert r.detail == "basis: users"


def test_throughput_and_availability():
    windows = [LEVEL, win("stress-30", "stress", 10, 20)]
    samples = spread(0, 10, 150, lat=1950.0) + spread(10, 20, 0, 50)
    ev = Evidence(windows=windows, samples=samples)
    assert only(sustained_throughput(ev, TH)).value == 15.0
    assert only(simultaneous_ops(ev, TH)).value == 29  # 15 starts/s, each 1.95 s long
    assert only(availability(ev, TH)).value == 100.0  # stress excluded


# -- thresholds and the whole table ----------------------------------------------------------


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


def test_a_null_ungates_only_the_thresholds_documented_as_optional(tmp_path):
    js = tmp_path / "t.json"
    js.write_text(json.dumps({"detect_s": None, "recovery_s": None, "p95_ms": None}))
    loaded = Thresholds.load(js)
    assert (loaded.detect_s, loaded.recovery_s, loaded.p95_ms) == (None, None, None)
    with pytest.raises(ValueError, match="success_pct cannot be unset"):
        Thresholds.from_dict({"success_pct": None})


def test_defaults_judge_sustained_inflight_concurrency():
    assert TH.concurrency_basis == "inflight" and TH.concurrency == 20.0


def test_insufficient_blocks_ready_unless_configured_otherwise():
    results = success_rate_levels(level_ev([]), TH)
    assert not decide(results, TH).ready
    lenient = TH.merged({"insufficient_fails": False})
    verdict = decide(results, lenient)
    assert verdict.ready and "1 insufficient, not gating" in verdict.reason


def test_empty_run_proves_nothing():
    verdict = judge_all(Evidence())
    assert verdict.label == INCONCLUSIVE and verdict.reason.startswith("INCONCLUSIVE: run_complete")
    assert {r.verdict for r in evaluate(Evidence(), TH)} == {INSUFFICIENT, REPORTED}
