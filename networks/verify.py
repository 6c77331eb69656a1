"""Conformance before load: is this network working at all? Named checks, each pass or fail.

The same checks are the Locust run's initial and final verification, and the command

    python -m networks.verify [--network NAME|FILE|module:Class] [--cluster DESCRIPTOR] [--nodes N]

which starts the network (or attaches to a running one through its descriptor), runs them and
exits 0 (all passed), 1 (one failed) or 2 (bad options, the network did not start). A check the
network cannot be asked (its adapter lacks the capability) says "not measurable", never pass.

- ``up``: every node answers its health call;
- ``joined``: every node sees every other alive (needs a peers view);
- ``search``: a search from each node finds a file held only by another node (and reaches
  every node, where the network says which answered);
- ``ttl0``: a search with TTL 0 stays on the node it was asked on;
- ``ttl_depth``: on a topology where some node is 2 or more hops away (line, ring, sparse
  graphs), a search with TTL k finds the files of exactly the nodes within k hops (k = 1, 2, 3
  while the farthest node is beyond the previous k): hits from beyond the TTL, or a node within
  it missing, fail. Not measurable on a full mesh (every node is 1 hop away) or when the links
  are unknown;
- ``download``: a file from each node downloads with the seeded sha256, its stream saying what
  the seed says of it (``reports.stated``);
- ``corpus``: every node still lists its seeded files with their sha256 (needs file lists), and
  a fixed sample of them downloads with those bytes;
- ``index``: a newly added file becomes findable from another node (needs indexing).

Past these, networks/deepchecks.py (``ttl1``, ``flow``, ``remove``, ``parallel``,
``concurrent``), networks/sizecheck.py (``sizes``: files of 0, 1 and chunk-boundary bytes),
networks/countcheck.py (``counts``: a node's own totals count what it was asked),
networks/diskcheck.py (``full_disk``: where data dirs are small disks, a full one refuses
writes cleanly and loses nothing) and networks/malformed.py (``malformed``: bad input refused,
the node unharmed).
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

# The one checker of search answers: conformance judges its answers as the run judges its own.
from reports.checker import COMPLETE, compact_hit, judge_answer
from reports.evidence import Evidence
from reports.integrity import OBSERVATIONS, observation, summary
from reports.model import Model

from . import corpus

if TYPE_CHECKING:
    from .diskcheck import SmallDisks
from .adapter import (
    ALIVE,
    FILES,
    INDEX,
    LISTED,
    MEMBERS,
    PEERS,
    SEES,
    Adapter,
    Hit,
    NodeInfo,
    Refused,
    Unavailable,
)
from .outcomes import FAIL, NOT_MEASURABLE, PASS
from .reach import MAX_TTL, depth_problems, search_ttl, searcher, shared_term, within
from .readiness import describe
from .topology import Topology

#: The depths ``ttl_depth`` checks, while the farthest node is beyond the previous one.
TTL_DEPTHS = (1, 2, 3)
#: Per-node problems a check's detail spells out; the rest are counted (100 nodes stay a line).
MAX_LISTED = 5
INDEX_WAIT_S = 5.0
POLL_S = 0.25
INDEX_BYTES = 4096
#: A peer a node calls alive must have been heard from within this long: longer than any
#: failure detector waits before it suspects (on 200 of our nodes a probe round is ~2 min).
STALE_ALIVE_S = 300.0
#: How far back a node's wall clock may step between hearing from a peer and saying so.
CLOCK_STEP_S = 1.0
MAX_SEARCHABLE_CHECKS = 200


@dataclass(frozen=True)
class Check:
    """One named conformance check and what it found."""

    name: str
    outcome: str  # PASS | FAIL | NOT_MEASURABLE
    detail: str

    def line(self) -> str:
        """``FAIL  search: from n1, n3's alpha-n3-000.txt not found``."""
        return f"{self.outcome:<15} {self.name}: {self.detail}"


