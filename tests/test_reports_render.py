"""reports.build, rerender and python -m reports: files, standalone HTML, identical re-render."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reports
from reports.__main__ import main as cli_main
from reports.recommend import recommend
from reports.results import (
    COMPLETE,
    CONCURRENCY,
    FAULT_TOLERANCE,
    HTML,
    MARKDOWN,
    PERFORMANCE,
    SAMPLES,
    read_samples,
)
from reports.synthetic import synthetic_run
from reports.web import add_report_routes

REPO = Path(__file__).resolve().parents[1]
SCALE = 0.4  # 0.4 of the synthetic timeline: every window still well above min_samples
REPORT_FILES = (COMPLETE, PERFORMANCE, SAMPLES, MARKDOWN, HTML)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> tuple[Path, reports.Verdict]:
    out = tmp_path_factory.mktemp("healthy")
    return out, reports.build(out, synthetic_run(scale=SCALE, seed=3))


@pytest.fixture(scope="module")
def broken(tmp_path_factory) -> tuple[Path, reports.Verdict]:
    out = tmp_path_factory.mktemp("broken")
    return out, reports.build(out, synthetic_run(scale=SCALE, seed=3, broken=True))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "reports", *args], cwd=REPO, capture_output=True, text=True
    )


def test_build_writes_every_file_and_a_ready_verdict(healthy):
    out, verdict = healthy
    assert verdict.ready, verdict.reason
    for name in REPORT_FILES:
        assert (out / name).is_file(), name
    complete = json.loads((out / COMPLETE).read_text())
    assert complete["verdict"]["ready"] is True and complete["run"]["seed"] == 3
    assert "samples" not in complete["run"] and complete["criteria"]
    perf = json.loads((out / PERFORMANCE).read_text())
    assert {"overall", "windows", "resources", "rtt_ms", "series"} <= set(perf)
    assert perf["windows"]["level-25"]["ops"]["search"]["p95_ms"] > 0
    assert len(read_samples(out / SAMPLES)) == len(synthetic_run(scale=SCALE, seed=3)["samples"])


def test_markdown_starts_with_the_executive_summary(healthy):
    text = (healthy[0] / MARKDOWN).read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "Executive summary" and "Readiness criteria" in headings
    assert "**Verdict: READY**" in text
    assert "| fault:crash-each:n2 | crash-each | crash | n2 |" in text


def test_broken_run_names_the_failed_criterion_and_window(broken):
    out, verdict = broken
    assert not verdict.ready and verdict.exit_code == 1
    assert verdict.reason.startswith("NOT READY: acked_writes ")  # n2 took its uploads along
    assert "in window after run" in verdict.reason and verdict.reason.endswith("(+1 more)")
    assert [r.name for r in verdict.failed] == ["acked_writes", "final_verification"]
    never = [r for r in verdict.results if r.name == "recovery" and r.verdict == "fail"]
    assert [r.window for r in never] == ["fault:crash-each:n2"]
    text = (out / MARKDOWN).read_text()
    assert verdict.reason in text and "**Verdict: NOT READY**" in text


def test_the_synthetic_run_is_deterministic():
    assert synthetic_run(scale=0.1, seed=3) == synthetic_run(scale=0.1, seed=3)
    assert synthetic_run(scale=0.1, seed=3) != synthetic_run(scale=0.1, seed=4)


def test_html_draws_fault_bands_and_is_self_contained(healthy):
    html = (healthy[0] / HTML).read_text()
    data = json.loads(re.search(r"const DATA = (\{.*?\});\n", html).group(1))
    labels = [b["label"] for b in data["bands"]]
    assert labels == ["crash-each:n1", "crash-each:n2", "isolate:n3"]
    assert all(b["end"] > b["start"] for b in data["bands"])
    assert "drawClear" in html and "fillRect" in html and "faultBands(DATA.bands)" in html
    assert "new uPlot(" in html and "var uPlot=" in html  # the library is inlined
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=", html)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert not re.search(r"@import|url\(\s*[\"']?https?:", html)
    assert html.count("</script>") == 2


def test_rerender_is_byte_identical(healthy, tmp_path):
    out, verdict = healthy
    before = {name: (out / name).read_bytes() for name in REPORT_FILES}
    again = reports.rerender(out)
    assert again.reason == verdict.reason
    after = {name: (out / name).read_bytes() for name in REPORT_FILES}
    assert after == before


def test_cli_rerenders_with_exit_code_and_threshold_file(broken, tmp_path):
    out, verdict = broken
    result = run_cli(str(out))
    assert result.returncode == 1 and result.stdout.strip() == verdict.reason
    lenient = tmp_path / "lenient.toml"
    lenient.write_text("[thresholds]\nsuccess_pct = 0\n")
    assert run_cli(str(out), "--thresholds", str(lenient)).returncode == 1  # writes still lost
    stored = json.loads((out / COMPLETE).read_text())
    assert stored["thresholds_resolved"]["success_pct"] == 0.0


@pytest.mark.parametrize("kind", ["missing", "empty", "garbage", "foreign", "no-samples"])
def test_cli_on_a_bad_dir_exits_2_without_traceback(tmp_path, capsys, kind):
    target = tmp_path / "results"
    if kind != "missing":
        target.mkdir()
    if kind == "garbage":
        (target / COMPLETE).write_text("{not json")
    if kind == "foreign":
        (target / COMPLETE).write_text("[1, 2]")
    if kind == "no-samples":
        (target / COMPLETE).write_text(json.dumps({"run": {"windows": []}}))
    assert cli_main([str(target)]) == 2  # in-process: a traceback would fail the test
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("python -m reports: error:")


def test_build_reads_files_written_by_the_other_parts(tmp_path):
    (tmp_path / CONCURRENCY).write_text(json.dumps({"peak_users": 25, "levels": [5, 10]}))
    entry = {"fault_id": "crash-each", "target": "n1", "detected_s": 1.5, "recovered_s": 4.25}
    (tmp_path / FAULT_TOLERANCE).write_text(json.dumps({"faults": [entry]}))
    run = synthetic_run(scale=SCALE, seed=3)
    run["concurrency"] = run["fault_results"] = None  # not handed over: read from the files
    reports.build(tmp_path, run)
    text = (tmp_path / MARKDOWN).read_text()
    assert "| peak_users | 25 |" in text
    assert "| 1.5 s | 4.2 s | fault_results |" in text
    complete = json.loads((tmp_path / COMPLETE).read_text())
    assert complete["run"]["fault_results"] == [entry]


def test_bad_input_is_refused_before_anything_is_written(tmp_path):
    run = synthetic_run(scale=SCALE, seed=3)
    run["windows"][0]["end"] = run["windows"][0]["start"] - 1
    with pytest.raises(ValueError, match="start <= end"):
        reports.build(tmp_path, run)
    with pytest.raises(ValueError, match="unknown key"):
        reports.build(tmp_path, {"sampels": []})
    assert not list(tmp_path.iterdir())


def test_malformed_samples_are_dropped_and_reported(tmp_path):
    run = synthetic_run(scale=SCALE, seed=3)
    run["samples"].append({"t": "soon", "op": "search"})
    reports.build(tmp_path, run)
    assert "Data quality: 1 malformed samples dropped" in (tmp_path / MARKDOWN).read_text()


def test_recommendations_for_the_broken_run(broken):
    from reports.evidence import Evidence
    from reports.thresholds import Thresholds

    run = synthetic_run(scale=SCALE, seed=3, broken=True)
    ev = Evidence.from_run(run)
    rules = [r.rule for r in recommend(ev, broken[1].results, Thresholds())]
    assert rules[0] == "failover_errors_during_crashes"
    assert {"integrity_problems", "stress_breaking_point"} <= set(rules)


def test_web_route_serves_the_report(healthy):
    flask = pytest.importorskip("flask")
    app = flask.Flask("t")
    add_report_routes(app, healthy[0])
    client = app.test_client()
    page = client.get("/peerload/report")
    assert page.status_code == 200 and b"fault" in page.data
    assert client.get("/peerload/report.md").status_code == 200
    empty = flask.Flask("e")
    add_report_routes(empty, healthy[0] / "nowhere")
    assert empty.test_client().get("/peerload/report").status_code == 404


def test_hostile_names_cannot_break_out_of_the_reports(tmp_path):
    evil = "x</script><script>alert(1)</script>|"
    run = synthetic_run(scale=SCALE, seed=3)
    for w in run["windows"]:
        if w["kind"] in ("fault", "recovery") and w["target"] == "n1":
            w["fault_id"] = evil
            w["name"] = w["name"].replace("crash-each", evil)
    reports.build(tmp_path, run)
    html = (tmp_path / HTML).read_text()
    assert html.count("</script>") == 2 and "<script>alert" not in html
    md = (tmp_path / MARKDOWN).read_text()
    assert "alert(1)</script>\\|" in md  # pipes escaped inside table cells


def test_an_interrupted_run_with_an_open_window_still_reports(tmp_path):
    run = synthetic_run(scale=SCALE, seed=3)
    run["windows"][-2]["end"] = None  # the last stress window never closed
    run["config"]["failover"] = "off"  # as the Locust option spells it
    verdict = reports.build(tmp_path, run)
    stored = json.loads((tmp_path / COMPLETE).read_text())["run"]["windows"][-2]
    assert stored["end"] >= stored["start"]
    assert any(r.window == stored["name"] for r in verdict.results)
    assert "Failover is off" in (tmp_path / MARKDOWN).read_text()


def test_cli_threshold_overrides_are_their_own_option_and_range_checked(broken, tmp_path, capsys):
    out, _ = broken
    before = (out / COMPLETE).read_bytes()
    for bad, said in [
        ("success_pct=150", "threshold success_pct: must be 0..100 (percent), got 150"),
        ("success_pct=-5", "threshold success_pct: must be 0..100 (percent), got -5"),
        ("p95_ms=-1", "threshold p95_ms: must be a number >= 0, got -1"),
        ("nosuch=1", "unknown threshold(s): nosuch"),
    ]:
        assert cli_main([str(out), "--threshold", bad]) == 2
        err = capsys.readouterr().err
        assert err == f"python -m reports: error: {said}\n"
    assert (out / COMPLETE).read_bytes() == before  # nothing written, not half-written
    assert cli_main([str(out), "--threshold", "p95_ms=100"]) == 1
    stored = json.loads((out / COMPLETE).read_text())
    assert stored["thresholds_resolved"]["p95_ms"] == 100.0


def test_config_and_integrity_tables_say_each_setting_once_and_in_words(tmp_path):
    run = synthetic_run(scale=SCALE, seed=3)
    run["config"] = {"seed": 3, "fault_plan": "", "levels": "", "nodes": 3}
    run["integrity"] = {"acked_uploads": 4, "lost": 0, "examples": []}
    reports.build(tmp_path, run)
    text = (tmp_path / MARKDOWN).read_text()
    html = (tmp_path / HTML).read_text()
    assert text.count("| seed | 3 |") == 1 and html.count("<th>seed</th>") == 1
    run["plan"]["source"] = "quick"
    assert "| fault_plan | (the profile's) |" in text  # a plan ran; its source unrecorded
    reports.build(tmp_path, run)
    text = (tmp_path / MARKDOWN).read_text()
    assert "| fault_plan | quick (the profile's) |" in text
    assert "| levels | (the profile's) |" in text
    assert "| examples | none |" in text and "| examples | [] |" not in text
    for emoji in ("✅", "❌", "⚠️"):  # no emoji font in Debian's Chromium: empty boxes
        assert emoji not in text and emoji not in html
    assert "| pass |" in text


def test_per_node_rows_fold_beyond_a_few_nodes_and_failed_ones_stay():
    from reports.context import fold_node_rows
    from reports.cpu import NODES_SHOWN

    nodes = {f"n{i}" for i in range(1, 11)}

    def row(window: str, verdict: str) -> dict:
        return {"name": "idle_cpu", "window": window, "verdict": verdict, "n": 3, "mark": verdict}

    per_node = [row(f"idle · n{i}", "fail" if i == 7 else "pass") for i in range(1, 11)]
    per_op = [row(f"levels · op{i}", "pass") for i in range(10)]  # not nodes: never folded
    shown, folded = fold_node_rows([row("run", "pass"), *per_node, *per_op], nodes)
    assert [r["window"] for r in shown[:3]] == ["run", "idle · 9 nodes", "idle · n7"]
    assert shown[1]["mark"] == "pass 9" and shown[1]["n"] == 27
    assert len(folded) == 9 and all(r["verdict"] == "pass" for r in folded)
    assert shown[3:] == per_op
    few = per_node[:NODES_SHOWN]
    assert fold_node_rows(few, nodes) == (few, [])


def test_origin_rows_of_the_answer_checker_fold_beyond_a_few_nodes_and_wrong_ones_stay(tmp_path):
    from reports.context import fold_origin_rows
    from reports.cpu import NODES_SHOWN

    classes = {
        "answer_classes": ["complete", "missing", "unknown"],
        "hit_classes": ["ok", "phantom"],
    }

    def row(origin: str, missing: int = 0, phantom: int = 0, window: str = "whole run") -> dict:
        return {
            "window": window,
            "origin": origin,
            "answers": [5, missing, 1],
            "hits": [9, phantom],
        }

    origins = [row(f"n{i}", missing=int(i == 3), phantom=int(i == 8)) for i in range(1, 11)]
    rows = [*origins, row("all", 1, 1), row("–", 1, window="level-1")]
    table = fold_origin_rows({**classes, "rows": rows})
    assert [r["origin"] for r in table["rows"]] == ["n3", "n8", "all", "–"]
    assert len(table["folded"]) == 8
    few = {**classes, "rows": origins[:NODES_SHOWN]}
    assert fold_origin_rows(few) == {**few, "folded": []}
    run = synthetic_run(seed=2, scale=0.3)
    reports.build(tmp_path, run)
    assert "Per-origin rows" not in (tmp_path / "PHASE4_FINAL_REPORT.md").read_text()  # 3 nodes
