"""The download checks of conformance: ``download`` (a file from each node arrives with its seeded
sha256, and its stream states it as seeded: ``reports.stated``) and ``corpus`` (every node lists
its seeded files, and a fixed sample of each downloads intact). The corpus is checked a few nodes
at a time within a budget: a network whose first bytes come late must still get its verdict, not
hold the run's end for minutes (80 files at 1.5 s each, one after another, outlasted a 300 s
run)."""

from __future__ import annotations

import hashlib
import random
import time
from concurrent.futures import ThreadPoolExecutor

from reports.stated import contradictions

from .adapter import (
    DOWNLOAD,
    FILES,
    Adapter,
    Hit,
    NodeInfo,
    Refused,
    Unavailable,
    read_download,
)
from .verify import FAIL, NOT_MEASURABLE, PASS, Check, _call, listed

#: Each download's deadline, seconds.
DOWNLOAD_TIMEOUT_S = 5.0
#: Per node, the seeded files the corpus check downloads (and their bytes at most).
CORPUS_SAMPLE_FILES = 16
CORPUS_SAMPLE_BYTES = 4 * 1024 * 1024
#: Nodes whose corpus is checked at once, and how long the whole check may download.
CORPUS_WORKERS = 4
CORPUS_BUDGET_S = 60.0


def held_hit(node: NodeInfo, file: dict) -> Hit:
    """A hit for ``file`` as ``node``, its holder, would answer it (what a download asks)."""
    return Hit(node.name, file["name"], file["sha256"], file.get("size"), 0, node.grpc)


def download_problem(net: Adapter, node: NodeInfo, file: dict) -> str | None:
    """Download ``file`` from ``node`` and check it against the seeded sha256."""
    digest, received = hashlib.sha256(), 0

    def take(data: bytes) -> None:
        nonlocal received
        digest.update(data)
        received += len(data)

    try:
        stated = read_download(net.download(node, held_hit(node, file), DOWNLOAD_TIMEOUT_S), take)
    except (Unavailable, Refused) as exc:
        return f"download of {file['name']} from {node.name} failed: {exc}"
    if digest.hexdigest() != file["sha256"]:
        return f"download of {file['name']} from {node.name} has the wrong sha256"
    truth = {**file, "node": node.name, "bytes": received}
    wrong = contradictions(stated.facts(), truth) if stated is not None else []
    if wrong:
        return f"the stream of {file['name']} from {node.name} said: {'; '.join(wrong)}"
    return None


def check_download(net: Adapter, nodes: list[NodeInfo]) -> Check:
    seeded = [n for n in nodes if n.files]
    if not seeded:
        return Check("download", NOT_MEASURABLE, "no seeded corpus to download")
    problems = [p for n in seeded if (p := download_problem(net, n, n.files[0]))]
    detail = listed(problems) or f"a file from each of {len(seeded)} nodes verifies"
    return Check("download", FAIL if problems else PASS, detail)


def corpus_sample(node: NodeInfo) -> list[dict]:
    """The seeded files of ``node`` the corpus check downloads: a fixed pick per node, within
    ``CORPUS_SAMPLE_FILES`` and ``CORPUS_SAMPLE_BYTES`` (all of them in a small corpus)."""
    picked, room = [], CORPUS_SAMPLE_BYTES
    for file in random.Random(node.name).sample(node.files, len(node.files)):
        if len(picked) == CORPUS_SAMPLE_FILES:
            break
        if file["size"] <= room:
            picked.append(file)
            room -= file["size"]
    return picked


def _named(what: str, files: list[dict]) -> str:
    more = ", …" if len(files) > 2 else ""
    return f"{len(files)} {what} ({', '.join(f['name'] for f in files[:2])}{more})"


def _node_problems(net: Adapter, node: NodeInfo, deadline: float) -> tuple[list[str], int, int]:
    """One node's corpus: its problems, how many of its files it lists without a digest, and
    how many of its sample it downloaded and verified (on an adapter of its own: the nodes are
    checked a few at once)."""
    own = type(net)(list(net.nodes.values()))
    try:
        held, why = _call(own.files, node)
        if why:
            return [f"{node.name} does not list its files"], 0, 0
        missing = [f for f in node.files if f["name"] not in held]
        changed = [
            f for f in node.files if held.get(f["name"], f["sha256"]) not in (None, f["sha256"])
        ]
        undigested = sum(1 for f in node.files if f["name"] in held and held[f["name"]] is None)
        found = (("missing", missing), ("listed with another sha256", changed))
        bad = [_named(what, files) for what, files in found if files]
        sample = corpus_sample(node) if own.has(DOWNLOAD) else []
        done = 0
        for file in sample:
            if time.monotonic() > deadline:
                bad.append(
                    f"{len(sample) - done} of {len(sample)} sampled files not downloaded within "
                    f"the check's {CORPUS_BUDGET_S:g} s (downloads too slow to verify)"
                )
                break
            if problem := download_problem(own, node, file):
                bad.append(problem)
            done += 1
        return ([f"{node.name}: {'; '.join(bad)}"] if bad else []), undigested, done
    finally:
        own.close()


def check_corpus(net: Adapter, nodes: list[NodeInfo]) -> Check:
    """Every node lists its seeded files with their sha256 (so their size too: same digest,
    same bytes), and a sample of them downloads with those bytes: a listing is the node's
    word, a download is the file. Where the network lists no digests only names are compared,
    and the detail says so rather than "intact". ``CORPUS_WORKERS`` nodes at a time, all
    within ``CORPUS_BUDGET_S``: a network whose downloads are slow still gets its verdict."""
    if not net.has(FILES):
        return Check("corpus", NOT_MEASURABLE, "the network does not list a node's files")
    deadline = time.monotonic() + CORPUS_BUDGET_S
    with ThreadPoolExecutor(CORPUS_WORKERS, thread_name_prefix="corpus") as pool:
        per_node = list(pool.map(lambda n: _node_problems(net, n, deadline), nodes))
    problems = [p for found, _, _ in per_node for p in found]
    undigested = sum(u for _, u, _ in per_node)
    downloaded = sum(d for _, _, d in per_node)
    if problems:
        return Check("corpus", FAIL, listed(problems))
    seeded = sum(len(n.files) for n in nodes)
    verified = f"{downloaded} downloaded and verified"
    if undigested:
        detail = f"every node lists its {seeded} seeded files, {undigested} by name only (no "
        return Check("corpus", PASS, detail + f"digest listed); {verified}")
    return Check("corpus", PASS, f"every node intact: {seeded} files' sha256 listed, {verified}")
