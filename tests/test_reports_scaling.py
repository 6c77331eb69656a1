"""reports.scaling: the Universal Scalability Law fitted to each operation's throughput against
its concurrency over the levels, on synthetic runs whose curve is known."""

from __future__ import annotations

import pytest

from reports.evidence import Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.scaling import curves, scalability, usl
from reports.thresholds import Thresholds
from tests.fixtures import req, win

TH = Thresholds()
LEVEL_S = 20.0
IN_FLIGHT = (1, 4, 8, 16, 25)


def run(throughput, levels=IN_FLIGHT, machine_cpu: float | None = None) -> Evidence:
    """Each level keeps N searches in flight back to back (N users without think time), each
    taking N / X(N) seconds: Little's law then gives exactly X(N) searches per second."""
    samples, windows, series = [], [], []
    for i, n in enumerate(levels):
        start = i * LEVEL_S
        windows.append(win(f"level-{n}", "level", start, start + LEVEL_S, users=n))
        latency = n / throughput(n)
        for user in range(n):
            t = start + user * latency / n  # staggered, so the level is in flight throughout
            while t + latency <= start + LEVEL_S:
                samples.append(req(t, lat=latency * 1000))
                t += latency
        if machine_cpu is not None:
            series.append({"t": start + LEVEL_S / 2, "machine_cpu": machine_cpu})
    return Evidence(samples=samples, windows=windows, series=series)


def search_row(ev: Evidence):
    (row,) = [r for r in scalability(ev, TH) if r.window == "levels · search"]
    return row


def fitted(ev: Evidence) -> dict:
    return curves(ev, TH.min_samples)["search"]["fit"]


def test_linear_scaling_has_no_contention_and_no_peak():
    ev = run(lambda n: 20.0 * n)
    model = fitted(ev)
    assert model["sigma"] == pytest.approx(0.0, abs=0.02)
    assert model["lambda"] == pytest.approx(20.0, rel=0.05)
    assert model["peak_n"] is None or model["peak_n"] > 100
    assert search_row(ev).verdict == PASS


def test_contention_is_measured_and_a_moderate_one_passes():
    ev = run(lambda n: usl(n, 20.0, 0.2, 0.0))
    assert fitted(ev)["sigma"] == pytest.approx(0.2, abs=0.03)
    assert search_row(ev).verdict == PASS


def test_a_serialised_node_fails():
    """One request at a time: throughput flat from 1 to 25 in flight (σ = 1)."""
    ev = run(lambda n: 50.0)
    model = fitted(ev)
    assert model["sigma"] > 0.9
    row = search_row(ev)
    assert row.verdict == FAIL and row.value > TH.usl_sigma_max


def test_retrograde_throughput_peaks_below_the_levels_and_fails():
    ev = run(lambda n: usl(n, 20.0, 0.05, 0.02))  # N* = sqrt(0.95 / 0.02) = 6.9
    model = fitted(ev)
    assert model["kappa"] == pytest.approx(0.02, rel=0.15)
    assert model["peak_n"] == pytest.approx(6.9, rel=0.1)
    row = search_row(ev)
    assert row.verdict == FAIL and "already falls within the levels tested" in row.detail


def test_fewer_than_three_levels_is_insufficient():
    row = search_row(run(lambda n: 20.0 * n, levels=(5, 25)))
    assert row.verdict == INSUFFICIENT and "the fit needs 3" in row.detail


def test_a_saturated_machine_is_reported_not_judged():
    row = search_row(run(lambda n: 50.0, machine_cpu=96.0))
    assert row.verdict == REPORTED and "the machine at up to 96%" in row.detail


def bursts(ev: Evidence, reading: float, inside_s: float) -> Evidence:
    """Each level's second half a burst; one 2 s machine reading per level with ``inside_s``
    of its interval in the burst, the rest before it (calm)."""
    windows = [{**w, "burst_start": (w["start"] + w["end"]) / 2} for w in ev.windows]
    series = []
    for w in windows:
        t = w["burst_start"] + inside_s
        series += [{"t": t - 2.0, "machine_cpu": 10.0}, {"t": t, "machine_cpu": reading}]
    return Evidence(samples=ev.samples, windows=windows, series=series)


def test_a_reading_that_straddles_a_burst_counts_for_the_burst_it_may_have_saturated():
    falling = run(lambda n: usl(n, 50.0, 0.05, 0.01))  # peaks at N* ~ 10, within the levels
    assert search_row(bursts(falling, 40.0, 2.0)).verdict == FAIL  # all inside: 40 % is calm
    # 1.5 s of the 2 s in the burst: 80 % read is up to ~107 % there: cannot be ruled out
    row = search_row(bursts(falling, 80.0, 1.5))
    assert row.verdict == REPORTED and "the machine at up to 100%" in row.detail, row.detail
    # 0.5 s of 2 s: too little of the reading is the burst's to say either way
    assert search_row(bursts(falling, 40.0, 0.5)).verdict == FAIL
