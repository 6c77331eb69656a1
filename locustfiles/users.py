"""The Phase 4 users: REST search, REST index, gRPC streaming download (and node-to-node
download through ``POST /download``). Each talks to its home node, failing over when asked to.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import uuid

from locust import User, between, task

from .grpc_client import GrpcDownloader
from .rest_client import RequestFailed, RestClient
from .runstate import run_state

RESULT_FIELDS = ("name", "size", "sha256", "node", "grpc", "hops")
INDEX_MIN_BYTES = 1024
INDEX_MAX_BYTES = 64 * 1024
RUN_TAG = uuid.uuid4().hex[:8]


def check_search(expect: dict | None, reachable):
    """A checker for a search answer; ``expect``: a corpus file that must be found when its
    owner is reachable."""

    def check(node, status, answer) -> None:
        if status != 200:
            raise RequestFailed(f"{node.name}: HTTP {status}: {answer.get('error')}")
        results = answer.get("results")
        if not isinstance(results, list) or not isinstance(answer.get("nodes"), list):
            raise RequestFailed("malformed search answer")
        if any(not all(k in r for k in RESULT_FIELDS) for r in results):
            raise RequestFailed("malformed search hit")
        if expect is None:
            return
        found = any(r["sha256"] == expect["sha256"] for r in results)
        owner = expect["node"]
        if found:
            return
        if owner in answer["nodes"]:
            raise RequestFailed(f"{owner} answered but its file {expect['name']} is missing")
        # A partition cuts both ways: from an isolated node, nothing else is expected.
        if reachable(owner) and reachable(node.name) and not answer.get("partial"):
            raise RequestFailed(f"missed {expect['name']} on reachable node {owner}")

    return check


class PeerUser(User):
    """Base of the Phase 4 users: a home node, a seeded RNG, a REST client with failover."""

    abstract = True
    wait_time = between(0.1, 0.5)
    _ids = itertools.count()

    def on_start(self) -> None:
        self.run = run_state(self.environment)
        options = self.environment.parsed_options
        self.uid = next(PeerUser._ids)
        worker = getattr(self.environment.runner, "worker_index", 0) or 0
        self.rng = random.Random(f"{getattr(options, 'seed', 42)}:{worker}:{self.uid}")
        failover = getattr(options, "failover", "on") == "on"
        self.rest = RestClient(self.environment, self.run.nodes, worker * 7 + self.uid, failover)

    def on_stop(self) -> None:
        self.rest.close()

    def corpus_file(self) -> dict | None:
        files = [{**f, "node": n.name} for n in self.run.nodes for f in n.files]
        return self.rng.choice(files) if files else None

    def search(self, term: str, expect: dict | None = None):
        path = f"/search?q={term}&ttl=3"
        return self.rest.call(
            "search",
            "GET",
            path,
            None,
            check_search(expect, self.run.reachable),
            self.run.reachable,
        )


class SearchUser(PeerUser):
    """Searches for corpus files by exact name (one owner) or by topic (every node)."""

    weight = 5

    @task(3)
    def search_by_name(self) -> None:
        target = self.corpus_file()
        if target:
            self.search(target["name"], expect=target)

    @task(1)
    def search_by_topic(self) -> None:
        target = self.corpus_file()
        if target:
            self.search(target["name"].split("-", 1)[0])


class IndexUser(PeerUser):
    """Uploads new files; every acknowledged one must still be there after the run."""

    weight = 2

    @task
    def index(self) -> None:
        data = self.rng.randbytes(self.rng.randint(INDEX_MIN_BYTES, INDEX_MAX_BYTES))
        sha = hashlib.sha256(data).hexdigest()
        name = f"idx-{RUN_TAG}-{self.uid}-{uuid.uuid4().hex[:12]}.bin"

        def check(node, status, answer) -> None:
            if status != 201 or answer.get("sha256") != sha:
                raise RequestFailed(f"{node.name}: HTTP {status}: {answer}"[:200])

        done = self.rest.call("index", "PUT", f"/files/{name}", data, check, self.run.reachable)
        if done:
            self.run.recorder.ack(
                {"name": name, "sha256": sha, "size": len(data), "node": done[0].name}
            )


class DownloadUser(PeerUser):
    """Finds a file by search, then streams it over gRPC from its owner and verifies it."""

    weight = 3

    def on_start(self) -> None:
        super().on_start()
        self.grpc = GrpcDownloader(self.environment)

    def on_stop(self) -> None:
        self.grpc.close()
        super().on_stop()

    @task(3)
    def grpc_download(self) -> None:
        target = self.corpus_file()
        found = target and self.search(target["name"], expect=target)
        if not found:
            return
        hits = [r for r in found[1]["results"] if r["sha256"] == target["sha256"] and r["grpc"]]
        if hits:
            hit = self.rng.choice(hits)
            context = {"node": hit["node"], "home": self.rest.home.name}
            self.grpc.download(hit["grpc"], hit["name"], hit["sha256"], context)

    @task(1)
    def node_download(self) -> None:
        """Node-to-node: ask our node to pull a remote file over gRPC."""
        target = self.corpus_file()
        if not target or target["node"] == self.rest.current.name:
            return
        body = {
            "name": target["name"],
            "sha256": target["sha256"],
            "from": target["node"],
            "force": True,
        }

        def check(node, status, answer) -> None:
            if status != 200 or answer.get("sha256") != target["sha256"]:
                raise RequestFailed(f"{node.name}: HTTP {status}: {answer.get('error')}"[:200])

        self.rest.call(
            "node_download",
            "POST",
            "/download",
            json.dumps(body).encode(),
            check,
            self.run.reachable,
        )