def _call(fn: Callable, *args):
    """An adapter call; ``(result, None)`` or ``(None, "why it failed")``."""
    try:
        return fn(*args), None
    except Unavailable:
        return None, "does not answer"
    except Refused as exc:
        return None, str(exc)


def _other(
    nodes: list[NodeInfo], node: NodeInfo, topology: Topology | None = None
) -> NodeInfo | None:
    """The next node after ``node`` (round robin) that has a seeded corpus and that a search
    from ``node`` can reach (``search_ttl``)."""
    start = nodes.index(node)
    near = within(topology, node.name, MAX_TTL)
    return next((n for n in nodes[start + 1 :] + nodes[:start] if n.files and n.name in near), None)


def _found(hits: tuple[Hit, ...], holder: str, file: dict) -> bool:
    return any(
        h.node == holder and h.name == file["name"] and h.sha256 in (None, file["sha256"])
        for h in hits
    )


def answer_model(net: Adapter, nodes: list[NodeInfo], topology: Topology | None) -> Model:
    """What conformance answers are judged against (``reports.model``): each node's file list
    where the network gives one (after a run it holds uploads and pulled copies too), else its
    seeded corpus; the links of ``topology``, else a full mesh."""
    listed = []
    for node in nodes:
        held = _call(net.files, node)[0] if net.has(FILES) else None
        seeded = {f["name"]: f for f in node.files}
        files = list(node.files)
        if held is not None:
            files = [
                {"name": name, "sha256": sha, "size": seeded.get(name, {}).get("size")}
                for name, sha in held.items()
            ]
        listed.append({"name": node.name, "files": files})
    ev = Evidence(
        nodes=listed,
        topology=_links(topology),
        network_match=getattr(net, "match", None),
        network_hops=getattr(net, "hops", None),
    )
    model = Model.from_evidence(ev)
    assert model is not None  # nodes listed: there is a model
    return model


def _links(topology: Topology | None) -> dict:
    return topology.to_dict() if topology is not None else {}


def wrong_answer(model: Model, node: NodeInfo, term: str, ttl: int, answer) -> str | None:
    """What the checker (``reports.checker``) finds wrong with a quiet network's answer."""
    hits = [compact_hit(h) for h in answer.hits]
    judged = judge_answer(
        model, node.name, term, ttl, 0.0, 0.0, hits, answer.reached, answer.partial, answer.messages
    )
    if judged.answer == COMPLETE:
        return None
    return f"answer {judged.answer}" + (f" ({judged.note})" if judged.note else "")


def listed(problems: list[str], limit: int = MAX_LISTED) -> str:
    """``problems`` joined, the first ``limit`` spelt out and the rest counted."""
    more = len(problems) - limit
    return "; ".join(problems[:limit]) + (f"; … and {more} more" if more > 0 else "")


def check_up(net: Adapter, nodes: list[NodeInfo]) -> Check:
    down = [n.name for n in nodes if _call(net.health, n)[1]]
    detail = f"{', '.join(down)} {'does' if len(down) == 1 else 'do'} not answer" if down else ""
    return Check("up", FAIL if down else PASS, detail or f"all {len(nodes)} nodes answer")


def check_joined(net: Adapter, nodes: list[NodeInfo]) -> Check:
    """Every node sees every other: alive, or listed (``members``: liveness unknown)."""
    if not (net.has(PEERS) or net.has(MEMBERS)):
        return Check("joined", NOT_MEASURABLE, "the network has no peers view")
    seen = "alive" if net.has(PEERS) else LISTED
    gaps = []
    for node in nodes:
        view, why = _call(net.peers, node)
        missing = [n.name for n in nodes if n is not node and (view or {}).get(n.name) not in SEES]
        if why or missing:
            what = f"does not see {', '.join(missing)} {seen} ({describe(node.name, view)})"
            gaps.append(f"{node.name} {why or what}")
        gaps += stale_views(net, node, view or {})
    if gaps:
        return Check("joined", FAIL, listed(gaps))
    if net.has(PEERS):
        return Check("joined", PASS, "every node sees all alive")
    return Check("joined", PASS, "every node lists all; unverified: whether they are alive")


