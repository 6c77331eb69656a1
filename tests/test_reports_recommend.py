"""Recommendations come from the evidence, including what the load shape recorded."""

from __future__ import annotations

import json
from pathlib import Path

import reports
from locustfiles import record
from locustfiles.runstate import RunState
from networks.definition import load_network
from reports.evidence import Evidence
from reports.recommend import p95_rising_with_cpu, stress_breaking_point
from reports.synthetic import run_status
from reports.thresholds import Thresholds
from tests.fixtures import req, rows, spread, win

TINYP2P_TOML = Path(__file__).resolve().parents[1] / "examples" / "tinyp2p" / "network.toml"
NODE = {"name": "n1", "http": "http://127.0.0.1:1"}


def stress_run(breaking_point: dict | None, slow_ms: float = 5000.0) -> Evidence:
    """Two stress steps: 50 users at 100 ms, 100 users at ``slow_ms``."""
    windows = [
        win("stress-50", "stress", 0, 10, users=50),
        win("stress-100", "stress", 10, 20, users=100),
    ]
    samples = [req(t / 4) for t in range(40)] + [req(10 + t / 4, lat=slow_ms) for t in range(40)]
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


def test_the_break_is_judged_on_the_samples_not_taken_from_the_record():
    # Nothing recorded (or a ramp that judged a step on the samples it had then): the report
    # applies the same rule to the complete samples.
    (rec,) = stress_breaking_point(stress_run(None), [], Thresholds())
    assert rec.title == "Breaking point near 100 users"
    (rec,) = stress_breaking_point(stress_run({"broke_at": 100}, slow_ms=150.0), [], Thresholds())
    assert rec.title == "No breaking point found"


# -- latency growing with load: what the CPU readings support ----------------------------------

IMPLEMENTATION_NAMES = ("gevent", "SQLite", "gRPC", "py-spy")
TINYP2P = {"network": "tinyp2p", "hints": {}}  # a foreign network: no hints in its definition
BUILTIN = {"network": "builtin", "hints": load_network("builtin").hints}


def rising_run(*, nodes: float, machine: float | None, generator: float, status: dict) -> Evidence:
    """p95 50 ms at 5 users, 400 ms at 25; the monitor's CPU readings during the top level."""
    windows = [win("level-5", "level", 0, 10, users=5), win("level-25", "level", 10, 20, users=25)]
    samples = spread(0, 10, 40, lat=50.0) + spread(10, 20, 40, lat=400.0)
    cpu = {"cpu": {n: nodes for n in ("n1", "n2", "n3")}, "generator_cpu": generator}
    cpu |= {"generator_cpu_total": generator, "machine_cpu": machine}
    series = rows([10.5, 12.5, 14.5, 16.5, 18.5], **cpu)
    return Evidence.from_run(
        {"windows": windows, "samples": samples, "series": series, "status": status}
    )


def advice(ev: Evidence):
    (rec,) = p95_rising_with_cpu(ev, [], Thresholds())
    return rec


def test_a_foreign_network_never_gets_advice_about_parts_it_does_not_have():
    for nodes, machine, generator in ((10, 15, 10), (40, 50, 30), (95, 70, 30), (60, 95, 50)):
        rec = advice(rising_run(nodes=nodes, machine=machine, generator=generator, status=TINYP2P))
        text = f"{rec.title} {rec.action}"
        assert not [name for name in IMPLEMENTATION_NAMES if name in text], text
        assert "Where to look" not in text


def test_a_saturated_machine_is_said_and_never_called_idle():
    # The user's run: three nodes at ~55 % and Locust at 40 % of one core on 2 cores (~95 %).
    rec = advice(rising_run(nodes=55, machine=95, generator=40, status=BUILTIN))
    assert rec.title == "Latency grows with load, the machine saturated"
    assert "idle" not in rec.title.lower() and "partly the machine's" in rec.action
    assert "machine 95% of all cores" in rec.evidence and "load generator 40%" in rec.evidence
    assert "gevent" not in rec.action  # the machine, not the node's code, is the first suspect


def test_cpu_idle_only_when_machine_generator_and_nodes_were_all_low():
    assert advice(rising_run(nodes=10, machine=15, generator=10, status=TINYP2P)).title == (
        "Latency grows with load, CPU idle"
    )
    busy = advice(rising_run(nodes=40, machine=60, generator=30, status=TINYP2P))
    assert busy.title == "Latency grows with load, CPU not saturated"
    unmeasured = advice(rising_run(nodes=10, machine=None, generator=10, status=TINYP2P))
    assert unmeasured.title == "Latency grows with load"
    assert "not measured: the machine" in unmeasured.evidence


