"""The ``counts`` check, on real nodes: one node asked for 3 searches and 3 downloads, its own
totals (/metrics) read before and after. Ours counts exactly that; ours counting every stream it
served as failed, or every search twice (patched in, tests/patched.py), fails, naming the totals."""

from __future__ import annotations

import pytest

from networks.adapter import DOWNLOAD, SEARCH, Adapter
from networks.countcheck import check_counts
from networks.outcomes import FAIL, NOT_MEASURABLE, PASS
from tests.patched import check_on_two, patched_definition

SERVED_AS_FAILED = (
    "import node.metrics as m; d = m.NodeMetrics.download; "
    "m.NodeMetrics.download = lambda self, way, ok: d(self, way, False)"
)
SEARCHES_TWICE = (
    "import node.metrics as m; s = m.NodeMetrics.search; "
    "m.NodeMetrics.search = lambda self, partial: (s(self, partial), s(self, partial))"
)


@pytest.mark.integration
def test_our_node_counts_what_it_was_asked(tmp_path):
    check = check_on_two("builtin", tmp_path, check_counts)
    assert check.outcome == PASS, check.detail
    assert check.detail.startswith("after 3 searches from n1 and 3 downloads of a ")
    assert "n1 counted 3 searches, 3 downloads served, 0 failed, " in check.detail
    assert check.detail.endswith(" bytes served")


@pytest.mark.integration
def test_a_node_that_counts_its_served_streams_as_failed_fails(tmp_path):
    network = patched_definition(tmp_path, "served-as-failed", SERVED_AS_FAILED)
    check = check_on_two(network, tmp_path, check_counts)
    assert check.outcome == FAIL, check.detail
    assert "served rose by 0, not 3; served_failed rose by 3, not 0" in check.detail
    assert "searches" not in check.detail.split(":", 1)[1]


@pytest.mark.integration
def test_a_node_that_counts_each_search_twice_fails(tmp_path):
    network = patched_definition(tmp_path, "searches-twice", SEARCHES_TWICE)
    check = check_on_two(network, tmp_path, check_counts)
    assert check.outcome == FAIL, check.detail
    assert check.detail.endswith("searches rose by 6, not 3")


def test_a_network_without_counts_is_not_measurable():
    class Silent(Adapter):  # a network whose nodes report no totals of their own
        capabilities = frozenset({SEARCH, DOWNLOAD})

    check = check_counts(Silent([]), [])
    assert check.outcome == NOT_MEASURABLE and "own counts" in check.detail
