"""The Phase 4 users: search, index, streaming download (and node-to-node download). Each talks
to its home node through the network's adapter, failing over when asked to; what a network does
not offer (its adapter's ``capabilities``), its users do not ask for.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
import weakref

from locust import User, task

from networks.adapter import FILES, INDEX, NODE_DOWNLOAD, Hit, SearchAnswer
from networks.corpus import Term, search_terms
from reports.correctness import hides_silent_peers

from .client import NetworkClient, RequestFailed, Violation
from .runstate import run_state

INDEX_MIN_BYTES = 1024
INDEX_MAX_BYTES = 64 * 1024
SEARCH_TTL = 3
RUN_TAG = uuid.uuid4().hex[:8]
#: Violation kinds (``reports.correctness`` counts them).
CORRUPT, INCOMPLETE, PHANTOM, DUPLICATE = "corrupt", "incomplete", "phantom", "duplicate"
#: Share of answered searches whose one random hit is checked on the node it names.
HIT_CHECK_SHARE = 0.2
THINK_TIME_S = (0.1, 0.5)
_WORD_TERMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def word_terms(run) -> dict[str, list[Term]]:
    """The run's vocabulary words by kind with their seeded hits (networks/corpus.py, which
    the checks read too), worked out once per run."""
    if run not in _WORD_TERMS:
        kinds: dict[str, list[Term]] = {}
        for term in search_terms({n.name: n.files for n in run.nodes}, names=False):
            kinds.setdefault(term.kind, []).append(term)
        _WORD_TERMS[run] = kinds
    return _WORD_TERMS[run]


def is_file(hit: Hit, file: dict) -> bool:
    """Whether ``hit`` is the corpus ``file`` (by digest, or by node and name when the network's
    answers carry no digest)."""
    if hit.sha256 is not None:
        return hit.sha256 == file["sha256"]
    return (hit.node, hit.name) == (file["node"], file["name"])


def check_search(expect: dict | None, reachable):
    """A checker for a search answer; ``expect``: a corpus file that must be found when its
    owner is reachable. Wrong answers are violations (``reports.correctness``), not just
    failures: the same (node, file) twice, or a hit missing while its owner answered or was
    reachable and the answer does not say ``partial``."""

    def check(node, answer: SearchAnswer) -> dict:
        facts = {
            "messages": answer.messages,
            "partial": answer.partial,
            "expects_hit": expect is not None,
        }
        reached = len(answer.reached) if answer.reached is not None else None
        if hides_silent_peers(answer.messages, reached, answer.partial):
            raise Violation(
                INCOMPLETE,
                f"{node.name}: {answer.messages} messages but {reached} node(s) answered, "
                "and the answer is not partial",
                facts,
            )
        seen: set[tuple] = set()
        for hit in answer.hits:
            if (hit.node, hit.name) in seen:
                raise Violation(DUPLICATE, f"{node.name}: {hit.name} on {hit.node} twice", facts)
            seen.add((hit.node, hit.name))
        if expect is None or any(is_file(hit, expect) for hit in answer.hits):
            return facts
        owner, name = expect["node"], expect["name"]
        if answer.reached is not None and owner in answer.reached:
            raise Violation(INCOMPLETE, f"{owner} answered but its file {name} is missing", facts)
        # A partition cuts both ways: from an isolated node, nothing else is expected.
        if reachable(owner) and reachable(node.name) and not answer.partial:
            raise Violation(INCOMPLETE, f"missed {name} on reachable node {owner}", facts)
        return facts

    return check


def check_hit(hit: Hit):
    """A checker for ``Adapter.holds`` on the node a hit named: it must hold that file."""

    def check(node, holding: tuple[bool, str | None]) -> None:
        found, held = holding
        if not found:
            raise Violation(PHANTOM, f"{node.name} does not hold {hit.name} it was listed with")
        if None not in (held, hit.sha256) and held != hit.sha256:
            raise Violation(PHANTOM, f"{node.name} holds {hit.name} with another sha256")

    return check


class PeerUser(User):
    """Base of the Phase 4 users: a home node, a seeded RNG, a client with failover."""

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
        self.net = self.run.adapter()
        self.client = NetworkClient(
            self.environment, self.net, self.run.nodes, worker * 7 + self.uid, failover
        )

    def on_stop(self) -> None:
        self.client.close()

    def corpus_file(self) -> dict | None:
        files = [{**f, "node": n.name} for n in self.run.nodes for f in n.files]
        return self.rng.choice(files) if files else None

    def search(self, term: str, expect: dict | None = None):
        found = self.client.call(
            "search",
            lambda node: self.net.search(node, term, SEARCH_TTL),
            check_search(expect, self.run.reachable),
            self.run.reachable,
        )
        hits = found[1].hits if found else ()
        if hits and self.net.has(FILES) and self.rng.random() < HIT_CHECK_SHARE:
            self.check_hit(self.rng.choice(hits))
        return found

    def check_hit(self, hit: Hit) -> None:
        """Ask the node a hit names whether it holds the file (phantom hits). Recorded as
        ``hit_check``, a measurement the reports do not count as load."""
        owner = self.run.node(hit.node)
        if owner is None or not self.run.reachable(owner.name):
            return
        holds = lambda node: self.net.holds(node, hit.name)  # noqa: E731
        self.client.call("hit_check", holds, check_hit(hit), self.run.reachable, only=owner)


class SearchUser(PeerUser):
    """Searches for corpus files by exact name (its holders) or by a vocabulary word, narrow
    (a few files) and broad (dozens to hundreds) alike."""

    weight = 5

    @task(3)
    def search_by_name(self) -> None:
        target = self.corpus_file()
        if target:
            self.search(target["name"], expect=target)

    @task(1)
    def search_by_word(self) -> None:
        """A kind of word (rare, common, popular) at random, then one of its words: broad
        searches as often as narrow ones, though the corpus holds far more rare words."""
        kinds = word_terms(self.run)
        if kinds:
            term = self.rng.choice(kinds[self.rng.choice(sorted(kinds))])
            self.search(term.text)


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
            "index", lambda node: self.net.index(node, name, data), check, self.run.reachable
        )
        if done:
            self.run.recorder.ack(
                {"name": name, "sha256": sha, "size": len(data), "node": done[0].name}
            )


class DownloadUser(PeerUser):
    """Finds a file by search, then streams it from its owner and verifies it."""

    weight = 3

    @task(3)
    def download(self) -> None:
        target = self.corpus_file()
        found = target and self.search(target["name"], expect=target)
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
        )