def stale_views(net: Adapter, node: NodeInfo, view: dict[str, str]) -> list[str]:
    """Peers ``node`` calls alive while it says it last heard from them longer ago than
    ``STALE_ALIVE_S`` (or in its future), where the network says when."""
    seen = net.last_seen_s.get(node.name, {})
    return [
        f"{node.name} says {peer} alive, last heard from {seen[peer]:.6g} s ago"
        for peer, state in sorted(view.items())
        if state == ALIVE and peer in seen and not -CLOCK_STEP_S <= seen[peer] <= STALE_ALIVE_S
    ]


def check_search(net: Adapter, nodes: list[NodeInfo], topology: Topology | None = None) -> Check:
    """From each node, a file only another node holds, with a TTL that reaches every node (up
    to ``MAX_TTL`` hops on the topology), and every node within it answering."""
    if not any(n.files for n in nodes) or len(nodes) < 2:
        return Check("search", NOT_MEASURABLE, "needs 2 nodes and a seeded corpus")
    problems, model, unsaid = [], answer_model(net, nodes, topology), False
    for node in nodes:
        other = _other(nodes, node, topology)
        if other is None or other is node:
            continue
        file = other.files[0]
        ttl = search_ttl(topology, node.name)
        answer, why = _call(net.search, node, file["name"], ttl)
        near = {n.name for n in nodes if n.name in within(topology, node.name, ttl)}
        if why:
            problems.append(f"from {node.name}: {why}")
        elif not _found(answer.hits, other.name, file):
            problems.append(f"from {node.name}, {other.name}'s {file['name']} not found")
        elif answer.reached is not None and not near <= set(answer.reached):
            problems.append(f"from {node.name} reached {len(answer.reached)} of {len(near)}")
        elif wrong := wrong_answer(model, node, file["name"], ttl, answer):
            problems.append(f"from {node.name}: {wrong}")
        unsaid = unsaid or (answer is not None and answer.reached is None)
    detail = listed(problems) or "each node finds a file only another node holds"
    if unsaid and not problems:
        detail += "; unverified: which nodes answered (the network does not say)"
    return Check("search", FAIL if problems else PASS, detail)


def check_ttl0(net: Adapter, nodes: list[NodeInfo]) -> Check:
    node = nodes[0]
    other = _other(nodes, node)
    if other is None or other is node:
        return Check("ttl0", NOT_MEASURABLE, "needs 2 nodes and a seeded corpus")
    answer, why = _call(net.search, node, other.files[0]["name"], 0)
    if why:
        return Check("ttl0", FAIL, f"from {node.name}: {why}")
    leaked = sorted({h.node for h in answer.hits if h.node != node.name})
    detail = f"TTL 0 from {node.name} returned hits from {', '.join(leaked)}" if leaked else ""
    return Check("ttl0", FAIL if leaked else PASS, detail or f"TTL 0 from {node.name} stays local")


def check_ttl_depth(net: Adapter, nodes: list[NodeInfo], topology: Topology | None) -> Check:
    """From the node farthest from the rest, a search for a word every node's files share,
    with TTL 1, 2, 3 (while the farthest node is beyond the previous TTL), finds the files of
    exactly the nodes within TTL hops."""
    name = "ttl_depth"
    if topology is None:
        return Check(name, NOT_MEASURABLE, "the network's links are unknown (no topology)")
    if topology.diameter < 2:
        why = "a full mesh" if topology.is_full else f"{topology.spec}, diameter 1"
        return Check(name, NOT_MEASURABLE, f"{why}: every node is 1 hop away, a TTL cannot show")
    term = shared_term(nodes)
    if term is None:
        return Check(name, NOT_MEASURABLE, "no file name word every seeded node shares")
    origin = max(nodes, key=lambda n: (topology.eccentricity(n.name), -nodes.index(n)))
    hops = topology.hops_from(origin.name)
    seeded = {n.name for n in nodes if n.files}
    depths = [k for k in TTL_DEPTHS if k == 1 or k - 1 < max(hops.values())]
    problems = []
    for ttl in depths:
        if wrong := ttl_problem(net, origin, term, ttl, hops, seeded):
            problems.append(wrong)
    detail = "; ".join(problems) or (
        f"TTL {', '.join(map(str, depths))} from {origin.name} on {topology.spec}: "
        "hits from exactly the nodes within TTL hops"
    )
    return Check(name, FAIL if problems else PASS, detail)


