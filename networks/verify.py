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
- ``download``: a file from each node downloads with the seeded sha256;
- ``corpus``: every node still lists its seeded files with their digests (needs file lists);
- ``index``: a newly added file becomes findable from another node (needs indexing).
"""

from __future__ import annotations

import hashlib
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .adapter import ALIVE, FILES, INDEX, PEERS, Adapter, Hit, NodeInfo, Refused, Unavailable

DOWNLOAD_TIMEOUT_S = 5.0
SEARCH_TTL = 3
INDEX_WAIT_S = 5.0
POLL_S = 0.25
INDEX_BYTES = 4096
MAX_SEARCHABLE_CHECKS = 200
PASS, FAIL, NOT_MEASURABLE = "pass", "FAIL", "not measurable"


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


def _other(nodes: list[NodeInfo], node: NodeInfo) -> NodeInfo | None:
    """The next node after ``node`` (round robin) that has a seeded corpus."""
    start = nodes.index(node)
    return next((n for n in nodes[start + 1 :] + nodes[:start] if n.files), None)


def _found(hits: tuple[Hit, ...], holder: str, file: dict) -> bool:
    return any(
        h.node == holder and h.name == file["name"] and h.sha256 in (None, file["sha256"])
        for h in hits
    )


def check_up(net: Adapter, nodes: list[NodeInfo]) -> Check:
    down = [n.name for n in nodes if _call(net.health, n)[1]]
    detail = f"{', '.join(down)} {'does' if len(down) == 1 else 'do'} not answer" if down else ""
    return Check("up", FAIL if down else PASS, detail or f"all {len(nodes)} nodes answer")


def check_joined(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not net.has(PEERS):
        return Check("joined", NOT_MEASURABLE, "the network has no peers view")
    gaps = []
    for node in nodes:
        view, why = _call(net.peers, node)
        missing = [n.name for n in nodes if n is not node and (view or {}).get(n.name) != ALIVE]
        if why or missing:
            gaps.append(f"{node.name} {why or 'does not see ' + ', '.join(missing) + ' alive'}")
    return Check("joined", FAIL if gaps else PASS, "; ".join(gaps) or "every node sees all alive")


def check_search(net: Adapter, nodes: list[NodeInfo], ttl: int = SEARCH_TTL) -> Check:
    """From each node, a file only another node holds (and, TTL 0, staying local)."""
    if not any(n.files for n in nodes) or len(nodes) < 2:
        return Check("search", NOT_MEASURABLE, "needs 2 nodes and a seeded corpus")
    problems = []
    for node in nodes:
        other = _other(nodes, node)
        if other is None or other is node:
            continue
        file = other.files[0]
        answer, why = _call(net.search, node, file["name"], ttl)
        if why:
            problems.append(f"from {node.name}: {why}")
        elif not _found(answer.hits, other.name, file):
            problems.append(f"from {node.name}, {other.name}'s {file['name']} not found")
        elif answer.reached is not None and set(answer.reached) < {n.name for n in nodes}:
            problems.append(f"from {node.name} reached {len(answer.reached)} of {len(nodes)}")
    detail = "; ".join(problems) or "each node finds a file only another node holds"
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


def download_problem(net: Adapter, node: NodeInfo, file: dict) -> str | None:
    """Download ``file`` from ``node`` and check it against the seeded sha256."""
    digest = hashlib.sha256()
    hit = Hit(node.name, file["name"], file["sha256"], file.get("size"), 0, node.grpc)
    try:
        for data in net.download(node, hit, DOWNLOAD_TIMEOUT_S):
            digest.update(data)
    except (Unavailable, Refused) as exc:
        return f"download of {file['name']} from {node.name} failed: {exc}"
    if digest.hexdigest() != file["sha256"]:
        return f"download of {file['name']} from {node.name} has the wrong sha256"
    return None


def check_download(net: Adapter, nodes: list[NodeInfo]) -> Check:
    seeded = [n for n in nodes if n.files]
    if not seeded:
        return Check("download", NOT_MEASURABLE, "no seeded corpus to download")
    problems = [p for n in seeded if (p := download_problem(net, n, n.files[0]))]
    detail = "; ".join(problems) or f"a file from each of {len(seeded)} nodes verifies"
    return Check("download", FAIL if problems else PASS, detail)


def check_corpus(net: Adapter, nodes: list[NodeInfo]) -> Check:
    if not net.has(FILES):
        return Check("corpus", NOT_MEASURABLE, "the network does not list a node's files")
    problems = []
    for node in nodes:
        held, why = _call(net.files, node)
        if why:
            problems.append(f"{node.name} does not list its files")
            continue
        changed = [f for f in node.files if held.get(f["name"], "?") not in (None, f["sha256"])]
        if changed:
            problems.append(f"{node.name}: {len(changed)} corpus file(s) missing or changed")
    return Check("corpus", FAIL if problems else PASS, "; ".join(problems) or "every node intact")


def check_index(net: Adapter, nodes: list[NodeInfo], wait_s: float = INDEX_WAIT_S) -> Check:
    if not net.has(INDEX):
        return Check("index", NOT_MEASURABLE, "the network cannot be given new files")
    if len(nodes) < 2:
        return Check("index", NOT_MEASURABLE, "needs 2 nodes")
    owner, searcher = nodes[-1], nodes[0]
    name = f"conformance-{uuid.uuid4().hex[:12]}.bin"
    data = uuid.uuid4().bytes * (INDEX_BYTES // 16)
    file = {"name": name, "sha256": hashlib.sha256(data).hexdigest()}
    _, why = _call(net.index, owner, name, data)
    if why:
        return Check("index", FAIL, f"adding {name} to {owner.name} failed: {why}")
    deadline = time.monotonic() + wait_s
    while True:
        answer, _ = _call(net.search, searcher, name, SEARCH_TTL)
        if answer is not None and _found(answer.hits, owner.name, file):
            return Check("index", PASS, f"a file new on {owner.name} found from {searcher.name}")
        if time.monotonic() >= deadline:
            return Check(
                "index", FAIL, f"{name}, new on {owner.name}, not found from {searcher.name}"
            )
        time.sleep(POLL_S)


def conformance(net: Adapter, nodes: list[NodeInfo], *, index: bool = True) -> list[Check]:
    """Every check, in order; past a node that is down, only ``up`` is meaningful."""
    up = check_up(net, nodes)
    if up.outcome == FAIL:
        return [up]
    checks = [up, check_joined(net, nodes), check_search(net, nodes), check_ttl0(net, nodes)]
    checks += [check_download(net, nodes), check_corpus(net, nodes)]
    if index:
        checks.append(check_index(net, nodes))
    return checks


def problems(checks: list[Check]) -> list[str]:
    """The failed checks, one line each (empty: the network passed)."""
    return [f"{c.name}: {c.detail}" for c in checks if c.outcome == FAIL]


def integrity(net: Adapter, nodes: list[NodeInfo], acked: list[dict]) -> dict:
    """Acknowledged uploads still present with their digest (one file list per node) and, for a
    sample of them, found by a search from another node."""
    held: dict[str, dict | None] = {}
    lost, corrupt, unsearchable, searched = [], [], [], 0
    by_name = {n.name: n for n in nodes}
    for item in acked:
        node = by_name[item["node"]]
        if node.name not in held:
            held[node.name] = _call(net.files, node)[0] if net.has(FILES) else None
        files = held[node.name]
        if files is not None and item["name"] not in files:
            lost.append(item["name"])
        elif files is not None and files[item["name"]] not in (None, item["sha256"]):
            corrupt.append(item["name"])
        elif searched < MAX_SEARCHABLE_CHECKS and len(nodes) > 1:
            searched += 1
            other = nodes[(nodes.index(node) + 1) % len(nodes)]
            answer, _ = _call(net.search, other, item["name"], SEARCH_TTL)
            if answer is None or not _found(answer.hits, node.name, item):
                unsearchable.append(item["name"])
    return {
        "acked_uploads": len(acked),
        "lost": len(lost),
        "corrupt": len(corrupt),
        "searchable_checked": searched,
        "unsearchable": len(unsearchable),
        "examples": (lost + corrupt + unsearchable)[:10],
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m networks.verify``: start (or attach to) a network, check it, say so."""
    import argparse
    import json
    from pathlib import Path

    from . import BUILTIN, adapter_class
    from .launcher import Launcher

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
    p.add_argument("--seed", type=int, default=7, help="seed of the corpus (default 7)")
    args = p.parse_args(argv)
    launcher = None
    try:
        if args.cluster:
            descriptor = json.loads(args.cluster.read_text())
            spec = args.network or descriptor.get("network") or BUILTIN
            nodes = [NodeInfo.from_dict(n) for n in descriptor["nodes"]]
        else:
            spec = args.network or BUILTIN
            launcher = Launcher(spec, args.nodes, seed=args.seed, netns=args.netns)
            print(f"networks.verify: starting {args.nodes} nodes of {spec}", flush=True)
            launcher.start_all()
            nodes = launcher.node_infos()
        net = adapter_class(spec)(nodes)
    except (OSError, ValueError, KeyError, RuntimeError, TimeoutError) as exc:
        if launcher is not None:
            launcher.close()
        print(f"networks.verify: error: {exc}", file=sys.stderr)
        return 2
    try:
        checks = conformance(net, nodes)
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
