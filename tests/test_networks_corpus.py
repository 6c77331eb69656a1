"""The seeded catalogs (networks/corpus.py): reproducible, Zipf-popular words, replicas with
the same bytes, a bounded tail of large files, safe names that uploads never match."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest

from networks import adapter_class, corpus, corpuscheck
from networks.corpuscheck import check_corpus, corpus_sample
from networks.launcher import Launcher
from networks.verify import FAIL, PASS
from node.names import check_name
from tests.http import call
from tests.patched import patched_definition

ROOT = Path(__file__).resolve().parent.parent
NODES = ["n1", "n2", "n3"]
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


def manifests(plan: dict[str, list[corpus.CorpusFile]]) -> dict[str, list[dict]]:
    """The manifests ``write_corpus`` would give, without writing (sha256 of each file)."""
    return {
        node: [
            {"name": f.name, "size": f.size, "sha256": hashlib.sha256(f.data()).hexdigest()}
            for f in files
        ]
        for node, files in plan.items()
    }


def test_the_same_seed_gives_the_same_corpus_byte_for_byte(tmp_path):
    first = corpus.write_corpus(tmp_path / "a", corpus.plan(NODES, 7, 40)["n2"])
    again = corpus.write_corpus(tmp_path / "b", corpus.plan(NODES, 7, 40)["n2"])
    other = corpus.plan(NODES, 8, 40)["n2"]
    assert first == again and len(first) >= 40
    assert [f["name"] for f in first] != [f.name for f in other]
    for entry in first:
        data = (tmp_path / "a" / entry["name"]).read_bytes()
        assert len(data) == entry["size"] and hashlib.sha256(data).hexdigest() == entry["sha256"]


def test_word_popularity_is_zipf_and_term_counts_are_what_a_substring_search_finds():
    found = manifests(corpus.plan(NODES, 7, 200))
    terms = corpus.search_terms(found)
    words = [t for t in terms if t.kind != corpus.NAME]
    assert words[0].text == corpus.VOCABULARY[0]
    assert words[0].total >= 50 * words[-1].total and words[-1].total == 1
    assert {t.kind for t in words} == {corpus.RARE, corpus.COMMON, corpus.POPULAR}
    assert max(words[0].hits.values()) >= 24  # a broad term: dozens of files on one node
    for term in words[:10] + words[-10:] + [t for t in terms if t.kind == corpus.NAME][:20]:
        for node, files in found.items():
            matches = sum(term.text.lower() in f["name"].lower() for f in files)
            assert matches == term.hits.get(node, 0), (term.text, node)


def test_replicas_have_the_same_name_and_bytes_on_other_nodes():
    found = manifests(corpus.plan(NODES, 7, 100))
    holders = defaultdict(set)
    for node, files in found.items():
        for f in files:
            holders[(f["name"], f["sha256"])].add(node)
    by_name = defaultdict(set)
    for name, sha in holders:
        by_name[name].add(sha)
    assert all(len(shas) == 1 for shas in by_name.values())  # a name is one content
    replicated = [key for key, nodes in holders.items() if len(nodes) > 1]
    assert len(replicated) == len(NODES) * int(100 * corpus.REPLICA_SHARE)
    for node, files in found.items():
        first = files[0]
        assert corpus.VOCABULARY[0] in first["name"] and f"-{node}-" in first["name"]
        assert holders[(first["name"], first["sha256"])] == {node}  # only its node holds it


def test_a_tail_of_large_files_bounded_and_most_files_small():
    plan = corpus.plan(NODES, 7, 500)
    for files in plan.values():
        large = [f for f in files if f.size > corpus.SMALL_MAX]
        assert 1 <= len(large) <= 500 // corpus.LARGE_EVERY
        assert all(f.size <= corpus.LARGE_MAX for f in large)
        assert all(f.size >= corpus.SMALL_MIN for f in files)
    many = corpus.plan([f"n{i}" for i in range(1, 101)], 7, 200)
    sizes = [f.size for files in many.values() for f in files]
    assert sum(s for s in sizes if s > corpus.SMALL_MAX) <= corpus.MAX_LARGE_BYTES
    assert sum(sizes) < 600 * 2**20


def test_quick_default_has_no_large_file():
    plan = corpus.plan(NODES, 7, corpus.DEFAULT_FILES_PER_NODE)
    assert max(f.size for files in plan.values() for f in files) <= corpus.SMALL_MAX


def test_names_are_safe_everywhere_and_unique_ignoring_case():
    plan = corpus.plan([f"n{i}" for i in range(1, 41)], 3, 300)
    names = {f.name for files in plan.values() for f in files}
    for name in names:
        assert SAFE_NAME.match(name) and check_name(name) == name, name
    assert len({n.lower() for n in names}) == len(names)


def test_no_vocabulary_word_matches_an_upload_or_another_word():
    rng = random.Random(1)
    added = [
        f"idx-{uuid.UUID(int=rng.getrandbits(128)).hex[:8]}-{i}-{rng.getrandbits(48):012x}.bin"
        for i in range(2000)
    ] + [f"conformance-{rng.getrandbits(48):012x}.bin" for _ in range(200)]
    for word in corpus.VOCABULARY:
        assert not any(word in name for name in added), word
        assert not set(word) <= corpus.UPLOAD_LETTERS
        assert [w for w in corpus.VOCABULARY if word in w] == [word]


def test_a_folder_holds_clutter_beside_its_catalog_that_no_search_finds(tmp_path):
    manifest = corpus.write_corpus(tmp_path, corpus.plan(NODES, 7, 40)["n1"])
    on_disk = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert {n: on_disk[n] for n in corpus.CLUTTER} == corpus.CLUTTER
    assert set(on_disk) - set(corpus.CLUTTER) == {f["name"] for f in manifest}
    for word in (*corpus.VOCABULARY, *corpus.RESERVED):
        assert not any(word in name.lower() for name in corpus.CLUTTER), word


def test_our_catalog_shares_every_file_of_a_cluttered_folder_and_no_clutter(tmp_path):
    from node.catalog import Catalog

    manifest = corpus.write_corpus(tmp_path / "shared", corpus.plan(NODES, 7, 40)["n1"])
    catalog = Catalog(tmp_path)
    catalog.rescan()
    assert {r.name for r in catalog.all()} == {f["name"] for f in manifest}


@pytest.mark.parametrize(("nodes", "files"), [(3, -1), (3, corpus.MAX_FILES_PER_NODE + 1)])
def test_a_corpus_out_of_bounds_is_refused_with_one_line(nodes, files):
    with pytest.raises(ValueError, match="files"):
        corpus.plan([f"n{i}" for i in range(nodes)], 7, files)


def test_a_network_too_big_for_the_corpus_is_refused():
    with pytest.raises(ValueError, match="corpus files"):
        corpus.check_size(100, corpus.MAX_CORPUS_FILES // 100 + 1)


@pytest.mark.integration
def test_the_corpus_check_catches_a_changed_byte_and_a_missing_file(tmp_path):
    with Launcher("builtin", 2, workdir=tmp_path, files_per_node=6) as network:
        nodes = network.node_infos()
        net = adapter_class("builtin")(nodes)
        try:
            intact = check_corpus(net, nodes)
            assert intact.outcome == PASS and "every node intact" in intact.detail, intact.detail
            n2 = network.nodes["n2"]
            flipped, gone = corpus_sample(nodes[1])[:2]  # files the check downloads
            path = n2.shared_dir / flipped["name"]
            data = bytearray(path.read_bytes())
            data[len(data) // 2] ^= 1
            path.write_bytes(bytes(data))
            assert call("POST", f"{n2.http}/files/rescan", {})[0] == 200
            changed = check_corpus(net, nodes)
            assert changed.outcome == FAIL and changed.detail.startswith("n2: "), changed.detail
            assert f"{flipped['name']} from n2 has the wrong sha256" in changed.detail
            (n2.shared_dir / gone["name"]).unlink()
            assert call("POST", f"{n2.http}/files/rescan", {})[0] == 200
            missing = check_corpus(net, nodes)
            assert f"1 missing ({gone['name']})" in missing.detail, missing.detail
        finally:
            net.close()


#: Our node with every chunk held back a second (its transfer loop blocked: slower still than
#: bench/defects.py's slow-first-chunk).
SLOW_FIRST_CHUNK = (
    "import time, node.transfer as t; e = t.encode_data_chunk; "
    "t.encode_data_chunk = lambda *a: time.sleep(1.0) or e(*a)"
)


@pytest.mark.integration
def test_downloads_too_slow_to_verify_in_the_budget_fail_the_check_in_time(tmp_path, monkeypatch):
    """Sequential downloads that each wait before their first byte once held a run's end for
    minutes: the corpus check now downloads a few nodes at once and gives up at its budget."""
    monkeypatch.setattr(corpuscheck, "CORPUS_BUDGET_S", 2.0)
    network = patched_definition(tmp_path, "slow", SLOW_FIRST_CHUNK)
    with Launcher(network, 3, workdir=tmp_path / "run", files_per_node=16) as launcher:
        nodes = launcher.node_infos()
        net = launcher.network.adapter_class(nodes)
        try:
            started = time.monotonic()
            check = check_corpus(net, nodes)
            took = time.monotonic() - started
        finally:
            net.close()
    assert check.outcome == FAIL, check.detail
    assert "sampled files not downloaded within the check's 2 s" in check.detail
    assert took < 2.0 + 3 * 1.0 + 2.0  # the budget, the downloads in flight, the listing


@pytest.mark.parametrize("module", ["networks.cluster", "networks.verify"])
def test_a_bad_files_per_node_is_one_line_and_exit_2_before_any_node_starts(module):
    most = corpus.MAX_FILES_PER_NODE
    run = subprocess.run(
        [sys.executable, "-m", module, "--files-per-node", str(most + 1)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 2 and run.stdout == "", run.stdout + run.stderr
    assert run.stderr.strip().endswith(f"--files-per-node must be 0..{most}, not {most + 1}")
    assert len(run.stderr.strip().splitlines()) == 1
