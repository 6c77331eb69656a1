"""The Phase 4 users: search, index, streaming download (and node-to-node download). Each talks
to its home node through the network's adapter, failing over when asked to; what a network does
not offer (its adapter's ``capabilities``), its users do not ask for.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import time
import uuid

from locust import User, task

from networks.adapter import INDEX, NODE_DOWNLOAD, Hit
from networks.hosts import HOME_NODES_ENV, home_index

from .client import NetworkClient, RequestFailed, Violation, search_facts
from .runstate import run_state

INDEX_MIN_BYTES = 1024
INDEX_MAX_BYTES = 64 * 1024
#: Each search draws its TTL from 1..this, so the TTL matters on sparse topologies.
SEARCH_TTL_MAX = 4
RUN_TAG = uuid.uuid4().hex[:8]
CORRUPT = "corrupt"  # the violation a download's bytes can show (``reports.correctness``)
#: Share of searches for one corpus file by its exact name (the others: its topic word).
BY_NAME_SHARE = 0.75
THINK_TIME_S = (0.1, 0.5)


def is_file(hit: Hit, file: dict) -> bool:
    """Whether ``hit`` is the corpus ``file`` (by digest, or by node and name when the network's
    answers carry no digest)."""
    if hit.sha256 is not None:
        return hit.sha256 == file["sha256"]
    return (hit.node, hit.name) == (file["node"], file["name"])


class PeerUser(User):
    """Base of the Phase 4 users: a home node, a seeded RNG, a client with failover."""

    abstract = True
    #: Shown in the web UI's Host field (the users talk to the nodes of the network under test,
    #: not to one host: a value here only keeps Locust from warning that none is set).
    host = "the network under test (--cluster, or the embedded one)"
    _ids = itertools.count()

    def wait_time(self) -> float:
        """Think time, except in a level's burst: then no pause, so N users are N operations
        in flight (the "simultaneous operations" the criterion judges)."""
        return 0.0 if self.run.burst else self.rng.uniform(*THINK_TIME_S)

    def on_start(self) -> None:
        self.run = run_state(self.environment)
        options = self.environment.parsed_options
        self.uid = next(PeerUser._ids)
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        self.rng = random.Random(f"{getattr(options, 'seed', 42)}:{worker}:{self.uid}")
        failover = getattr(options, "failover", "on") == "on"
        self.net = self.run.adapter()
        home = home_index(self.run.nodes, worker * 7 + self.uid, os.environ.get(HOME_NODES_ENV, ""))
        self.client = NetworkClient(self.environment, self.net, self.run.nodes, home, failover)

    def on_stop(self) -> None:
        self.client.close()

    def corpus_file(self) -> dict | None:
        return self.rng.choice(self.run.corpus) if self.run.corpus else None

    def search_term(self) -> tuple[str, dict] | None:
        """What to search for, chosen in one place: a corpus file by its exact name, or its
        topic word (every node holds files under it); and the file it was drawn from."""
        target = self.corpus_file()
        if target is None:
            return None
        by_name = self.rng.random() < BY_NAME_SHARE
        return (target["name"] if by_name else target["name"].split("-", 1)[0]), target

    def search(self, term: str):
        """One search with a TTL drawn from 1..SEARCH_TTL_MAX. The answer is recorded raw and
        judged by ``reports.checker`` after the run: an answered search is a success here."""
        ttl = self.rng.randint(1, SEARCH_TTL_MAX)
        return self.client.call(
            "search",
            lambda node: self.net.search(node, term, ttl),
            lambda node, answer: search_facts(term, ttl, answer),
            self.run.reachable,
        )


class SearchUser(PeerUser):
    """Searches the corpus by exact file name (one owner) or by topic (every node)."""

    weight = 5

    @task
    def search_corpus(self) -> None:
        chosen = self.search_term()
        if chosen:
            self.search(chosen[0])


class IndexUser(PeerUser):
    """Adds new files; every acknowledged one must still be there after the run."""

    weight = 2

    @task
    def index(self) -> None:
        if not self.net.has(INDEX):
            return
        data = self.rng.randbytes(self.rng.randint(INDEX_MIN_BYTES, INDEX_MAX_BYTES))
        sha = hashlib.sha256(data).hexdigest()
        name = f"idx-{RUN_TAG}-{self.uid}-{uuid.uuid4().hex[:12]}.bin"

        def check(node, acknowledged: str | None) -> None:
            if acknowledged not in (None, sha):  # None: the network acknowledges no digest
                raise RequestFailed(f"{node.name} acknowledged {name} as {acknowledged}")

        done = self.client.call(
            "index",
            lambda node: self.net.index(node, name, data),
            check,
            self.run.reachable,
            facts={"name": name},
        )
        if done:
            self.run.recorder.ack(
                {
                    "name": name,
                    "sha256": sha,
                    "size": len(data),
                    "node": done[0].name,
                    "t": time.time(),  # acknowledged: from now on the model requires it
                }
            )


class DownloadUser(PeerUser):
    """Finds a file by search, then streams it from its owner and verifies it."""

    weight = 3

    @task(3)
    def download(self) -> None:
        target = self.corpus_file()
        found = target and self.search(target["name"])
        if not found:
            return
        hits = [h for h in found[1].hits if is_file(h, target) and self.run.node(h.node)]
        if hits:
            hit = self.rng.choice(hits)
            self.client.download(self.run.node(hit.node), hit, target["sha256"])

    @task(1)
    def node_download(self) -> None:
        """Node-to-node: ask our node to fetch a remote file."""
        target = self.corpus_file()
        home_owns = target and target["node"] == self.client.home.name and not self.client.failover
        if not target or home_owns or len(self.run.nodes) < 2 or not self.net.has(NODE_DOWNLOAD):
            return
        source = self.run.node(target["node"])

        def check(node, acknowledged: str) -> None:
            if acknowledged != target["sha256"]:
                got = acknowledged or "no digest"
                raise Violation(CORRUPT, f"{node.name} acknowledged {target['name']} as {got}")

        self.client.call(
            "node_download",
            lambda node: self.net.node_download(node, target["name"], target["sha256"], source),
            check,
            self.run.reachable,
            avoid=target["node"],  # a node asked to pull from itself is the harness's mistake
            facts={"name": target["name"]},  # the node holds it from now on (reports.model)
        )
