"""The ``joined`` check reads when each node last heard from its peers, where the network says:
a peer called alive but unheard of for longer than any failure detector waits is a stale view.
Ours passes; ours with a view that misstates it (patched in before it starts, tests/patched.py)
fails, naming the node and the peer."""

from __future__ import annotations

import pytest

from networks.outcomes import FAIL, PASS
from networks.verify import STALE_ALIVE_S, check_joined
from tests.patched import check_on_two, patched_definition

#: The node's peers view says every member was last heard from 10^12 s ago.
LONG_AGO = (
    "import node.membership as m; v = m.Member.view; "
    "m.Member.view = lambda self, neighbour: {**v(self, neighbour), 'last_seen_s': 1e12}"
)


@pytest.mark.integration
def test_our_nodes_have_heard_from_the_peers_they_call_alive(tmp_path):
    seen = {}

    def joined(net, nodes):
        check = check_joined(net, nodes)
        seen.update(net.last_seen_s)
        return check

    check = check_on_two("builtin", tmp_path, joined)
    assert check.outcome == PASS, check.detail
    assert "n2" in seen["n1"] and "n1" in seen["n2"]  # the view says when, and it was recent
    assert all(0 <= s <= STALE_ALIVE_S for peers in seen.values() for s in peers.values()), seen


@pytest.mark.integration
def test_a_view_that_calls_a_peer_alive_unheard_of_for_ages_fails(tmp_path):
    check = check_on_two(patched_definition(tmp_path, "long-ago", LONG_AGO), tmp_path, check_joined)
    assert check.outcome == FAIL, check.detail
    assert "n1 says n2 alive, last heard from 1e+12 s ago" in check.detail
    assert "n2 says n1 alive, last heard from 1e+12 s ago" in check.detail
