"""reports.stress: the ramp's breaking point, judged by the report on the complete samples."""

from __future__ import annotations

from reports.evidence import Evidence
from reports.stress import breaking_point, why_broke
from reports.thresholds import Thresholds
from tests.fixtures import spread, win

TH = Thresholds()


def test_a_step_breaks_on_success_or_on_p95_and_says_which():
    assert why_broke(spread(0, 10, 40), TH) == ""
    assert why_broke(spread(0, 10, 20, 20), TH) == "success 50.0% < 70%"
    assert why_broke(spread(0, 10, 40, lat=2500.0), TH) == "p95 2500 ms > 2000 ms"
    assert why_broke([], TH) == "no request completed"


def ramp(*steps: tuple[int, list[dict]], recorded: dict | None = None, series=()) -> Evidence:
    """Stress windows of 10 s each, in order, with their samples."""
    windows, samples = [], []
    for i, (users, reqs) in enumerate(steps):
        windows.append(win(f"stress-{users}", "stress", 10 * i, 10 * (i + 1), users=users))
        samples += [{**s, "t": s["t"] + 10 * i} for s in reqs]
    run = {"windows": windows, "samples": samples, "series": list(series)}
    run["concurrency"] = {"breaking_point": recorded or {}}
    return Evidence.from_run(run)


def test_the_first_step_that_broke_is_found_whatever_the_run_recorded():
    ev = ramp((40, spread(0, 10, 40)), (80, spread(0, 10, 10, 30)), recorded={"broke_at": None})
    assert breaking_point(ev, TH) == {
        "highest_held": 40,
        "broke_at": 80,
        "why": "success 25.0% < 70%",
    }


def test_a_break_while_the_generator_was_saturated_is_called_a_harness_limit():
    series = [{"t": 15.0, "generator_cpu": 97.0}]
    ev = ramp((40, spread(0, 10, 40)), (80, spread(0, 10, 0, 40)), series=series)
    assert breaking_point(ev, TH)["why"].endswith("(CPU 97%): a harness limit")


def test_a_ramp_that_never_broke_keeps_the_reason_it_ended():
    ended = {"broke_at": None, "why": "the ramp's cap was reached without a break"}
    ev = ramp((40, spread(0, 10, 40)), (80, spread(0, 10, 40)), recorded=ended)
    assert breaking_point(ev, TH) == {"highest_held": 80, "broke_at": None, "why": ended["why"]}
    # A break the ramp saw on partial samples, not in the complete ones: no reason to repeat.
    ev = ramp((40, spread(0, 10, 40)), recorded={"broke_at": 40, "why": "success 10% < 70%"})
    assert breaking_point(ev, TH) == {"highest_held": 40, "broke_at": None, "why": ""}
