"""reports.health: reach, hits found, flood cost and duplicates per TTL, from the model."""

from __future__ import annotations

import reports
from reports.evidence import Evidence
from reports.health import rows, table
from reports.synthetic import synthetic_run
from tests.test_reports_checker import NAMES, evidence, hit, search

#: n1 - n2 - n3 - n4: the TTL decides who is within reach.
LINE = {"spec": "line", "nodes": list(NAMES), "edges": [["n1", "n2"], ["n2", "n3"], ["n3", "n4"]]}


def test_reach_hits_and_cost_per_ttl_on_a_line():
    whole = search(10, [hit("n1", hops=0), hit("n2")], ttl=1, reached=["n1", "n2"], messages=1)
    # TTL 2 reaches n1..n3; this answer left n3 out without saying so (missing, but judged).
    short = search(20, [hit("n1", hops=0), hit("n2")], ttl=2, reached=["n1", "n2"], messages=3)
    ev = evidence([whole, short], topology=LINE)
    one, two = table(ev)
    assert (one["ttl"], one["answers"], one["reach"]) == (1, 1, 1.0)
    assert (one["hits_found"], one["hits_required"], one["over_bound"]) == (2, 2, 0)
    assert one["duplicates_mean"] == 0  # 1 message, 1 copy to the one other node reached
    assert two["reach"] == 2 / 3 and (two["hits_found"], two["hits_required"]) == (2, 3)
    assert two["messages_max"] == 3 and two["over_bound"] == 1  # a line over 2 hops costs 2
    assert two["duplicates_mean"] == 2
    assert rows(ev)[1] == {
        "ttl": "2", "answers": "1", "reach": "66.7%", "hits": "2 of 3", "messages": "3.0 (3)",
        "over_bound": "1", "duplicates": "2.0", "beyond_ttl": "0",
    }  # fmt: skip


def test_no_model_no_rows():
    assert table(Evidence(samples=[search(10, [])])) == []


def test_the_reports_have_the_section(tmp_path):
    reports.build(tmp_path, synthetic_run(seed=1, scale=0.3))
    text = (tmp_path / "PHASE4_FINAL_REPORT.md").read_text()
    assert "## Protocol health" in text and "| TTL | answers | reach |" in text
    assert "<h2>Protocol health</h2>" in (tmp_path / "report.html").read_text()
