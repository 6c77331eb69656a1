"""``stream_metadata`` (reports/stated.py): what a download's stream says of its file (its header,
its trailer), judged against the model, in a run and in conformance. On real nodes: ours states
the file as it is; ours with no header on its streams fails conformance's ``download``."""

from __future__ import annotations

import hashlib

import pytest

from networks.adapter import HEADER, Stated, read_download
from networks.corpuscheck import check_download, held_hit
from networks.outcomes import FAIL as CHECK_FAILED
from networks.outcomes import PASS as CHECK_PASSED
from reports.evidence import Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.stated import contradictions, stream_metadata
from reports.thresholds import Thresholds
from tests.fixtures import req, status
from tests.patched import check_on_two, patched_definition, two_nodes

SHA = "ab" * 32
FILE = {"name": "alpha-n1-000.txt", "size": 100, "sha256": SHA}
RIGHT = Stated(FILE["name"], 100, SHA, "n1", 100, SHA)


def download(stated: Stated | None, *, ok: bool = True, size: int = 100) -> dict:
    facts = {"file": FILE["name"]} | ({"stated": stated.facts()} if stated else {})
    return {**req(1.0, op="download", proto="grpc", ok=ok), "bytes": size, **facts}


def row(*samples: dict):
    nodes = [{"name": "n1", "files": [FILE]}, {"name": "n2", "files": []}]
    ev = Evidence(samples=list(samples), nodes=nodes, status=status(nodes=2))
    return stream_metadata(ev, Thresholds())[0]


def test_a_stream_that_states_the_file_as_the_model_has_it_passes():
    r = row(*[download(RIGHT)] * 3)
    assert (r.verdict, r.value, r.n) == (PASS, 0.0, 3)


def test_a_header_or_trailer_the_model_contradicts_fails_and_is_named():
    wrong_size = Stated(FILE["name"], 99, SHA, "n1", 100, SHA)
    short_count = Stated(FILE["name"], 100, SHA, "n1", 60, SHA)
    r = row(download(RIGHT), download(wrong_size), download(short_count))
    assert (r.verdict, r.value, r.n) == (FAIL, 2.0, 3)
    assert "alpha-n1-000.txt from n1: size 99, not 100" in r.detail
    assert "total 60, not 100" in r.detail


def test_a_stream_missing_a_part_its_protocol_promises_fails():
    r = row(download(Stated(total=100, digest=SHA, missing=(HEADER,))))
    assert (r.verdict, r.value) == (FAIL, 1.0) and "no header" in r.detail


def test_failed_downloads_are_not_judged_and_none_left_is_insufficient():
    r = row(download(Stated(missing=(HEADER,)), ok=False))
    assert r.verdict == INSUFFICIENT


def test_a_network_whose_streams_state_nothing_is_not_measurable():
    r = row(download(None))
    assert r.verdict == REPORTED and "say nothing of the file" in r.detail


def test_contradictions_leave_what_is_unknown_unjudged():
    truth = {"name": FILE["name"], "node": "n1", "size": None, "sha256": None, "bytes": 100}
    assert contradictions({"size": 5, "digest": "00", "total": 100}, truth) == []
    assert contradictions({"node": "n2"}, truth) == ["node 'n2', not 'n1'"]


@pytest.mark.integration
def test_our_nodes_stream_states_the_file_as_it_is(tmp_path):
    with two_nodes("builtin", tmp_path) as (_, net, nodes):
        file, chunks = nodes[1].files[0], []
        stated = read_download(net.download(nodes[1], held_hit(nodes[1], file), 5.0), chunks.append)
    data = b"".join(chunks)
    assert hashlib.sha256(data).hexdigest() == file["sha256"]
    assert stated == Stated(
        file["name"], len(data), file["sha256"], "n2", len(data), file["sha256"]
    )


#: Our node with a stream whose first message does not say which file follows.
NO_HEADER = (
    "import node.transfer as t; e = t.encode_data_chunk; "
    "t.encode_data_chunk = lambda offset, data, info: e(offset, data, None)"
)


@pytest.mark.integration
def test_conformance_download_judges_what_the_stream_said(tmp_path):
    assert check_on_two("builtin", tmp_path / "ours", check_download).outcome == CHECK_PASSED
    bad = check_on_two(
        patched_definition(tmp_path, "no-header", NO_HEADER), tmp_path, check_download
    )
    assert bad.outcome == CHECK_FAILED, bad.detail
    assert "from n1 said: no header" in bad.detail