def test_our_networks_hints_appear_when_the_evidence_matches():
    waiting = advice(rising_run(nodes=10, machine=15, generator=10, status=BUILTIN))
    assert "Where to look in builtin: blocking calls in the gevent hub" in waiting.action
    assert "SQLite write locks" in waiting.action
    computing = advice(rising_run(nodes=95, machine=70, generator=30, status=BUILTIN))
    assert computing.title == "Latency grows with load: CPU-bound" and computing.severity == "high"
    assert "(n1, n2, n3)" in computing.action and "node/flood.py" in computing.action
    assert "gevent hub" not in computing.action  # the waiting hint is for the waiting symptom


def test_a_saturated_load_generator_is_named():
    rec = advice(rising_run(nodes=40, machine=70, generator=95, status=TINYP2P))
    assert rec.title == "Latency grows with load, the load generator saturated"
    assert "--processes" in rec.action


def test_the_run_record_carries_the_hints_and_a_re_render_gives_the_same_advice(tmp_path):
    def hints(descriptor: dict) -> dict:
        return record.status(RunState({"nodes": [NODE], **descriptor}))["hints"]

    assert hints({"network": "builtin"}) == dict(BUILTIN["hints"])
    assert hints({}) == {}  # nodes given by URL: their implementation is unknown
    assert hints({"network": str(TINYP2P_TOML)}) == {}
    ev = rising_run(nodes=10, machine=15, generator=10, status={})
    run = {
        "windows": ev.windows,
        "samples": ev.samples,
        "series": ev.series,
        "status": {**run_status(), **BUILTIN},
    }
    reports.build(tmp_path, run)
    saved = json.loads((tmp_path / "phase4_complete_results.json").read_text())
    assert saved["run"]["status"]["hints"] == dict(BUILTIN["hints"])
    (advice,) = [r for r in saved["recommendations"] if r["rule"] == "p95_rising_with_cpu"]
    assert "Where to look in builtin: blocking calls in the gevent hub" in advice["action"]
    reports.rerender(tmp_path)  # python -m reports DIR: from the JSON alone
    again = json.loads((tmp_path / "phase4_complete_results.json").read_text())
    assert again["recommendations"] == saved["recommendations"]


# -- a failed initial verification ------------------------------------------------------------

CONFORMANCE = ["joined: n2 does not see n1 alive", "ttl1: TTL 1 from n1: hits from n3 (2 hops)"]


def stopped_run(tmp_path: Path, **config) -> list[dict]:
    """A run whose initial verification failed: six requests, nothing else ran."""
    run = {
        "windows": [win("verify", "verify", 0, 1)],
        "samples": [req(t / 6) for t in range(6)],
        "config": config,
        "status": {**run_status(), **TINYP2P, "initial_problems": CONFORMANCE},
    }
    reports.build(tmp_path, run)
    return json.loads((tmp_path / "phase4_complete_results.json").read_text())["recommendations"]


def test_a_failed_verification_leads_with_what_failed_and_what_it_means(tmp_path):
    first, *rest = stopped_run(tmp_path)
    assert first["rule"] == "conformance_failed" and first["severity"] == "high"
    assert first["title"].endswith("the run stopped before any load")
    assert first["evidence"] == "; ".join(CONFORMANCE)
    assert "joined: nodes do not see each other" in first["action"]
    assert "ttl1: TTL 1 does not reach exactly the node's neighbours" in first["action"]
    assert "--keep-going" in first["action"]
    # the thin windows are the stop's doing: no advice to lengthen them or raise users
    assert all(r["rule"] != "insufficient_samples" for r in rest)
    report = (tmp_path / "PHASE4_FINAL_REPORT.md").read_text()
    assert "failed its conformance checks" in report and "Lengthen these windows" not in report


def test_with_keep_going_the_failure_still_leads_and_every_window_is_judged(tmp_path):
    first, *rest = stopped_run(tmp_path, keep_going=True)
    assert first["rule"] == "conformance_failed" and "--keep-going" in first["title"]
    assert "insufficient_samples" in {r["rule"] for r in rest}
