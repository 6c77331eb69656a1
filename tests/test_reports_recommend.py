"""Recommendations come from the evidence, including what the load shape recorded."""

from __future__ import annotations

from reports.evidence import Evidence
from reports.recommend import stress_breaking_point
from reports.thresholds import Thresholds
from tests.fixtures import req, win


def stress_run(breaking_point: dict | None) -> Evidence:
    windows = [
        win("stress-50", "stress", 0, 10, users=50),
        win("stress-100", "stress", 10, 20, users=100),
    ]
    samples = [req(t / 4) for t in range(40)] + [req(10 + t / 4, lat=5000.0) for t in range(40)]
    run = {"windows": windows, "samples": samples}
    if breaking_point is not None:
        run["concurrency"] = {"breaking_point": breaking_point}
    return Evidence.from_run(run)


def test_a_latency_breaking_point_recorded_by_the_shape_is_reported():
    (rec,) = stress_breaking_point(
        stress_run({"highest_held": 50, "broke_at": 100}), [], Thresholds()
    )
    assert rec.title == "Breaking point near 100 users"
    assert "p95 5000 ms" in rec.evidence and "highest level that held: 50" in rec.evidence


def test_without_a_recorded_break_and_full_success_no_breaking_point_is_found():
    (rec,) = stress_breaking_point(stress_run(None), [], Thresholds())
    assert rec.title == "No breaking point found"
