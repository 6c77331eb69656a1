"""The ``malformed`` and ``remove`` conformance checks, on real nodes: ours as it is passes both;
ours with one defect each (patched in before it starts, tests/patched.py) fails the check meant
for it, and the detail names what went wrong.

- a lax peer check: the node takes in a member whose address is out of range, and relays a
  query of 0 characters (our peers never send either, so no load run shows it);
- a stale index: the node's rescan never forgets a file deleted from its folder.
"""

from __future__ import annotations

import re

import pytest

from networks.deepchecks import check_remove
from networks.launcher import Launcher
from networks.malformed import check_malformed
from networks.verify import FAIL, PASS
from tests.patched import patched_definition

LAX_NODE = (
    "import node.membership as m, node.flood as f; "
    "m.valid_info = lambda info: isinstance(info, dict) "
    "and all(isinstance(info.get(k), str) for k in m.INFO_FIELDS); "
    "strict = f.valid_message; "
    "f.valid_message = lambda msg, cap: strict({**msg, 'q': msg.get('q') or 'q'}, cap)"
)
#: News about a member the node knows skips every check (a fast path for known members).
TRUSTING_NODE = (
    "import node.membership as m; v = m.valid_item; "
    "m.items = lambda raw, limit, known=None: [i for i in raw[:limit] if isinstance(i, dict) "
    "and (i.get('node_id') in (known or {}) or v(i))] if isinstance(raw, list) else []"
)
STALE_NODE = "import node.catalog as c; c.Catalog.rescan = lambda self: []"

pytestmark = pytest.mark.integration


def checks_of(network, tmp_path) -> dict:
    with Launcher(network, 2, files_per_node=2, workdir=tmp_path / "run") as launcher:
        nodes = launcher.node_infos()
        net = launcher.network.adapter_class(nodes)
        try:
            return {
                c.name: c for c in (check_malformed(net, nodes), check_remove(net, nodes, None))
            }
        finally:
            net.close()


def test_our_node_refuses_every_malformed_request_and_forgets_a_removed_file(tmp_path):
    checks = checks_of("builtin", tmp_path)
    assert checks["malformed"].outcome == PASS, checks["malformed"].detail
    assert "to n1, n2" in checks["malformed"].detail
    assert checks["remove"].outcome == PASS, checks["remove"].detail


def test_a_node_that_takes_in_malformed_members_and_queries_fails(tmp_path):
    checks = checks_of(patched_definition(tmp_path, "lax", LAX_NODE), tmp_path)
    detail = checks["malformed"].detail
    assert checks["malformed"].outcome == FAIL, detail
    assert "flood: a query of 0 characters with HTTP 200, not refused" in detail
    first = "ping from a member with gRPC port 65536"
    assert f"lists impostor impostor-0 among its peers (first sent: {first})" in detail
    assert checks["remove"].outcome == PASS  # one defect, one check


def test_a_node_whose_index_keeps_a_removed_file_fails_the_remove_check(tmp_path):
    checks = checks_of(patched_definition(tmp_path, "stale", STALE_NODE), tmp_path)
    assert checks["remove"].outcome == FAIL
    assert "removed from n2, still found there" in checks["remove"].detail
    assert checks["malformed"].outcome == PASS, checks["malformed"].detail


def test_a_node_that_takes_news_of_a_known_member_unchecked_fails(tmp_path):
    checks = checks_of(patched_definition(tmp_path, "trusting", TRUSTING_NODE), tmp_path)
    detail = checks["malformed"].detail
    assert checks["malformed"].outcome == FAIL, detail
    # each node slandered the other; a refutation may come back before one view is read
    assert re.search(
        rf"n\d called (n\d) dead after news that member \1 is dead at incarnation {2**53}", detail
    )
    assert "impostor" not in detail  # members it does not know are still checked


#: A gRPC download whose name the node refuses fails in its handler instead of being refused.
UNCHECKED_GRPC_NAME = (
    "import node.transfer as t, node.names as n; c = n.check_name; "
    "t.check_name = lambda name: c(name) if '/' not in name else 1 / 0"
)


def failed_malformed(tmp_path, name: str, code: str) -> str:
    """The detail of the ``malformed`` check, which our node patched with ``code`` fails."""
    check = checks_of(patched_definition(tmp_path, name, code), tmp_path)["malformed"]
    assert check.outcome == FAIL, check.detail
    return check.detail


def test_a_node_whose_grpc_download_fails_on_a_name_that_escapes_its_folder_fails(tmp_path):
    detail = failed_malformed(tmp_path, "grpc-name", UNCHECKED_GRPC_NAME)
    assert "n1 failed on gRPC download: the name '../catalog.sqlite' (HTTP 500)" in detail


#: News of a known member moves it to the address the news says, at any incarnation.
MOVABLE_NODE = (
    "import node.membership as m; a = m.Membership.apply; "
    "m.Membership.apply = lambda self, item, **kw: ([setattr(x, 'http', item['http']) "
    "or setattr(x, 'grpc', item['grpc']) for x in [self.members.get(item['node_id'])] "
    "if x is not None], a(self, item, **kw))[1]"
)


def test_a_node_that_lets_news_move_a_member_without_a_newer_incarnation_fails(tmp_path):
    detail = failed_malformed(tmp_path, "movable", MOVABLE_NODE)
    assert re.search(
        r"n\d lists (n\d) at http://127\.0\.0\.1:9, not http://[\d.:]+ after news that member "
        r"\1 moved, at the incarnation it holds",
        detail,
    )
