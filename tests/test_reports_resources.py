"""reports.resources: each node's idle CPU, CPU per operation, memory and FD growth, judged from
monitor rows and the samples the node served (no process started)."""

from __future__ import annotations

import random

import reports
from reports.evidence import Evidence
from reports.resources import fd_growth, idle_cpu_rows, memory_growth, regression_rows, summary
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from tests.fixtures import req, win

TH = Thresholds()
IDLE_S, LEVEL_S, LEVELS = 6, 30, 4  # an idle window, then four 30 s levels
END = IDLE_S + LEVEL_S * LEVELS
OPS_PER_S = 10  # served by n1


def windows() -> list[dict]:
    out = [win("idle", "idle", 0, IDLE_S, users=0)]
    for i in range(LEVELS):
        start = IDLE_S + i * LEVEL_S
        out.append(win(f"level-{5 * (i + 1)}", "level", start, start + LEVEL_S))
    return out


def rows(memory, fds=lambda t: 40, idle_cpu: float = 1.0) -> list[dict]:
    """A monitor row every 2 s for n1: ``memory(t)`` MB of USS, ``fds(t)`` descriptors."""
    out = []
    for t in range(2, END + 1, 2):
        cpu = idle_cpu if t <= IDLE_S else 30.0
        out.append(
            {
                "t": float(t),
                "users": 0 if t <= IDLE_S else 5,
                "nodes_alive": 1,
                "nodes_total": 1,
                "cpu": {"n1": cpu},
                "rss_mb": {"n1": 60.0},
                "uss_mb": {"n1": round(memory(t), 2)},
                "fds": {"n1": fds(t)},
                "threads": {"n1": 12},
            }
        )
    return out


def evidence(memory, **more) -> Evidence:
    samples = [req(IDLE_S + i / OPS_PER_S) for i in range((END - IDLE_S) * OPS_PER_S)]
    return Evidence(samples=samples, windows=windows(), series=rows(memory, **more))


def only_row(results):
    (row,) = results
    return row


def test_a_node_that_leaks_with_every_request_fails_memory_growth():
    ev = evidence(lambda t: 30 + 0.5 * t)  # 0.5 MB/s at 10 ops/s: 50 MB per 1,000 ops
    row = only_row(memory_growth(ev, TH))
    assert row.verdict == FAIL and row.window == "after warm-up · n1"
    assert 45 < row.value < 55, row.value
    assert "+30.00 MB/min" in row.detail


def test_flat_memory_passes():
    row = only_row(memory_growth(evidence(lambda t: 30.0), TH))
    assert row.verdict == PASS and row.value == 0.0


def test_a_noisy_warm_up_then_a_plateau_passes():
    """Growth during the first level is warm-up; noise around a plateau is no trend."""
    rng = random.Random(3)

    def memory(t):
        warm = min(t, IDLE_S + LEVEL_S) * 1.5  # +54 MB by the end of the first level
        return 30 + warm + rng.uniform(-3, 3)

    row = only_row(memory_growth(evidence(memory), TH))
    assert row.verdict == PASS, row.detail
    assert abs(row.value) < TH.memory_kops_max_mb  # under both bounds, not only the absolute one


def test_slow_growth_under_the_absolute_minimum_passes():
    """10 MB over the run (a cache filling, a heap plateau moving up) is not a leak, however
    few operations it served: the minimum absolute growth guards short runs."""
    row = only_row(memory_growth(evidence(lambda t: 30 + t * 10 / END), TH))
    assert row.verdict == PASS and row.value > TH.memory_kops_max_mb, row.detail


def test_fd_leak_fails_and_steady_fds_pass():
    leaking = only_row(fd_growth(evidence(lambda t: 30.0, fds=lambda t: 40 + t), TH))
    assert leaking.verdict == FAIL and leaking.value > TH.fd_kops_max
    steady = only_row(fd_growth(evidence(lambda t: 30.0, fds=lambda t: 40 + t % 3), TH))
    assert steady.verdict == PASS


