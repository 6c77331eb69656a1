"""The ``full_disk`` check, on real nodes whose data dirs are small disks (tmpfs: root only):
one node's disk filled, a new file and an empty overwrite of an acknowledged one asked of it.
Ours refuses both and loses nothing; ours with a store that cannot put the old file back, or
that breaks (500) instead of refusing, fails, saying how (patched in, tests/patched.py)."""

from __future__ import annotations

import pytest

from networks import disks
from networks.diskcheck import check_full_disk
from networks.outcomes import FAIL, PASS
from networks.verify import conformance
from tests.patched import patched_definition, two_nodes

DISK_MB = 16

#: The catalog cannot keep the old file aside (a hard link that fails): a refused overwrite
#: then removes the file it replaced instead of putting it back.
NO_KEEPING = (
    "import node.catalog as c, os, types; "
    "c.os = types.SimpleNamespace(**{**vars(os), "
    "'link': lambda a, b: (_ for _ in ()).throw(FileNotFoundError(b))})"
)
#: A full disk is not recognised as one: the write's error goes up as an internal error.
NO_FULL = "import node.catalog as c; c.is_no_space = lambda exc: False"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not disks.available()[0], reason=f"small disks: {disks.available()[1]}"),
]


def full_disk_check(network, tmp_path):
    with two_nodes(network, tmp_path, disk_mb=DISK_MB) as (launcher, net, nodes):
        return check_full_disk(net, nodes, launcher)


def test_our_node_refuses_writes_on_a_full_disk_and_loses_nothing(tmp_path):
    check = full_disk_check("builtin", tmp_path)
    assert check.outcome == PASS, check.detail
    assert check.detail == (
        "n1's disk filled: a new file refused, a pull from n2 refused, the overwrite with an "
        "empty file refused; nothing lost, writes taken again once freed"
    )


def test_a_refused_overwrite_that_loses_the_old_file_fails(tmp_path):
    check = full_disk_check(patched_definition(tmp_path, "no-keeping", NO_KEEPING), tmp_path)
    assert check.outcome == FAIL, check.detail
    assert check.detail.startswith(
        "n1, disk full: the overwrite with an empty file, refused: download of conformance-"
    )
    assert "new file" not in check.detail and "pull" not in check.detail  # refused cleanly


def test_a_node_that_breaks_on_a_full_disk_fails_even_if_it_loses_nothing(tmp_path):
    check = full_disk_check(patched_definition(tmp_path, "no-full", NO_FULL), tmp_path)
    assert check.outcome == FAIL, check.detail
    assert "a new file: refused with n1: HTTP 500" in check.detail
    assert "a pull from n2: refused with n1: HTTP 500" in check.detail
    assert check.detail.endswith("not as a full disk")
    assert "download" not in check.detail


def test_conformance_fills_a_disk_only_when_given_small_disks(tmp_path):
    with two_nodes("builtin", tmp_path, disk_mb=DISK_MB) as (launcher, net, nodes):
        without = [c.name for c in conformance(net, nodes)]
        given = [c.name for c in conformance(net, nodes, disks=launcher)]
    assert "full_disk" not in without
    assert given == [
        *without[: without.index("sizes") + 1],
        "full_disk",
        *without[without.index("sizes") + 1 :],
    ]
