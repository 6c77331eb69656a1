"""Steady-state probe and integrity check, run before and after the load.

The probe is what "the network is working" means here: every node answers, a canary search
from each node reaches every node, and a download verifies. The integrity check asks whether
every upload the network acknowledged survived the run.
"""

from __future__ import annotations

import hashlib
import time
import urllib.parse

import grpc

from proto import p2p_pb2
from proto.chunks import download_call

from .monitor import fetch_json

PROBE_TIMEOUT_S = 3.0
MAX_SEARCHABLE_CHECKS = 200
SETTLE_TIMEOUT_S = 15.0
SETTLE_POLL_S = 0.5
CANARY_TERM = "peerload-canary"  # matches nothing: only "reached" matters


def canary_term(state) -> str:
    """A term with a hit on every node whose corpus is known (``alpha`` for the seeded corpus:
    every node has ``alpha-<node>-…`` files); without a corpus, one that matches nothing."""
    firsts = [n.files[0]["name"] for n in state.nodes if n.files]
    topics = {name.split("-", 1)[0] for name in firsts}
    return topics.pop() if len(topics) == 1 and len(firsts) == len(state.nodes) else CANARY_TERM


def steady_state(state) -> list[str]:
    """Problems found (empty when the network is healthy): every node answers, a canary search
    from each node reaches every node and has hits from every node, every node's corpus is
    unchanged, and a download verifies."""
    problems = []
    total = len(state.nodes)
    term = canary_term(state)
    for node in state.nodes:
        health = fetch_json(f"{node.http}/health", PROBE_TIMEOUT_S)
        if not health or health.get("status") != "ok":
            problems.append(f"{node.name} does not answer /health")
            continue
        canary = fetch_json(f"{node.http}/search?q={term}&ttl=3", PROBE_TIMEOUT_S)
        if not canary or canary.get("reached") != total:
            reached = canary.get("reached") if canary else "no answer"
            problems.append(f"canary search from {node.name} reached {reached} of {total} nodes")
        elif term != CANARY_TERM:
            silent = {n.name for n in state.nodes} - {r["node"] for r in canary["results"]}
            if silent:
                problems.append(f"canary search from {node.name} had no hits from {sorted(silent)}")
        problems += corpus_changes(node)
    file = next((f | {"grpc": n.grpc} for n in state.nodes for f in n.files if n.grpc), None)
    if file and not problems:
        problem = probe_download(file)
        if problem:
            problems.append(problem)
    return problems


def settled_state(state, timeout_s: float = SETTLE_TIMEOUT_S) -> list[str]:
    """The steady-state probe, retried until it passes or ``timeout_s`` runs out: after the
    final heal a restarted node needs a moment to rejoin before the network is whole again."""
    deadline = time.monotonic() + timeout_s
    while (problems := steady_state(state)) and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)
    return problems


def corpus_changes(node) -> list[str]:
    """The node's seeded files, each still there with its sha256 (the catalog is unchanged)."""
    files = fetch_json(f"{node.http}/files", PROBE_TIMEOUT_S)
    if files is None:
        return [f"{node.name} does not list its files"]
    have = {f["name"]: f["sha256"] for f in files.get("files", [])}
    changed = [f["name"] for f in node.files if have.get(f["name"]) != f["sha256"]]
    return [f"{node.name}: {len(changed)} corpus file(s) missing or changed"] if changed else []


def probe_download(file: dict) -> str | None:
    """Stream one file over gRPC and check its digest."""
    digest = hashlib.sha256()
    try:
        with grpc.insecure_channel(file["grpc"]) as channel:
            for chunk in download_call(channel)(
                p2p_pb2.DownloadRequest(name=file["name"]), timeout=PROBE_TIMEOUT_S
            ):
                digest.update(chunk.data)
    except grpc.RpcError as exc:
        return f"probe download of {file['name']} failed: {exc.code().name}"
    if digest.hexdigest() != file["sha256"]:
        return f"probe download of {file['name']} has the wrong sha256"
    return None


def integrity(state) -> dict:
    """Acked uploads still present with the right digest, and (a sample of them) searchable."""
    lost, corrupt, unsearchable, checked_search = [], [], [], 0
    for item in state.acked:
        node = state.node(item["node"])
        info = fetch_json(f"{node.http}/files/{urllib.parse.quote(item['name'])}", PROBE_TIMEOUT_S)
        if info is None or "sha256" not in info:
            lost.append(item["name"])
        elif info["sha256"] != item["sha256"]:
            corrupt.append(item["name"])
        elif checked_search < MAX_SEARCHABLE_CHECKS:
            checked_search += 1
            other = state.nodes[(state.nodes.index(node) + 1) % len(state.nodes)]
            found = fetch_json(f"{other.http}/search?q={item['name']}&ttl=3", PROBE_TIMEOUT_S)
            if not found or not any(r["sha256"] == item["sha256"] for r in found["results"]):
                unsearchable.append(item["name"])
    mismatches = sum(
        1
        for s in state.samples
        if s["op"] == "download" and "sha256 mismatch" in (s["error"] or "")
    )
    return {
        "acked_uploads": len(state.acked),
        "lost": len(lost),
        "corrupt": len(corrupt),
        "searchable_checked": checked_search,
        "unsearchable": len(unsearchable),
        "download_sha256_mismatches": mismatches,
        "examples": (lost + corrupt + unsearchable)[:10],
    }