def ttl_problem(
    net: Adapter, origin: NodeInfo, term: str, ttl: int, hops: dict[str, int], seeded: set[str]
) -> str | None:
    """What a TTL-``ttl`` search for ``term`` from ``origin`` got wrong (None: nothing): hits
    from beyond the TTL, fewer hops than the links allow, seeded nodes within it missing."""
    answer, why = _call(net.search, origin, term, ttl)
    wrong = why or depth_problems(answer.hits, answer.reached, hops, seeded, ttl)
    return f"TTL {ttl} from {origin.name}: {wrong}" if wrong else None


def check_index(
    net: Adapter,
    nodes: list[NodeInfo],
    topology: Topology | None = None,
    wait_s: float = INDEX_WAIT_S,
) -> Check:
    if not net.has(INDEX):
        return Check("index", NOT_MEASURABLE, "the network cannot be given new files")
    if len(nodes) < 2:
        return Check("index", NOT_MEASURABLE, "needs 2 nodes")
    placed = place_new_file(net, nodes, topology, wait_s)
    if placed.failure:
        return Check("index", FAIL, placed.failure)
    unverified = "; unverified: the digest it stored (none acknowledged)" if placed.unacked else ""
    where = f"{placed.owner.name} found from {placed.searcher.name}"
    return Check("index", PASS, f"a file new on {where}{unverified}")


@dataclass(frozen=True)
class Placed:
    """A file new on ``owner`` that ``searcher`` looked for; ``failure`` says what went wrong."""

    owner: NodeInfo
    searcher: NodeInfo
    file: dict
    unacked: bool = False
    failure: str = ""


def place_new_file(
    net: Adapter, nodes: list[NodeInfo], topology: Topology | None, wait_s: float = INDEX_WAIT_S
) -> Placed:
    """A new file given to the last node, then searched for from a node within reach."""
    owner = nodes[-1]
    near = within(topology, owner.name, MAX_TTL)
    searcher = next(n for n in nodes if n is not owner and n.name in near)
    file, data = new_file()
    acked, why = _call(net.index, owner, file["name"], data)
    if why:
        failure = f"adding {file['name']} to {owner.name} failed: {why}"
    elif acked not in (None, file["sha256"]):
        failure = f"{owner.name} acknowledged {file['name']} with another sha256"
    elif not found_soon(net, searcher, owner, file, topology, wait_s):
        failure = f"{file['name']}, new on {owner.name}, not found from {searcher.name}"
    else:
        failure = ""
    return Placed(owner, searcher, file, acked is None, failure)


