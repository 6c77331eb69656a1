"""The ``sizes`` check, on real nodes: files of 0, 1, 1 MiB and 1 MiB + 1 bytes given to one
node, pulled by another and downloaded back. Ours passes; ours with a pull that takes a stream
without data for a broken one (patched in before it starts, tests/patched.py) fails on the
empty file, named."""

from __future__ import annotations

import hashlib

import pytest

from networks.outcomes import FAIL, PASS
from networks.sizecheck import EDGE_SIZES, check_sizes
from networks.verify import new_file
from tests.patched import check_on_two, patched_definition

#: The node's pull refuses a stream that carried no data (a loop that waits for a first chunk).
NO_EMPTY_PULLS = (
    "import node.transfer as t; r = t.Puller._receive; "
    "t.Puller._receive = lambda self, a, n, s, to, tmp: "
    "(lambda got: got if got[0] else t.Puller._empty())(r(self, a, n, s, to, tmp)); "
    "t.Puller._empty = staticmethod(lambda: (_ for _ in ()).throw(t.TransferError(502, 'no data')))"
)


def sizes_check(network, tmp_path):
    return check_on_two(network, tmp_path, check_sizes)


def test_edge_files_have_their_size_and_a_new_name_each():
    files = [new_file(size) for size in EDGE_SIZES]
    assert [len(data) for _, data in files] == list(EDGE_SIZES) == [f["size"] for f, _ in files]
    assert all(f["sha256"] == hashlib.sha256(data).hexdigest() for f, data in files)
    assert len({f["name"] for f, _ in files + [new_file(0)]}) == len(EDGE_SIZES) + 1


@pytest.mark.integration
def test_our_node_moves_files_at_every_edge_of_size_intact(tmp_path):
    check = sizes_check("builtin", tmp_path)
    assert check.outcome == PASS, check.detail
    assert check.detail == (
        "files of 0, 1, 1048576, 1048577 bytes given to n1, pulled by n2, downloaded intact"
    )


@pytest.mark.integration
def test_a_node_that_cannot_pull_an_empty_file_fails_naming_the_size(tmp_path):
    check = sizes_check(patched_definition(tmp_path, "no-empty", NO_EMPTY_PULLS), tmp_path)
    assert check.outcome == FAIL, check.detail
    assert check.detail.startswith("0 bytes: n2's download from n1 failed: n2: HTTP 502: no data")
    assert "1 bytes" not in check.detail  # the files with data travel
