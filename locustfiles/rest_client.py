"""REST calls from a user to "its" node, with failover, recorded as one Locust sample each.

A user behaves like a client with a local peer: it talks to its home node and, when that node
does not answer and failover is on, to the next live one. The sample records which node served
(``node``), the user's home (``home``) and whether failover was needed, so a report can tell
"the network served it" from "that node served it".
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

from geventhttpclient import HTTPClient

CONNECT_TIMEOUT_S = 1.0
NETWORK_TIMEOUT_S = 2.0  # a frozen node must not hold a user for long before failover
RETRY_HOME_AFTER_S = 3.0


class RequestFailed(Exception):
    """The node answered, but not with what the operation needs."""


class Violation(RequestFailed):
    """The node answered wrongly in a way no success rate may average away: the sample is
    marked with ``kind`` (``reports.correctness``: corrupt, incomplete, phantom, duplicate)."""

    def __init__(self, kind: str, message: str, facts: dict | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.facts = facts or {}


class Unavailable(Exception):
    """No node answered at all."""


class RestClient:
    """One user's keep-alive connections to the nodes, and its failover policy."""

    def __init__(self, environment, nodes: list, home_index: int, failover: bool) -> None:
        self.environment = environment
        self.nodes = nodes
        self.home = nodes[home_index % len(nodes)]
        self.failover = failover
        self.current = self.home
        self._left_home_at = 0.0
        self._clients: dict[str, HTTPClient] = {}

    def _client(self, node) -> HTTPClient:
        client = self._clients.get(node.name)
        if client is None:
            url = urlsplit(node.http)
            client = HTTPClient(
                url.hostname,
                url.port,
                connection_timeout=CONNECT_TIMEOUT_S,
                network_timeout=NETWORK_TIMEOUT_S,
                concurrency=1,
            )
            self._clients[node.name] = client
        return client

    def _candidates(self, reachable, avoid: str | None = None) -> list:
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
        method: str,
        path: str,
        body: bytes | None,
        check,
        reachable,
        *,
        avoid: str | None = None,
        only=None,
    ):
        """Run one operation; ``check(node, status, payload)`` raises RequestFailed when the
        answer is wrong and may return facts to record on the sample (a dict). ``avoid``: a
        node that must not serve it (the owner, for a pull); ``only``: exactly this node, no
        failover. Returns ``(node, payload)`` or ``None`` when it failed."""
        started_wall, started = time.time(), time.perf_counter()
        error: Exception | None = Unavailable("no node to ask")
        payload, served, size, failover, facts = None, None, 0, False, {}
        candidates = [only] if only is not None else self._candidates(reachable, avoid)
        for attempt, node in enumerate(candidates):
            try:
                response = self._client(node).request(method, path, body=body or b"")
                raw = response.read()
            except Exception as exc:  # refused, reset, timeout: try the next node
                error = Unavailable(f"{node.name}: {type(exc).__name__}: {exc}"[:200])
                broken = self._clients.pop(node.name, None)
                if broken is not None:
                    broken.close()
                continue
            served, size, failover = node, len(raw), attempt > 0
            if node is not self.current and only is None:
                self.current, self._left_home_at = node, time.monotonic()
            try:
                payload = json.loads(raw) if raw else {}
                facts = check(node, response.status_code, payload) or {}
                error = None
            except (ValueError, RequestFailed) as exc:
                error = exc if isinstance(exc, RequestFailed) else RequestFailed("malformed JSON")
                facts = getattr(exc, "facts", {})
            break
        context = {
            **facts,
            "node": served.name if served else None,
            "home": self.home.name,
            "failover": failover,
            "violation": getattr(error, "kind", None),
        }
        self.environment.events.request.fire(
            request_type=method,
            name=op,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=size,
            exception=error,
            context=context,
            start_time=started_wall,
        )
        return None if error else (served, payload)

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
