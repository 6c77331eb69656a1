"""reports.breakdown: violations and failed operations placed by window and by node."""

from __future__ import annotations

import reports
from reports.breakdown import OUTSIDE, WHOLE_RUN, breakdown, spread
from reports.correctness import missing_hits, violations
from reports.evidence import Evidence
from reports.results import MARKDOWN
from reports.synthetic import synthetic_run
from reports.thresholds import Thresholds
from tests.fixtures import fault_win, only, req, status, win

TH = Thresholds()
COLUMNS = [
    "corrupt_data",
    "missing_hits",
    "beyond_ttl",
    "phantom_hits",
    "wrong_metadata",
    "duplicate_hits",
    "flood_cost",
]
NODES = [
    {"name": n, "files": [{"name": f"alpha-{n}-000.txt", "size": 10}]} for n in ("n1", "n2", "n3")
]

WINDOWS = [
    win("level-20", "level", 0, 10, users=20),
    win("faults", "faults", 10, 40, users=10),
    fault_win("n2", 15, 25),
    win("recovery:crash:n2", "recovery", 25, 30, users=None, fault_id="crash", target="n2"),
    win("stress-160", "stress", 40, 50, users=160),
]


def at(t: float, node: str, **fields) -> dict:
    return {**req(t, **fields), "node": node}


def search(t: float, node: str, hits=None, **fields) -> dict:
    """A search for ``alpha`` from ``node``: by default every node's file, as it should."""
    every = [[n, f"alpha-{n}-000.txt", 10, None, int(n != node)] for n in ("n1", "n2", "n3")]
    facts = {"term": "alpha", "ttl": 2, "reached": ["n1", "n2", "n3"], "partial": False}
    return at(t, node, **{**facts, "hits": every if hits is None else hits, **fields})


def incomplete(t: float, node: str) -> dict:
    return search(t, node, hits=[], messages=4)


SAMPLES = [
    *[search(1 + i * 0.1, "n1", messages=4) for i in range(30)],  # clean searches
    incomplete(5, "n1"),
    *[incomplete(40 + i * 0.05, "n2" if i % 2 else "n3") for i in range(155)],
    at(12, "n1", ok=False),  # in the fault stage, before its fault
    at(20, "n3", ok=False, op="download", proto="grpc"),  # inside the fault, not the stage
    at(27, "n1", op="download", proto="grpc", violation="corrupt"),  # in its recovery
    search(27.5, "n3", hits=[["n3", "alpha-n3-999.txt", 10, None, 0]]),  # never held
    at(28.5, "n3", op="download_ttfb", proto="grpc"),  # part of a download: not a request
    search(33, "n2", messages=9, partial=True),  # over the bound of 3 nodes (4)
    at(60, "n1", ok=False, op="index"),  # after every window
]


def evidence(**changes) -> Evidence:
    return Evidence(
        **{"samples": SAMPLES, "windows": WINDOWS, "status": status(), "nodes": NODES, **changes}
    )


def table() -> dict:
    ev = evidence()
    return breakdown(ev, violations(ev, TH))


def cells(rows: list[dict]) -> dict[tuple[str, str], tuple[int, int, list[int]]]:
    return {(r["window"], r["node"]): (r["requests"], r["failed"], r["counts"]) for r in rows}


def test_each_violation_and_failure_lands_in_its_most_specific_window_and_its_node():
    got = table()
    assert got["columns"] == COLUMNS
    assert cells(got["rows"]) == {
        ("level-20", "n1"): (31, 0, [0, 1, 0, 0, 0, 0, 0]),
        ("faults", "n1"): (1, 1, [0, 0, 0, 0, 0, 0, 0]),
        ("fault:crash:n2", "n3"): (1, 1, [0, 0, 0, 0, 0, 0, 0]),
        ("recovery:crash:n2", "n1"): (1, 0, [1, 0, 0, 0, 0, 0, 0]),
        ("recovery:crash:n2", "n3"): (1, 0, [0, 0, 0, 1, 0, 0, 0]),
        ("faults", "n2"): (1, 0, [0, 0, 0, 0, 0, 0, 1]),
        ("stress-160", "n2"): (77, 0, [0, 77, 0, 0, 0, 0, 0]),
        ("stress-160", "n3"): (78, 0, [0, 78, 0, 0, 0, 0, 0]),
        (OUTSIDE, "n1"): (1, 1, [0, 0, 0, 0, 0, 0, 0]),
    }
    # rows in time order, then every node over the whole run and all of them together
    assert [r["window"] for r in got["rows"]][:2] == ["level-20", "faults"]
    assert cells(got["totals"]) == {
        (WHOLE_RUN, "n1"): (34, 2, [1, 1, 0, 0, 0, 0, 0]),
        (WHOLE_RUN, "n2"): (78, 0, [0, 77, 0, 0, 0, 0, 1]),
        (WHOLE_RUN, "n3"): (80, 1, [0, 78, 0, 1, 0, 0, 0]),
        (WHOLE_RUN, "all"): (192, 3, [1, 156, 0, 1, 0, 0, 1]),
    }


def test_a_failing_row_names_the_windows_its_violations_fell_in():
    ev = evidence()
    r = only(missing_hits(ev, TH))
    assert r.value == 156 and r.detail.startswith("156: 155 in stress-160, 1 in level-20")
    assert spread(Evidence(samples=SAMPLES), SAMPLES) == ""  # no windows, nothing to name


def test_what_a_network_cannot_show_has_no_column():
    lacking = status(capabilities=["search", "index", "download"])  # no message counts
    ev = evidence(status=lacking)
    assert breakdown(ev, violations(ev, TH))["columns"] == COLUMNS[:-1]
    no_model = evidence(nodes=[])  # a run recorded before the model: answers cannot be judged
    assert breakdown(no_model, violations(no_model, TH))["columns"] == [
        "corrupt_data",
        "flood_cost",
    ]


def test_the_report_shows_the_table_and_re_renders_it_byte_for_byte(tmp_path):
    run = synthetic_run(scale=0.4, seed=3)
    stress = next(w for w in run["windows"] if w["name"] == "stress-40")
    searches = [s for s in run["samples"] if s["op"] == "search" and s["t"] >= stress["start"]]
    bad = [s for s in searches if s.get("hits")][:3]
    for s in bad:
        s["hits"] = [*s["hits"], s["hits"][0]]
    verdict = reports.build(tmp_path, run)
    assert verdict.reason.startswith("NOT READY: duplicate_hits 3 > 0 in window run")
    text = (tmp_path / MARKDOWN).read_text()
    assert "## Where things went wrong" in text
    nodes = sorted({s["node"] for s in bad})
    assert all(f"| stress-40 | {n} |" in text for n in nodes)
    before = text.encode()
    reports.rerender(tmp_path)
    assert (tmp_path / MARKDOWN).read_bytes() == before
