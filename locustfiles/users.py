"""The Phase 4 users: REST search, REST index, gRPC streaming download (and node-to-node
download through ``POST /download``). Each talks to its home node, failing over when asked to.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import urllib.parse
import uuid

from locust import User, task

from .grpc_client import GrpcDownloader
from .rest_client import RequestFailed, RestClient, Violation
from .runstate import run_state

RESULT_FIELDS = ("name", "size", "sha256", "node", "grpc", "hops")
INDEX_MIN_BYTES = 1024
INDEX_MAX_BYTES = 64 * 1024
RUN_TAG = uuid.uuid4().hex[:8]
#: Violation kinds (``reports.correctness`` counts them).
CORRUPT, INCOMPLETE, PHANTOM, DUPLICATE = "corrupt", "incomplete", "phantom", "duplicate"
#: Share of answered searches whose one random hit is checked on the node it names.
HIT_CHECK_SHARE = 0.2
THINK_TIME_S = (0.1, 0.5)


def check_search(expect: dict | None, reachable):
    """A checker for a search answer; ``expect``: a corpus file that must be found when its
    owner is reachable. Wrong answers are violations (``reports.correctness``), not just
    failures: the same (node, file) twice, or a hit missing while its owner answered or was
    reachable and the answer does not say ``partial``."""

    def check(node, status, answer) -> dict:
        if status != 200:
            raise RequestFailed(f"{node.name}: HTTP {status}: {answer.get('error')}")
        results = answer.get("results")
        if not isinstance(results, list) or not isinstance(answer.get("nodes"), list):
            raise RequestFailed("malformed search answer")
        if any(not isinstance(r, dict) or not all(k in r for k in RESULT_FIELDS) for r in results):
            raise RequestFailed("malformed search hit")
        messages = answer.get("messages")
        facts = {
            "messages": messages if isinstance(messages, int) else None,
            "partial": bool(answer.get("partial")),
            "expects_hit": expect is not None,
        }
        seen: set[tuple] = set()
        for r in results:
            key = (r["node"], r["name"])
            if key in seen:
                raise Violation(DUPLICATE, f"{node.name}: {r['name']} on {r['node']} twice", facts)
            seen.add(key)
        if expect is None or any(r["sha256"] == expect["sha256"] for r in results):
            return facts
        owner, name = expect["node"], expect["name"]
        if owner in answer["nodes"]:
            raise Violation(INCOMPLETE, f"{owner} answered but its file {name} is missing", facts)
        # A partition cuts both ways: from an isolated node, nothing else is expected.
        if reachable(owner) and reachable(node.name) and not answer.get("partial"):
            raise Violation(INCOMPLETE, f"missed {name} on reachable node {owner}", facts)
        return facts

    return check


def check_hit(hit: dict):
    """A checker for ``GET /files/NAME`` on the node a hit named: it must hold that file."""

    def check(node, status, answer) -> None:
        if status == 404:
            raise Violation(PHANTOM, f"{node.name} does not hold {hit['name']} it was listed with")
        if status != 200:
            raise RequestFailed(f"{node.name}: HTTP {status}: {answer.get('error')}")
        if answer.get("sha256") != hit["sha256"]:
            raise Violation(PHANTOM, f"{node.name} holds {hit['name']} with another sha256")

    return check


class PeerUser(User):
    """Base of the Phase 4 users: a home node, a seeded RNG, a REST client with failover."""

    abstract = True
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
        self.rest = RestClient(self.environment, self.run.nodes, worker * 7 + self.uid, failover)

    def on_stop(self) -> None:
        self.rest.close()

    def corpus_file(self) -> dict | None:
        files = [{**f, "node": n.name} for n in self.run.nodes for f in n.files]
        return self.rng.choice(files) if files else None

    def search(self, term: str, expect: dict | None = None):
        path = f"/search?q={term}&ttl=3"
        found = self.rest.call(
            "search",
            "GET",
            path,
            None,
            check_search(expect, self.run.reachable),
            self.run.reachable,
        )
        if found and found[1]["results"] and self.rng.random() < HIT_CHECK_SHARE:
            self.check_hit(self.rng.choice(found[1]["results"]))
        return found

    def check_hit(self, hit: dict) -> None:
        """Ask the node a hit names whether it holds the file (phantom hits). Recorded as
        ``hit_check``, a measurement the reports do not count as load."""
        owner = self.run.node(hit["node"])
        if owner is None or not self.run.reachable(owner.name):
            return
        path = f"/files/{urllib.parse.quote(hit['name'])}"
        check = check_hit(hit)
        self.rest.call("hit_check", "GET", path, None, check, self.run.reachable, only=owner)


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
        home_owns = target and target["node"] == self.rest.home.name and not self.rest.failover
        if not target or home_owns or len(self.run.nodes) < 2:
            return
        body = {
            "name": target["name"],
            "sha256": target["sha256"],
            "from": target["node"],
            "force": True,
        }

        def check(node, status, answer) -> None:
            if status != 200:
                raise RequestFailed(f"{node.name}: HTTP {status}: {answer.get('error')}"[:200])
            if answer.get("sha256") != target["sha256"]:
                got = answer.get("sha256")
                raise Violation(CORRUPT, f"{node.name} acknowledged {target['name']} as {got}")

        self.rest.call(
            "node_download",
            "POST",
            "/download",
            json.dumps(body).encode(),
            check,
            self.run.reachable,
            avoid=target["node"],  # a node asked to pull from itself is the harness's mistake
        )