def new_file(size: int = INDEX_BYTES) -> tuple[dict, bytes]:
    """A file of ``size`` bytes no node holds and no user searches for:
    ``{"name", "sha256", "size"}``, bytes."""
    data = (uuid.uuid4().bytes * (size // 16 + 1))[:size]
    name = f"conformance-{uuid.uuid4().hex[:12]}.bin"
    return {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}, data


def found_soon(
    net: Adapter,
    searcher: NodeInfo,
    holder: NodeInfo,
    file: dict,
    topology: Topology | None,
    wait_s: float = INDEX_WAIT_S,
    *,
    present: bool = True,
) -> bool:
    """Whether a search from ``searcher`` finds ``file`` on ``holder`` within ``wait_s``
    (asked again every ``POLL_S``: a network may index in the background); with ``present``
    False, whether an answer soon stops naming it there."""
    ttl = search_ttl(topology, searcher.name, holder.name)
    deadline = time.monotonic() + wait_s
    while True:
        answer, _ = _call(net.search, searcher, file["name"], ttl)
        if answer is not None and _found(answer.hits, holder.name, file) == present:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)


def conformance(
    net: Adapter,
    nodes: list[NodeInfo],
    *,
    index: bool = True,
    topology: Topology | None = None,
    rogue: bool = False,
    disks: SmallDisks | None = None,
) -> list[Check]:
    """Every check, in order; past a node that is down, only ``up`` is meaningful. Without
    ``index`` (the final verification) nothing is added to the nodes: no ``index``, no
    ``flow``. ``topology``: the links the nodes were joined in (None: unknown, ``ttl_depth``
    cannot tell, and the search check assumes every node is within ``SEARCH_TTL``). ``disks``:
    the nodes' data dirs are small disks it may fill (``full_disk``, with ``index``). ``rogue``
    last: the member it joins stays in the nodes' membership (a run checks it at its end)."""
    from .accountcheck import check_account
    from .corpuscheck import check_corpus, check_download
    from .countcheck import check_counts
    from .deepchecks import check_concurrent, check_flow, check_parallel, check_remove, check_ttl1
    from .diskcheck import check_full_disk
    from .malformed import check_malformed
    from .minimalcheck import check_minimal
    from .roguecheck import check_rogue
    from .sizecheck import check_sizes

    up = check_up(net, nodes)
    if up.outcome == FAIL:
        return [up]
    checks = [up, check_joined(net, nodes), check_account(net, nodes)]
    checks.append(check_search(net, nodes, topology))
    checks += [check_ttl0(net, nodes), check_ttl1(net, nodes, topology)]
    checks += [check_ttl_depth(net, nodes, topology)]
    checks.append(check_download(net, nodes))
    if index:  # nothing else asks the nodes for anything yet: their totals can add up exactly
        checks.append(check_counts(net, nodes))
    checks.append(check_corpus(net, nodes))
    if index:
        checks += [check_index(net, nodes, topology), check_flow(net, nodes, topology)]
        checks.append(check_sizes(net, nodes))
        if disks is not None:
            checks.append(check_full_disk(net, nodes, disks))
        checks += [check_remove(net, nodes, topology), check_parallel(net, nodes)]
        checks.append(check_malformed(net, nodes))
    checks.append(check_concurrent(net, nodes, topology))
    if rogue:
        checks += [check_minimal(net, nodes), check_rogue(net, nodes)]
    return checks


def descriptor_topology(descriptor: dict) -> Topology | None:
    """The topology a descriptor records (None: not recorded, e.g. nodes given by URL);
    ValueError when the record is malformed."""
    recorded = descriptor.get("topology")
    if recorded is None:
        return None
    topology = Topology.from_dict(recorded)
    if set(topology.nodes) != {str(n.get("name")) for n in descriptor.get("nodes") or ()}:
        raise ValueError("topology: its nodes are not the descriptor's nodes")
    return topology


def problems(checks: list[Check]) -> list[str]:
    """The failed checks, one line each (empty: the network passed)."""
    return [f"{c.name}: {c.detail}" for c in checks if c.outcome == FAIL]


def integrity(
    net: Adapter, nodes: list[NodeInfo], acked: list[dict], topology: Topology | None = None
) -> dict:
    """What is seen of each acknowledged upload (one file list per node; for a sample of those
    still there, a search from another node: a neighbour, on a topology), and its summary
    (``reports.integrity``, which the verdict judges again from the observations)."""
    held: dict[str, dict | None] = {}
    seen, searched = [], 0
    by_name = {n.name: n for n in nodes}
    for item in acked:
        node = by_name[item["node"]]
        if node.name not in held:
            held[node.name] = _call(net.files, node)[0] if net.has(FILES) else None
        files, found = held[node.name], None
        intact = files is not None and files.get(item["name"], "") in (None, item["sha256"])
        if intact and searched < MAX_SEARCHABLE_CHECKS and len(nodes) > 1:
            searched += 1
            other = searcher(nodes, node, topology)
            answer, _ = _call(
                net.search, other, item["name"], search_ttl(topology, other.name, node.name)
            )
            found = answer is not None and _found(answer.hits, node.name, item)
        seen.append(observation(item, files, found))
    return {**summary(seen), OBSERVATIONS: seen}


def main(argv: list[str] | None = None) -> int:
    """``python -m networks.verify``: start (or attach to) a network, check it, say so."""
    import argparse
    import json
    from pathlib import Path

    from . import BUILTIN, adapter_class
    from .launcher import Launcher
    from .topology import DEFAULT as DEFAULT_TOPOLOGY

    p = argparse.ArgumentParser(
        prog="python -m networks.verify", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "--network", default=None, help="builtin (default), a definition file, or module:Class"
    )
    p.add_argument("--nodes", type=int, default=3, help="how many nodes to start (default 3)")
    p.add_argument(
        "--cluster", type=Path, help="a running network's descriptor (cluster.json): attach"
    )
    p.add_argument("--netns", action="store_true", help="one network namespace per node")
    p.add_argument(
        "--topology",
        default=DEFAULT_TOPOLOGY,
        metavar="SPEC",
        help="links to start the nodes in: full (default), line, ring, random:d=4, "
        "smallworld:k=4,p=0.1, twotier:ultra=U,leaf=3 (attached: the descriptor's)",
    )
    p.add_argument("--seed", type=int, default=7, help="seed of the corpus (default 7)")
    p.add_argument(
        "--files-per-node",
        type=int,
        default=corpus.DEFAULT_FILES_PER_NODE,
        metavar="N",
        help=f"corpus files of each node started (default {corpus.DEFAULT_FILES_PER_NODE})",
    )
    p.add_argument(
        "--disk-mb",
        type=int,
        metavar="N",
        help="each node's data dir a tmpfs of N MiB of its own (Linux, root), so the "
        "full_disk check can fill one; 256 as the Locust suite's (a disk smaller than a "
        "node's upload limit runs full before the limit is reached, and the rogue check, "
        "which sends one byte over it, then gets 507)",
    )
    args = p.parse_args(argv)
    launcher = None
    try:
        if args.cluster:
            descriptor = json.loads(args.cluster.read_text())
            spec = args.network or descriptor.get("network") or BUILTIN
            nodes = [NodeInfo.from_dict(n) for n in descriptor["nodes"]]
            topology = descriptor_topology(descriptor)
        else:
            spec = args.network or BUILTIN
            launcher = Launcher(
                spec,
                args.nodes,
                seed=args.seed,
                netns=args.netns,
                topology=args.topology,
                files_per_node=args.files_per_node,
                disk_mb=args.disk_mb,
            )
            topology = launcher.topology
            print(f"networks.verify: starting {args.nodes} nodes of {spec}", flush=True)
            print(f"networks.verify: topology {topology.summary()}", flush=True)
            launcher.start_all()
            nodes = launcher.node_infos()
        net = adapter_class(spec)(nodes)
    except (OSError, ValueError, KeyError, RuntimeError, TimeoutError) as exc:
        if launcher is not None:
            launcher.close()
        print(f"networks.verify: error: {exc}", file=sys.stderr)
        return 2
    try:
        disks = launcher if launcher is not None and args.disk_mb else None
        checks = conformance(net, nodes, topology=topology, rogue=True, disks=disks)
    finally:
        net.close()
        if launcher is not None:
            launcher.close()
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.outcome == FAIL]
    passed = sum(1 for c in checks if c.outcome == PASS)
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
