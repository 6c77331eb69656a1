"""Unit tests of the node's pure parts and its catalog on a real SQLite file."""

from __future__ import annotations

import pytest

from node.catalog import Catalog
from node.flood import DUPLICATE, FARTHER, NEW, SeenCache
from node.names import BadName, check_name


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../x", "/etc/passwd", "a\x00b", "x" * 256, " pad", ".hidden", "a\\b"]
)
def test_check_name_refuses_unsafe_names(name):
    with pytest.raises(BadName):
        check_name(name)


def test_check_name_accepts_plain_names():
    assert check_name("report-01.txt") == "report-01.txt"
    assert check_name("é" * 127) == "é" * 127  # 254 bytes


def test_catalog_survives_reopen_and_recovers_from_interrupted_writes(tmp_path):
    catalog = Catalog(tmp_path)
    record = catalog.put_bytes("a.bin", b"abc")
    (catalog.shared / ".tmp-interrupted").write_bytes(b"partial")
    catalog.close()
    reopened = Catalog(tmp_path)
    assert reopened.get("a.bin") == record
    assert not list(reopened.shared.glob(".tmp-*"))


def test_catalog_rescan_indexes_dropped_files_and_forgets_removed(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.put_bytes("gone.txt", b"1")
    (catalog.shared / "dropped.txt").write_bytes(b"hello")
    (catalog.shared / "gone.txt").unlink()
    added = catalog.rescan()
    assert [r.name for r in added] == ["dropped.txt"]
    assert [r.name for r in catalog.all()] == ["dropped.txt"]
    assert catalog.search("DROP")[0].size == 5


def test_catalog_keeps_node_identity_and_peers(tmp_path):
    catalog = Catalog(tmp_path)
    node_id = catalog.node_id()
    catalog.remember_peers([{"node_id": "p", "name": "n2", "http": "h", "grpc": "g"}])
    catalog.close()
    again = Catalog(tmp_path)
    assert again.node_id() == node_id
    assert again.known_peers() == [{"node_id": "p", "name": "n2", "http": "h", "grpc": "g"}]


def test_seen_cache_drops_duplicates_and_expires():
    seen = SeenCache(ttl_s=0.0)
    assert seen.admit("q1", 2) == NEW
    assert seen.admit("q1", 2) == NEW  # expired at once
    bounded = SeenCache(ttl_s=60, max_items=2)
    assert bounded.admit("a", 2) == bounded.admit("b", 2) == NEW
    assert bounded.admit("b", 2) == DUPLICATE
    assert bounded.admit("c", 2) == bounded.admit("a", 2) == NEW  # "a" evicted by the size cap


def test_seen_cache_lets_a_copy_with_more_ttl_through_once():
    seen = SeenCache()
    assert seen.admit("q", 1) == NEW
    assert seen.admit("q", 0) == seen.admit("q", 1) == DUPLICATE
    assert seen.admit("q", 3) == FARTHER  # it came a shorter way
    assert seen.admit("q", 2) == seen.admit("q", 3) == DUPLICATE


def test_rescan_does_not_forget_an_upload_acknowledged_while_it_listed(tmp_path):
    import threading
    import time
    from pathlib import Path

    catalog = Catalog(tmp_path)
    listed = threading.Event()

    class SlowDir(type(Path())):
        def iterdir(self):
            items = list(super().iterdir())
            listed.set()
            time.sleep(0.3)  # an upload lands between the listing and the bookkeeping
            return iter(items)

    catalog.shared = SlowDir(catalog.shared)
    scan = threading.Thread(target=catalog.rescan)
    scan.start()
    assert listed.wait(5)
    record = catalog.put_bytes("late.bin", b"acknowledged")
    scan.join()
    assert catalog.get("late.bin") == record
    assert [r.name for r in catalog.search("late")] == ["late.bin"]


def test_gossip_cannot_replace_a_peers_identity_but_the_peer_itself_can(tmp_path):
    from node.membership import Membership

    catalog = Catalog(tmp_path)
    me = {"node_id": "me", "name": "n1", "http": "http://127.0.0.11:1", "grpc": "127.0.0.11:2"}
    members = Membership(me, None, remember=catalog.remember_peers, forget=catalog.forget_peer)
    old = {"node_id": "old", "name": "n2", "http": "http://127.0.0.12:1", "grpc": "127.0.0.12:2"}
    new = {**old, "node_id": "new"}
    members.learn_all([{**old, "inc": 1, "state": "alive"}])
    members.learn_all([{**new, "inc": 9, "state": "alive"}])  # gossip: another identity, ignored
    assert list(members.members) == ["old"]
    members.absorb({"self": {**new, "inc": 9, "state": "alive"}})  # the rebuilt node itself
    assert list(members.members) == ["new"]
    assert [p["node_id"] for p in catalog.known_peers()] == ["new"]


def test_limits_are_defined_in_node_config_only():
    import re
    from pathlib import Path

    from node import config

    root = Path(__file__).resolve().parent.parent
    limits = {name for name in vars(config) if name.isupper()}
    modules = [*(root / "node").glob("*.py"), *(root / "faults").rglob("*.py")]
    assignment = re.compile(r"^([A-Z_]+) = ", re.M)
    redefined = {
        p.name: sorted(set(assignment.findall(p.read_text())) & limits)
        for p in modules
        if p.name != "config.py"
    }
    assert {name: found for name, found in redefined.items() if found} == {}
