"""``error_statuses`` (reports/statuses.py): each failure a node answered with a status is one its
network's API documents for that operation. On real nodes: our node's refusals carry the status
the adapter raises, and each is one our API documents."""

from __future__ import annotations

import pytest

from networks.adapter import Refused
from networks.builtin import BuiltinAdapter
from reports.evidence import Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.statuses import as_record, error_statuses
from reports.thresholds import Thresholds
from tests.fixtures import req
from tests.http import call
from tests.patched import two_nodes

CONTRACT = as_record({"node_download": {400, 504, 502}, "download": {"NOT_FOUND"}})


def failed(op: str, status: int | str | None, **facts) -> dict:
    said = {"status": status} if status is not None else {}
    return req(1.0, op=op, ok=False, error=f"n1: {status}", **said, **facts)


def row(*samples: dict, contract=CONTRACT):
    ev = Evidence(samples=list(samples), network_statuses=contract)
    return error_statuses(ev, Thresholds())[0]


def test_documented_failures_and_successes_pass():
    r = row(
        req(1.0, op="node_download"), failed("node_download", 504), failed("download", "NOT_FOUND")
    )
    assert (r.verdict, r.value, r.n) == (PASS, 0.0, 3)


def test_a_status_the_api_does_not_document_fails_in_any_window_and_is_named():
    r = row(
        failed("node_download", 504), failed("node_download", 505), failed("download", "UNKNOWN")
    )
    assert (r.verdict, r.value, r.n) == (FAIL, 2.0, 3)
    assert "node_download 505: 1" in r.detail and "download UNKNOWN: 1" in r.detail


def test_failures_without_a_status_and_operations_not_listed_are_not_judged():
    r = row(failed("node_download", None), failed("search", 500))
    assert r.verdict == INSUFFICIENT


def test_a_network_that_documents_no_statuses_is_not_measurable():
    r = row(failed("node_download", 500), contract=None)
    assert r.verdict == REPORTED and "documents no failure statuses" in r.detail


def test_the_record_keeps_statuses_as_sorted_text():
    assert as_record({"search": {503, 400}}) == {"search": ["400", "503"]}


@pytest.mark.integration
def test_our_nodes_refusals_carry_statuses_our_api_documents(tmp_path):
    documented = BuiltinAdapter.statuses["node_download"]
    with two_nodes("builtin", tmp_path) as (_, net, nodes):
        file = nodes[1].files[0]
        asks = [
            ("a file its source does not hold", "no-such-file.bin", file["sha256"], nodes[1]),
            ("another digest", file["name"], "0" * 64, nodes[1]),
            ("a bad name", "../x", file["sha256"], nodes[1]),
        ]
        for what, name, sha, source in asks:
            with pytest.raises(Refused) as refused:
                net.node_download(nodes[0], name, sha, source)
            assert refused.value.status in documented, (what, refused.value)


@pytest.mark.integration
def test_a_pull_from_a_cut_off_peer_is_heard_out_and_answered_as_documented(tmp_path):
    """The adapter waits for a pull longer than the node's black hole, so the harness sees the
    node's own answer (504), not a timeout it would call "gone"."""
    with two_nodes("builtin", tmp_path) as (launcher, net, nodes):
        cut = {"drop": [nodes[1].name]}
        assert call("POST", f"{nodes[0].http}/admin/partition", cut, token=launcher.token)[0] == 200
        file = nodes[1].files[0]
        with pytest.raises(Refused) as refused:
            net.node_download(nodes[0], file["name"], file["sha256"], nodes[1])
    assert refused.value.status == 504
    assert 504 in BuiltinAdapter.statuses["node_download"]
