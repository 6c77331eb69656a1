"""reports.samples and reports.series: the numbers every criterion is built on."""

from __future__ import annotations

import pytest

from reports.evidence import Evidence
from reports.samples import (
    between,
    errors_text,
    inflight_profile,
    max_concurrency,
    percentile,
    requests,
    select,
    success_rate,
    summarize,
    throughput,
)
from reports.series import effective_end, fault_timing
from tests.fixtures import req, spread


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 95) == 95.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert percentile([10.0, 20.0], 50) == 10.0  # an observed value, never interpolated
    assert percentile([], 95) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_between_is_half_open():
    samples = [req(0.0), req(9.999), req(10.0)]
    assert [s["t"] for s in between(samples, 0.0, 10.0)] == [0.0, 9.999]


def test_select_success_and_throughput():
    samples = [req(0), req(1, ok=False), req(2, proto="grpc", op="download"), req(3)]
    assert len(select(samples, proto="grpc")) == 1
    assert len(select(samples, op=("search", "download"), ok=True)) == 3
    assert success_rate(samples) == 75.0
    assert success_rate([]) is None
    assert throughput(samples, 3.0) == 1.0  # successful ops only
    assert throughput(samples, 4.0, ok_only=False) == 1.0
    assert throughput(samples, 0.0) == 0.0


def test_derived_ops_are_not_requests():
    samples = [req(0, op="download", proto="grpc"), req(0, op="download_ttfb", proto="grpc")]
    assert [s["op"] for s in requests(samples)] == ["download"]


def test_max_concurrency_counts_overlap_not_back_to_back():
    back_to_back = [req(0.0, lat=1000), req(1.0, lat=1000), req(2.0, lat=1000)]
    assert max_concurrency(back_to_back) == 1
    overlapping = [req(0.0, lat=1000), req(0.5, lat=1000), req(0.9, lat=200), req(1.5, lat=100)]
    assert max_concurrency(overlapping) == 3
    assert max_concurrency(overlapping + [req(0.6, ok=False, lat=1000)], ok_only=True) == 3
    assert max_concurrency([]) == 0


def test_inflight_profile_peak_and_sustained():
    steady = [req(float(t), lat=1000) for t in range(10) for _ in range(4)]  # 4 all along
    spike = [req(2.0, lat=500) for _ in range(6)]  # 10 at once, for half a second
    assert inflight_profile(steady + spike, 0.0, 10.0) == (10, 4)
    assert inflight_profile(steady, 0.0, 20.0) == (4, 4)  # busy for half the span: sustained
    assert inflight_profile(steady, 0.0, 21.0) == (4, 0)  # idle for more than half
    clipped = [req(-5.0, lat=10_000), req(4.0, lat=10_000)]  # counted inside [0, 10) only
    assert inflight_profile(clipped, 0.0, 10.0) == (2, 1)
    assert inflight_profile([], 0.0, 10.0) == (0, 0)


def test_errors_text_names_the_most_frequent_errors():
    failed = [req(0, ok=False), req(1, ok=False), req(2, ok=False, error="HTTP 502")]
    assert errors_text(failed + [req(3)]) == "errors: timeout ×2, HTTP 502 ×1"
    assert errors_text([req(0)]) == ""


def test_summarize_row():
    row = summarize([req(0, lat=100), req(1, lat=300, ok=False, proto="grpc")], 2.0)
    assert row["n"] == 2 and row["ok"] == 1 and row["errors"] == 1
    assert row["mean_ms"] == 200.0 and row["p95_ms"] == 300.0
    assert row["rest_ok"] == 1 and row["grpc_ok"] == 0


def window(name, start, end, kind="fault", **extra):
    return {
        "name": name,
        "kind": kind,
        "start": start,
        "end": end,
        "users": 5,
        "fault_id": extra.get("fault_id"),
        "fault_kind": extra.get("fault_kind", "crash"),
        "target": extra.get("target"),
    }


def row(t, alive, total=3):
    return {"t": t, "nodes_alive": alive, "nodes_total": total}


def test_fault_timing_recovery_from_monitor_rows_but_never_detection():
    fault = window("fault:c:n2", 10, 20, fault_id="c", target="n2")
    rec = window("recovery:c:n2", 20, 30, kind="recovery", fault_id="c", target="n2")
    series = [row(t, 3) for t in range(0, 11)] + [row(t, 2) for t in range(11, 24)]
    series += [row(t, 3) for t in range(24, 31)]
    ft = fault_timing(Evidence(windows=[fault, rec], series=series), fault)
    assert ft.recovered_s == 4 and ft.recovered is True and ft.source == "monitor"
    # The monitor saw n2 stop answering; whether the survivors noticed, only they can say.
    assert ft.detected_s is None and ft.detection_measured is False


def test_fault_results_take_precedence_over_monitor():
    fault = window("fault:c:n2", 10, 20, fault_id="c", target="n2")
    entry = {"fault_id": "c", "target": "n2", "detected_s": 0.5, "recovered_s": None}
    ft = fault_timing(Evidence(windows=[fault], series=[row(25, 3)], fault_results=[entry]), fault)
    assert ft.recovered is False and ft.detected_s == 0.5 and ft.source == "fault_results"
    assert ft.detection_measured and not ft.service_measured and ft.service_s is None


def test_fault_timing_service_recovery_from_the_samples():
    level = window("level-25", -30, 0, kind="level")
    fault = window("fault:c:n2", 10, 20, fault_id="c", target="n2")
    samples = spread(-30, 0, 60) + spread(20, 22, 0, 8) + spread(22, 30, 32)
    entry = {"fault_id": "c", "target": "n2", "healed_by": "schedule"}
    ev = Evidence(windows=[level, fault], fault_results=[entry], samples=samples)
    ft = fault_timing(ev, fault)
    assert ft.service_s == 2.0 and ft.service_measured and not ft.detection_measured
    # A fault the run's end healed was cut short: what came after it is no recovery.
    entry["healed_by"] = "run end"
    ev = Evidence(windows=[level, fault], fault_results=[entry], samples=samples)
    ft = fault_timing(ev, fault)
    assert ft.service_s is None and not ft.service_measured


def test_effective_end_of_a_nested_fault():
    outer = window("fault:outer:n1", 0, 60)
    inner = window("fault:inner:n2", 20, 30)
    assert effective_end(inner, [outer, inner]) == (60, ("fault:outer:n1",))
    assert effective_end(outer, [outer, inner]) == (60, ())
