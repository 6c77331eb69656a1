"""The ``rogue`` check, on real nodes: a member that serves wrong files joins a node, which is
asked to fetch each of them. Ours refuses them all with 502 and keeps none; ours with its
sha256 comparison taken out (patched in before it starts, tests/patched.py) keeps the altered
files, and the check names each."""

from __future__ import annotations

import hashlib

import pytest

from networks.adapter import ROGUE, Adapter, NodeInfo, RoguePull
from networks.builtin_rogue import (
    BAD_GATEWAY,
    CHUNK,
    MODES,
    OVERSIZE_CHUNK,
    content,
    file_name,
    stream,
)
from networks.roguecheck import check_rogue
from networks.verify import FAIL, NOT_MEASURABLE, PASS
from tests.patched import check_on_two, patched_definition

#: The node trusts the digest it was asked for instead of the one it computed.
TRUSTING_NODE = (
    "import node.transfer as t; r = t.Puller._receive; "
    "t.Puller._receive = lambda self, a, n, s, to, tmp: (r(self, a, n, s, to, tmp)[0], s)"
)


def rogue_check(network, tmp_path):
    return check_on_two(network, tmp_path, check_rogue)


@pytest.mark.integration
def test_our_node_refuses_every_wrong_file_from_a_peer_and_keeps_none(tmp_path):
    check = rogue_check("builtin", tmp_path)
    assert check.outcome == PASS, check.detail
    assert check.detail == f"{2 * len(MODES)} wrong files refused by n1, n2, none kept"


@pytest.mark.integration
def test_a_node_that_trusts_the_digest_it_was_asked_for_fails_and_keeps_the_files(tmp_path):
    check = rogue_check(patched_definition(tmp_path, "trusting", TRUSTING_NODE), tmp_path)
    assert check.outcome == FAIL, check.detail
    assert "n1 accepted a peer that sends the file with its first byte changed (HTTP 200)" in (
        check.detail
    )
    # 3 altered files accepted and held, on each node; a stream that ends early is still
    # refused by the node's own length check (502)
    assert check.detail.startswith(f"12 problems in {2 * len(MODES)} fetches: ")
    assert "oversize" not in check.detail  # the upload limit holds: 413
    assert "n1 holds rogue-" in check.detail and "-flipped-last.bin from a peer that" in (
        check.detail
    )


def test_each_mode_gets_the_file_wrong_as_it_says():
    for mode in MODES:
        name = file_name("rogue-x", mode, limit=100 * CHUNK)
        chunks = list(stream(name)[0])
        total = stream(name)[1]
        data = b"".join(d for _, d in chunks)
        right = content(name)
        offsets = [o for o, _ in chunks]
        whole = offsets == list(range(0, len(data), CHUNK))
        if mode in ("flipped-first", "flipped-last", "zeros"):
            assert len(data) == len(right) and total == len(right) and whole
            assert hashlib.sha256(data).digest() != hashlib.sha256(right).digest()
        elif mode == "short":
            assert data == right[: len(right) // 2] and total == len(right) and whole
        elif mode == "unended":
            assert data == right and total is None and whole
        elif mode == "oversize":
            assert len(data) == total == 100 * CHUNK + 1 and offsets[1] == OVERSIZE_CHUNK
        else:
            assert mode == "gap" and data == right and total == len(right) and not whole


class Replayed(Adapter):
    """Answers the rogue fetches it is given (the judging alone, no network)."""

    name = "replayed"
    capabilities = frozenset({ROGUE, "node_download"})

    def __init__(self, nodes, pulls):
        super().__init__(nodes)
        self.pulls = pulls

    def rogue_pulls(self, node):
        return self.pulls

    def health(self, node):
        return {"name": node.name}


def test_fetches_that_never_reached_the_member_are_not_evidence():
    nodes = [NodeInfo("n1"), NodeInfo("n2")]
    pull = RoguePull("sends zeros", "f.bin", 504, BAD_GATEWAY, reached=False)
    check = check_rogue(Replayed(nodes, [pull]), nodes)
    assert check.outcome == NOT_MEASURABLE
    assert check.detail == "no node reached the rogue member (2 fetches asked)"
    reached = RoguePull("sends zeros", "f.bin", 501, BAD_GATEWAY, reached=True)
    check = check_rogue(Replayed(nodes, [pull, reached]), nodes)
    assert check.outcome == FAIL
    assert "n1 answered a peer that sends zeros with HTTP 501, not 502" in check.detail


def test_a_network_without_a_rogue_member_is_not_measurable():
    nodes = [NodeInfo("n1")]
    check = check_rogue(Adapter(nodes), nodes)
    assert check.outcome == NOT_MEASURABLE