def test_idle_cpu_is_the_median_of_the_readings_without_users():
    busy = only_row(idle_cpu_rows(evidence(lambda t: 30.0, idle_cpu=35.0), TH))
    assert busy.verdict == FAIL and busy.value == 35.0 and busy.window == "idle · n1"
    calm = only_row(idle_cpu_rows(evidence(lambda t: 30.0), TH))
    assert calm.verdict == PASS and calm.value == 1.0


def test_no_idle_window_is_insufficient_and_unread_nodes_are_not_measurable():
    ev = evidence(lambda t: 30.0)
    ev.windows = [w for w in ev.windows if w["kind"] != "idle"]
    assert only_row(idle_cpu_rows(ev, TH)).verdict == INSUFFICIENT
    blind = evidence(lambda t: 30.0)
    for row in blind.series:  # nodes on another host: no process readings at all
        for key in ("cpu", "rss_mb", "uss_mb", "fds", "threads"):
            row[key] = {}
    for rows_ in (memory_growth(blind, TH), idle_cpu_rows(blind, TH)):
        row = only_row(rows_)
        assert row.verdict == REPORTED and "not measurable" in row.detail


def test_a_node_without_readings_is_insufficient_not_a_pass():
    ev = evidence(lambda t: 30.0)
    ev.nodes = [{"name": "n1"}, {"name": "n2"}]
    by_node = {r.window: r.verdict for r in memory_growth(ev, TH)}
    assert by_node == {"after warm-up · n1": PASS, "after warm-up · n2": INSUFFICIENT}


def test_cpu_per_thousand_operations_from_readings_and_served_samples():
    figures = summary(evidence(lambda t: 30.0))["n1"]
    # 30 % of a core is 0.3 CPU s per second, at 10 ops/s: 30 CPU s per 1,000 ops
    assert 28 < figures["cpu_s_per_kops"] < 31, figures


def test_regression_rows_compare_each_node_with_the_baseline():
    ev = evidence(lambda t: 30.0)
    ev.baseline = {"resources": {"n1": {"cpu_s_per_kops": 10.0, "memory_mb": 30.0}}}
    rows_ = {r.name: r for r in regression_rows(ev, TH, "")}
    assert rows_["regression_cpu"].verdict == FAIL  # 30 against 10: three times the CPU
    assert rows_["regression_memory"].verdict == PASS  # the same memory
    ev.baseline = {"resources": {"n1": {"cpu_s_per_kops": 29.0, "memory_mb": 15.0}}}
    rows_ = {r.name: r for r in regression_rows(ev, TH, "")}
    assert rows_["regression_cpu"].verdict == PASS
    assert rows_["regression_memory"].verdict == FAIL and rows_["regression_memory"].value == 30.0


def test_the_synthetic_run_carries_every_resource_figure_and_stays_ready():
    verdict = reports.judge(synthetic_run())
    assert verdict.ready, verdict.reason
    names = {r.name for r in verdict.results}
    assert {"idle_cpu", "memory_growth", "fd_growth", "scalability"} <= names


def test_descriptors_a_node_keeps_for_its_members_are_no_leak_in_a_large_network():
    """A node may keep a connection each way to every member: at 100 nodes ~100 descriptors
    more after the warm-up is the network, not a leak; at 3 nodes the same growth fails."""

    def judged(nodes: int) -> str:
        ev = evidence(lambda t: 30.0, fds=lambda t: 40 + t)  # about 100 more after warm-up
        ev = Evidence(
            samples=ev.samples,
            windows=ev.windows,
            series=ev.series,
            nodes=[{"name": f"n{i}"} for i in range(1, nodes + 1)],
        )
        return next(r for r in fd_growth(ev, TH) if r.window.endswith(" · n1")).verdict

    assert judged(100) == PASS
    assert judged(3) == FAIL
