"""A user's calls to the network, with failover, each recorded as one Locust sample.

A user behaves like a client with a local peer: it talks to its home node and, when that node
does not answer and failover is on, to the next live one. Every call goes through the network's
adapter (``networks``), so the same users load any network. The sample records which node
served (``node``), the user's home (``home``) and whether failover was needed, so a report can
tell "the network served it" from "that node served it". A search records what was asked and
what came back, raw (``search_facts``): ``reports.checker`` judges the answer after the run; a
download whose bytes do not match is marked with its ``violation`` here, where the bytes are.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from gevent import GreenletExit

from networks.adapter import (
    Adapter,
    Hit,
    NodeInfo,
    Refused,
    SearchAnswer,
    Unavailable,
    read_download,
)
from reports.checker import compact_hit
from reports.samples import UNFINISHED

RETRY_HOME_AFTER_S = 3.0
DOWNLOAD_DEADLINE_S = 20.0


class RequestFailed(Exception):
    """The node answered, but not with what the operation needs."""


class Violation(RequestFailed):
    """The node answered wrongly in a way no success rate may average away: the sample is
    marked with ``kind`` (``reports.correctness``: corrupt)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def search_facts(term: str, ttl: int, answer: SearchAnswer) -> dict:
    """What a search asked and what came back, compact (``reports.checker`` judges it)."""
    return {
        "term": term,
        "ttl": ttl,
        "hits": [compact_hit(hit) for hit in answer.hits],
        "reached": list(answer.reached) if answer.reached is not None else None,
        "partial": answer.partial,
        "messages": answer.messages,
        "elapsed_ms": answer.elapsed_ms,
    }


class NetworkClient:
    """One user's adapter (its own connections) and its failover policy."""

    def __init__(
        self, environment, adapter: Adapter, nodes: list[NodeInfo], home: int, failover: bool
    ) -> None:
        self.environment = environment
        self.adapter = adapter
        self.nodes = nodes
        self.home = nodes[home % len(nodes)]
        self.failover = failover
        self.current = self.home
        self._left_home_at = 0.0

    def _candidates(self, reachable, avoid: str | None = None) -> list[NodeInfo]:
        if not self.failover:
            return [self.home]
        if (
            self.current is not self.home
            and time.monotonic() - self._left_home_at > RETRY_HOME_AFTER_S
        ):
            self.current = self.home
        start = self.nodes.index(self.current)
        ordered = [n for n in self.nodes[start:] + self.nodes[:start] if n.name != avoid]
        return ordered[:1] + [n for n in ordered[1:] if reachable(n.name)]

    def call(
        self,
        op: str,
        action: Callable[[NodeInfo], Any],
        check: Callable[[NodeInfo, Any], dict | None],
        reachable,
        *,
        avoid: str | None = None,
        facts: dict | None = None,
    ) -> tuple[NodeInfo, Any] | None:
        """Run ``action(node)`` on the user's node (failing over while nodes do not answer);
        ``check(node, result)`` raises RequestFailed when the answer is wrong and may return
        facts for the sample. ``avoid``: a node that must not serve it (the owner, for a pull);
        ``facts``: recorded whatever happens (the file an upload names). ``(node, result)``, or
        None when it failed."""
        started_wall, started = time.time(), time.perf_counter()
        error: Exception | None = Unavailable("no node to ask")
        result, served, failover = None, None, False
        facts = dict(facts or {})
        for attempt, node in enumerate(self._candidates(reachable, avoid)):
            try:
                result = action(node)
            except Unavailable as exc:  # refused, reset, timeout: try the next node
                error = exc
                continue
            except GreenletExit:  # the user is stopped mid-call: the node may still do it
                if "name" in facts:  # a write the model must count as maybe done
                    stopped = RequestFailed("the user was stopped mid-call")
                    at, again, facts = started_wall, attempt > 0, {**facts, "of": op}
                    self._record(UNFINISHED, at, started, 0, stopped, node, again, facts)
                raise
            except Refused as exc:
                error, served = RequestFailed(str(exc)), node
                if exc.status is not None:  # judged against the network's documented ones
                    facts["status"] = exc.status
                break
            served, failover = node, attempt > 0
            try:
                facts.update(check(node, result) or {})
                error = None
            except RequestFailed as exc:
                error = exc
            break
        if served is not None and served is not self.current:
            self.current, self._left_home_at = served, time.monotonic()
        self._record(op, started_wall, started, 0, error, served, failover, facts)
        return None if error else (served, result)

    def download(self, node: NodeInfo, hit: Hit, sha256: str) -> bool:
        """Stream ``hit`` from ``node`` and check the bytes against ``sha256`` (the advertised
        digest): time to first chunk and total time as two samples; True when it verified."""
        started_wall, started = time.time(), time.perf_counter()
        digest, size, error, first = hashlib.sha256(), 0, None, False
        facts: dict[str, Any] = {"file": hit.name}

        def take(data: bytes) -> None:
            nonlocal size, first
            if not first:
                first = True
                self._record("download_ttfb", started_wall, started, 0, None, node)
            digest.update(data)
            size += len(data)

        try:
            stated = read_download(self.adapter.download(node, hit, DOWNLOAD_DEADLINE_S), take)
            if stated is not None:
                facts["stated"] = stated.facts()
            if digest.hexdigest() != sha256:
                error = Violation("corrupt", f"sha256 mismatch for {hit.name} from {node.name}")
        except (Unavailable, Refused) as exc:
            error = exc
            if getattr(exc, "status", None) is not None:
                facts["status"] = exc.status
        if not first:
            self._record("download_ttfb", started_wall, started, 0, error, node)
        self._record("download", started_wall, started, size, error, node, facts=facts)
        return error is None

    def _record(
        self,
        op: str,
        started_wall: float,
        started: float,
        size: int,
        error: Exception | None,
        node: NodeInfo | None,
        failover: bool = False,
        facts: dict | None = None,
    ) -> None:
        context = {
            **(facts or {}),
            "node": node.name if node else None,
            "home": self.home.name,
            "failover": failover,
            "violation": getattr(error, "kind", None),
        }
        self.environment.events.request.fire(
            request_type=self.adapter.protocol(op),
            name=op,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=size,
            exception=error,
            context=context,
            start_time=started_wall,
        )

    def close(self) -> None:
        self.adapter.close()
