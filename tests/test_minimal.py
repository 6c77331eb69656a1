"""The ``minimal`` check (networks/minimalcheck.py) and its row (``minimal_peer``): a node beside a
member that says only what the protocol requires. On real nodes: ours finds its file and tells
the answer right; ours reading a missing count as -1, or a missing flag as partial, fails."""

from __future__ import annotations

import pytest

from networks.adapter import MINIMAL
from networks.minimalcheck import check_minimal
from networks.outcomes import FAIL as CHECK_FAILED
from networks.outcomes import NOT_MEASURABLE
from networks.outcomes import PASS as CHECK_PASSED
from reports.correctness import minimal_peer
from reports.evidence import Evidence
from reports.rows import FAIL, INSUFFICIENT, PASS, REPORTED
from reports.thresholds import Thresholds
from tests.fixtures import status
from tests.patched import check_on_two, patched_definition


def row(minimal: dict | None, capabilities: list[str] | None = None):
    run = status(nodes=2, minimal=minimal)
    if capabilities is not None:
        run["capabilities"] = capabilities
    return minimal_peer(Evidence(status=run), Thresholds())[0]


def test_the_row_says_what_the_check_said_after_the_run():
    assert row({"outcome": CHECK_PASSED, "detail": "found"}).verdict == PASS
    failed = row({"outcome": CHECK_FAILED, "detail": "marked partial"})
    assert (failed.verdict, failed.detail) == (FAIL, "marked partial")
    assert row(None).verdict == INSUFFICIENT
    assert row({"outcome": NOT_MEASURABLE, "detail": "no room"}).verdict == REPORTED
    assert row(None, capabilities=["search"]).verdict == REPORTED
    assert row(None, capabilities=[MINIMAL]).verdict == INSUFFICIENT


def _patched_answers(tmp_path, name: str, field: str, default: str):
    """Our node reading a peer's answer without ``field`` as ``default``."""
    code = (
        "import node.flood as f; c = f.Flood._checked; "
        "f.Flood._checked = staticmethod(lambda a: (lambda r: r if r is None else "
        f"{{**r, '{field}': r.get('{field}', {default})}})(c(a)))"
    )
    return check_on_two(patched_definition(tmp_path, name, code), tmp_path, check_minimal)


@pytest.mark.integration
def test_our_node_finds_the_file_of_a_minimal_member_and_tells_the_answer_right(tmp_path):
    check = check_on_two("builtin", tmp_path, check_minimal)
    assert check.outcome == CHECK_PASSED, check.detail
    assert "n1 found the file of a member that says only what it must" in check.detail


@pytest.mark.integration
def test_a_node_that_counts_a_missing_message_count_as_minus_one_fails(tmp_path):
    check = _patched_answers(tmp_path, "minus-one", "messages", "-1")
    assert check.outcome == CHECK_FAILED, check.detail
    assert "counts 1 peer messages for 2 other nodes that answered" in check.detail


@pytest.mark.integration
def test_a_node_that_reads_a_missing_partial_flag_as_partial_fails(tmp_path):
    check = _patched_answers(tmp_path, "partial-by-default", "partial", "True")
    assert check.outcome == CHECK_FAILED, check.detail
    assert "is marked partial though the member answered" in check.detail
