"""A hit's hop count judged by the answer checker on real nodes (``search`` conformance): our
node promises the fewest hops at which the query reached each holder (``hops = "fewest"``);
ours patched to count one hop more, or one less, for every other node's hit fails, named."""

from __future__ import annotations

import pytest

from networks.builtin import BuiltinAdapter
from networks.outcomes import FAIL, PASS
from networks.verify import check_search
from reports.model import HOPS_FEWEST
from tests.patched import check_on_two, patched_definition

#: node/flood.py's hits, every hit of another node said one hop farther (or nearer).
SHIFTED = (
    "import node.flood as f; "
    "f.fewest_hops = lambda hit, to: {{**hit, 'hops': hit['hops'] {} (hit['hops'] > 0)}}"
)


def test_our_node_promises_the_fewest_hops():
    assert BuiltinAdapter.hops == HOPS_FEWEST


@pytest.mark.integration
def test_our_node_says_each_hit_the_fewest_hops_away(tmp_path):
    check = check_on_two("builtin", tmp_path, check_search)
    assert check.outcome == PASS, check.detail


@pytest.mark.integration
@pytest.mark.parametrize(
    ("sign", "said"),
    [
        ("+", "said 2 hop(s) away, 1 over the links up"),
        ("-", "said 0 hop(s) away, 1 over any link"),
    ],
)
def test_a_node_that_miscounts_hops_fails_search_with_wrong_metadata(tmp_path, sign, said):
    network = patched_definition(tmp_path, "hops-shifted", SHIFTED.format(sign))
    check = check_on_two(network, tmp_path, check_search)
    assert check.outcome == FAIL, check.detail
    assert "answer wrong_metadata" in check.detail and said in check.detail
