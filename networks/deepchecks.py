"""Conformance checks past the basics, where a newcomer's network is most often wrong.

- ``ttl1``: a search with TTL 1 reaches exactly the asking node's neighbours (a TTL off by one
  passes ``ttl0`` and, on a full mesh, everything else);
- ``flow``: the Phase 3 flow: a node downloads a file from another (``node_download``), then
  serves it with the same bytes, and a third node's search finds it there;
- ``concurrent``: many searches at once from one node, each answer judged: state shared
  between queries (a small dedupe cache, a pool, a lock) shows only under concurrency;
- ``remove``: a file taken away from a node (deleted from its folder, re-indexed) soon stops
  being found there and listed (a stale index answers with files no one can download);
- ``parallel``: several downloads of one large file at once, each stream held after its first
  chunk until all have begun: a node that streams one file at a time (Phase 4 asks for
  parallel gRPC streams) cannot begin the second while the first waits.

Each says in its detail what it could not verify on this network. The basic checks and the
helpers these build on are in networks/verify.py.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import threading
import uuid

from .adapter import (
    CHECKSUM,
    FILES,
    INDEX,
    NODE_DOWNLOAD,
    REMOVE,
    Adapter,
    Hit,
    NodeInfo,
    Refused,
    Unavailable,
)
from .corpuscheck import download_problem
from .reach import MAX_TTL, SEARCH_TTL, shared_term, within
from .topology import Topology
from .verify import (
    FAIL,
    NOT_MEASURABLE,
    PASS,
    Check,
    _call,
    _found,
    answer_model,
    found_soon,
    new_file,
    place_new_file,
    ttl_problem,
    wrong_answer,
)

#: Searches ``concurrent`` sends at once from one node: more than a small dedupe cache holds.
CONCURRENT_SEARCHES = 50
#: How far those searches go: files within this many hops, searched with this TTL. Close
#: enough that 50 floods at once stay a test of state shared between queries (degree d: about
#: d² nodes each) and not an unjudged stress test of the whole network (at 100 nodes, 50 floods
#: to the diameter are ~15,000 peer messages at once; the stress stage has its own gates).
CONCURRENT_TTL = 2
#: How long the whole concurrent batch may take, seconds.
CONCURRENT_TIMEOUT_S = 30.0


def check_ttl1(net: Adapter, nodes: list[NodeInfo], topology: Topology | None) -> Check:
    """From n1, a search for a word every node's files share with TTL 1 finds the files of
    exactly n1 and its neighbours."""
    name = "ttl1"
    if topology is None:
        return Check(name, NOT_MEASURABLE, "the network's links are unknown (no topology)")
    term = shared_term(nodes)
    if len(nodes) < 2 or term is None:
        return Check(name, NOT_MEASURABLE, "needs 2 nodes sharing a file name word")
    origin = nodes[0]
    hops = topology.hops_from(origin.name)
    seeded = {n.name for n in nodes if n.files}
    if wrong := ttl_problem(net, origin, term, 1, hops, seeded):
        return Check(name, FAIL, wrong)
    neighbours = sorted(n for n, k in hops.items() if k == 1)
    detail = f"TTL 1 from {origin.name} found exactly its {len(neighbours)} neighbours"
    if max(hops.values()) < 2:  # nobody 2 hops away: a TTL 1 that went on could not show
        detail += "; unverified: that it stops after one hop (no node is 2 hops away)"
    return Check(name, PASS, detail)


def check_flow(net: Adapter, nodes: list[NodeInfo], topology: Topology | None) -> Check:
    """A new file on A; B downloads it from A (the network's own node-to-node download), serves
    it with the same bytes, and C (a third node) finds it on B."""
    name = "flow"
    for needed, why in ((NODE_DOWNLOAD, "download from another node"), (INDEX, "add files")):
        if not net.has(needed):
            return Check(name, NOT_MEASURABLE, f"the network cannot be asked to {why}")
    if len(nodes) < 2:
        return Check(name, NOT_MEASURABLE, "needs 2 nodes")
    source, taker = nodes[0], _near(nodes, nodes[0], topology, ())
    finder = _near(nodes, taker, topology, (taker,), prefer_not=(source,))
    file, data = new_file()
    if problem := _flow_problem(net, source, taker, finder, file, data, topology):
        return Check(name, FAIL, f"{file['name']} from {source.name} to {taker.name}: {problem}")
    detail = f"{taker.name} downloaded a file from {source.name}, serves it intact, "
    detail += f"{finder.name} finds it there"
    unverified = [what for what, ok in _flow_unverified(net, finder, source) if not ok]
    return Check(name, PASS, detail + "".join(f"; unverified: {u}" for u in unverified))


def _flow_problem(
    net: Adapter,
    source: NodeInfo,
    taker: NodeInfo,
    finder: NodeInfo,
    file: dict,
    data: bytes,
    topology: Topology | None,
) -> str | None:
    """The first step of the flow that went wrong (None: none did)."""
    if why := _call(net.index, source, file["name"], data)[1]:
        return f"adding it to {source.name} failed: {why}"
    problem = _pulled(net, taker, source, file) or download_problem(net, taker, file)
    if problem := problem or _listed(net, taker, file):
        return problem
    if not found_soon(net, finder, taker, file, topology):
        return f"{finder.name} does not find it on {taker.name}"
    return None


def _near(
    nodes: list[NodeInfo],
    node: NodeInfo,
    topology: Topology | None,
    exclude: tuple[NodeInfo, ...],
    prefer_not: tuple[NodeInfo, ...] = (),
) -> NodeInfo:
    """The first other node a search from ``node`` reaches, avoiding ``prefer_not`` if it can."""
    near = within(topology, node.name, MAX_TTL)
    fit = [n for n in nodes if n is not node and n not in exclude and n.name in near]
    return next((n for n in fit if n not in prefer_not), fit[0] if fit else node)


def _pulled(net: Adapter, taker: NodeInfo, source: NodeInfo, file: dict) -> str | None:
    acked, why = _call(net.node_download, taker, file["name"], file["sha256"], source)
    if why:
        return f"the download failed: {why}"
    if acked and acked != file["sha256"]:
        return "the download was acknowledged with another sha256"
    return None


def _listed(net: Adapter, taker: NodeInfo, file: dict) -> str | None:
    if not net.has(FILES):
        return None
    held, why = _call(net.files, taker)
    if why:
        return f"{taker.name} does not list its files: {why}"
    if file["name"] not in held:
        return f"{taker.name} does not list it"
    return None


def _flow_unverified(net: Adapter, finder: NodeInfo, source: NodeInfo) -> list[tuple[str, bool]]:
    return [
        ("the taker's file list (the network lists none)", net.has(FILES)),
        ("a third node's search (2 nodes)", finder is not source),
    ]


def check_remove(net: Adapter, nodes: list[NodeInfo], topology: Topology | None) -> Check:
    if not (net.has(INDEX) and net.has(REMOVE)):
        return Check("remove", NOT_MEASURABLE, "the network cannot be given and rid of files")
    if len(nodes) < 2:
        return Check("remove", NOT_MEASURABLE, "needs 2 nodes")
    if why := net.removable(nodes[-1]):
        return Check("remove", NOT_MEASURABLE, why)
    placed = place_new_file(net, nodes, topology)
    if placed.failure:
        return Check("remove", FAIL, f"before the removal: {placed.failure}")
    owner, searcher, name = placed.owner, placed.searcher, placed.file["name"]
    _, why = _call(net.remove, owner, name)
    if why:
        return Check("remove", FAIL, f"removing {name} from {owner.name} failed: {why}")
    if not found_soon(net, searcher, owner, placed.file, topology, present=False):
        return Check("remove", FAIL, f"{name}, removed from {owner.name}, still found there")
    if net.has(FILES):
        held, why = _call(net.files, owner)
        if why:
            return Check("remove", FAIL, f"{owner.name} does not list its files: {why}")
        if name in held:
            return Check("remove", FAIL, f"{owner.name} still lists {name}")
    return Check("remove", PASS, f"a file removed from {owner.name} no longer found from "
                 f"{searcher.name}")  # fmt: skip


def check_concurrent(net: Adapter, nodes: list[NodeInfo], topology: Topology | None) -> Check:
    """``CONCURRENT_SEARCHES`` searches at once from n1, each for a different file of another
    node within ``CONCURRENT_TTL`` hops (with the TTL that reaches the farthest of them), each
    answer judged: found on its holder,
    and nothing the checker (reports.checker) finds wrong. One adapter per search: an adapter
    serves one caller."""
    name = "concurrent"
    origin = nodes[0]
    near = within(topology, origin.name, CONCURRENT_TTL)
    wanted = [(n, f) for n in nodes if n is not origin and n.name in near for f in n.files]
    if not wanted:
        return Check(name, NOT_MEASURABLE, "needs 2 nodes and a seeded corpus")
    # Spread over the files within reach; a small corpus asks for some twice (each a query
    # of its own all the same).
    picked = [wanted[i * len(wanted) // CONCURRENT_SEARCHES] for i in range(CONCURRENT_SEARCHES)]
    model = answer_model(net, nodes, topology)
    # The TTL that reaches the farthest holder asked for, no more: on a full mesh TTL 2 would
    # make every search ~N² messages (3,200 for 50 searches on 9 nodes), a stress test of the
    # machine, not of state shared between queries (measured: partial answers on 2 busy cores).
    ttl = SEARCH_TTL
    if topology is not None:
        hops = topology.hops_from(origin.name)
        ttl = max(hops[holder.name] for holder, _ in picked)

    def one(pair: tuple[NodeInfo, dict]) -> str | None:
        holder, file = pair
        own = type(net)(list(net.nodes.values()))
        try:
            answer, why = _call(own.search, origin, file["name"], ttl)
            if why:
                return why
            if not _found(answer.hits, holder.name, file):
                return f"{holder.name}'s {file['name']} not found"
            return wrong_answer(model, origin, file["name"], ttl, answer)
        finally:
            own.close()

    pool = concurrent.futures.ThreadPoolExecutor(len(picked), thread_name_prefix="concurrent")
    try:
        jobs = [pool.submit(one, pair) for pair in picked]
        done, late = concurrent.futures.wait(jobs, CONCURRENT_TIMEOUT_S)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # each call has its own timeout
    wrong = [_outcome(j) for j in done if _outcome(j)] + ["no answer in time"] * len(late)
    if wrong:
        detail = f"{len(wrong)} of {len(picked)} searches at once from {origin.name} wrong: "
        return Check(name, FAIL, detail + "; ".join(sorted(set(wrong))[:3]))
    detail = f"{len(picked)} searches at once from {origin.name}: every answer right"
    if not net.has(CHECKSUM):
        detail += "; unverified: the hits' sha256 (the network gives none)"
    return Check(name, PASS, detail)


def _outcome(job: concurrent.futures.Future) -> str | None:
    """A search's problem, an adapter error included (one line, never a traceback)."""
    error = job.exception()
    return f"{type(error).__name__}: {error}" if error else job.result()


#: Downloads ``parallel`` begins at once.
PARALLEL_DOWNLOADS = 4
#: The file they fetch: more than gRPC's flow-control windows and the sockets buffer between a
#: server and a client that stops reading, so a server streaming one file at a time is still
#: inside the first stream when the others ask. Measured on our node: ~1 MiB reaches a held
#: stream when the adapter keeps its windows steady (``Adapter.steady_windows``, set here), but
#: 5-20 MiB when gRPC's BDP probe grows them with the first chunks' throughput.
PARALLEL_BYTES = 32 * 1024 * 1024
#: How long each stream, after its first chunk, waits for the others' first chunks.
PARALLEL_WAIT_S = 5.0
#: Each whole download's deadline, seconds.
PARALLEL_TIMEOUT_S = 30.0


def check_parallel(net: Adapter, nodes: list[NodeInfo]) -> Check:
    """``PARALLEL_DOWNLOADS`` downloads of one new ``PARALLEL_BYTES`` file from n1 at once:
    each reads its first chunk, then waits (``PARALLEL_WAIT_S``) until every stream has begun,
    then reads to the end; each must arrive whole. One adapter per stream."""
    name = "parallel"
    if not net.has(INDEX):
        return Check(name, NOT_MEASURABLE, "the network cannot be given the large file it needs")
    owner = nodes[0]
    block = os.urandom(1024 * 1024)  # random: a compressing transport cannot shrink it
    data = block * (PARALLEL_BYTES // len(block))
    file = f"conformance-parallel-{uuid.uuid4().hex[:12]}.bin"
    sha256 = hashlib.sha256(data).hexdigest()
    _, why = _call(net.index, owner, file, data)
    if why:
        size = f"{PARALLEL_BYTES // 2**20} MiB"
        return Check(name, NOT_MEASURABLE, f"adding a {size} file to {owner.name} failed: {why}")
    del data
    hit = Hit(owner.name, file, sha256, PARALLEL_BYTES, 0, owner.grpc)
    everyone = threading.Barrier(PARALLEL_DOWNLOADS, timeout=PARALLEL_WAIT_S)

    def one(_: int) -> tuple[bool, str | None]:
        """Whether every stream had begun while this one waited, and what went wrong."""
        own = type(net)(list(net.nodes.values()))
        own.steady_windows = True  # a held stream's window must not grow to take a whole file
        digest = hashlib.sha256()
        try:
            stream = own.download(owner, hit, PARALLEL_TIMEOUT_S)
            digest.update(next(stream, b""))
            try:
                everyone.wait()
                together = True
            except threading.BrokenBarrierError:
                together = False
            for chunk in stream:
                digest.update(chunk)
        except (Unavailable, Refused) as exc:
            return False, f"a download failed: {exc}"
        finally:
            own.close()
        return together, None if digest.hexdigest() == sha256 else "a download's sha256 differs"

    pool = concurrent.futures.ThreadPoolExecutor(PARALLEL_DOWNLOADS, thread_name_prefix=name)
    try:
        results = list(pool.map(one, range(PARALLEL_DOWNLOADS), timeout=2 * PARALLEL_TIMEOUT_S))
    except concurrent.futures.TimeoutError:
        return Check(
            name, FAIL, f"{PARALLEL_DOWNLOADS} downloads from {owner.name}: no end in time"
        )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    wrong = sorted({why for _, why in results if why})
    if wrong:
        return Check(name, FAIL, f"{PARALLEL_DOWNLOADS} downloads at once: {'; '.join(wrong)}")
    if not all(together for together, _ in results):
        return Check(
            name,
            FAIL,
            f"{PARALLEL_DOWNLOADS} downloads of one {PARALLEL_BYTES // 2**20} MiB file from "
            f"{owner.name} at once never all began within {PARALLEL_WAIT_S:g} s of each other: "
            "its files are streamed one (or a few) at a time, not in parallel",
        )
    return Check(
        name,
        PASS,
        f"{PARALLEL_DOWNLOADS} downloads of a {PARALLEL_BYTES // 2**20} MiB file from "
        f"{owner.name} streamed at once, each intact",
    )
