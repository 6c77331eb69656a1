"""peerload's own node as a network under test: its REST API and its gRPC ``FileTransfer``.

The default network, and the model for others: everything peerload's harness knows about the
node's protocol is here (paths, JSON shapes, the chunk stream); nothing else in the Locust
suite, the probes or the reports speaks it.

REST calls go over keep-alive connections (one per node and adapter: every Locust user has its
own adapter), gevent-friendly; the download stream over one gRPC channel per node.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

import grpc
from geventhttpclient import HTTPClient
from prometheus_client.parser import text_string_to_metric_families

from node import memory
from node.api import INSUFFICIENT_STORAGE
from node.names import BadName, check_name
from proto import p2p_pb2
from proto.chunks import download_call
from reports.model import HOPS_FEWEST

from . import builtin_minimal, builtin_rogue
from .adapter import (
    ALL,
    HEADER,
    SEARCHES,
    SERVED,
    SERVED_BYTES,
    SERVED_FAILED,
    TRAILER,
    Adapter,
    Download,
    Full,
    Hit,
    MinimalPeer,
    NodeInfo,
    Probe,
    Refused,
    RoguePull,
    SearchAnswer,
    Stated,
    Unavailable,
)
from .builtin_probes import GRPC_GONE, builtin_probes

CONNECT_TIMEOUT_S = 1.0
NETWORK_TIMEOUT_S = 2.0  # a frozen node must not hold a caller for long before failover
#: A pull waits on its peer: one cut off holds it up to the node's black hole (5 s) before it
#: answers 504. The caller waits longer, to hear how the pull ended rather than call it gone.
PULL_TIMEOUT_S = 20.0
GRPC_OPTIONS = [
    ("grpc.max_receive_message_length", 4 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.http2.ping_timeout_ms", 1_000),
]
#: ``Adapter.counts`` from our node's /metrics (node/metrics.py): key -> sample, its labels.
OUT, OK, ERROR = ("direction", "out"), ("outcome", "ok"), ("outcome", "error")
METRIC_COUNTS = {
    SEARCHES: ("peerload_searches_total", frozenset()),
    SERVED: ("peerload_downloads_total", frozenset({OUT, OK})),
    SERVED_FAILED: ("peerload_downloads_total", frozenset({OUT, ERROR})),
    SERVED_BYTES: ("peerload_download_bytes_total", frozenset({OUT})),
}


def numbers(peers: list[dict], field: str) -> dict[str, float]:
    """Peer name -> ``field`` of each member of a peers view that has a number there."""
    return {p["name"]: p[field] for p in peers if isinstance(p.get(field), int | float)}


class BuiltinAdapter(Adapter):
    """peerload's node: every capability."""

    name = "builtin"
    capabilities = ALL
    tells_full = True
    hops = HOPS_FEWEST  # node/flood.py: each hit takes the fewest hops the query reached it at
    #: The failures our API documents (README's REST table; proto/p2p.proto for gRPC).
    statuses = {
        "search": frozenset({400}),
        "index": frozenset({400, 411, 413, INSUFFICIENT_STORAGE}),
        "node_download": frozenset({400, 404, 409, 413, 502, 504, INSUFFICIENT_STORAGE}),
        "download": frozenset({"NOT_FOUND", "INVALID_ARGUMENT", "FAILED_PRECONDITION"}),
    }

    def __init__(self, nodes: list[NodeInfo]) -> None:
        super().__init__(nodes)
        self._http: dict[tuple[str, float], HTTPClient] = {}
        self._channels: dict[str, grpc.Channel] = {}

    # -- transport ------------------------------------------------------------------------
    def _client(self, key: tuple[str, float]) -> HTTPClient:
        client = self._http.get(key)
        if client is None:
            url = urlsplit(self.nodes[key[0]].http)
            client = HTTPClient(
                url.hostname,
                url.port,
                connection_timeout=CONNECT_TIMEOUT_S,
                network_timeout=key[1],
                concurrency=1,
            )
            self._http[key] = client
        return client

    def _exchange(
        self,
        node: NodeInfo,
        method: str,
        path: str,
        body: bytes | None = None,
        timeout: float = NETWORK_TIMEOUT_S,
    ) -> tuple[int, bytes]:
        """One HTTP call: its status and body; ``Unavailable`` when the node does not answer
        within ``timeout``."""
        key = (node.name, timeout)
        try:
            response = self._client(key).request(method, path, body=body or b"")
            return response.status_code, response.read()
        except Exception as exc:  # refused, reset, timeout: the node is not there
            broken = self._http.pop(key, None)
            if broken is not None:
                broken.close()
            raise Unavailable(f"{node.name}: {type(exc).__name__}: {exc}"[:200]) from None

    def request(
        self,
        node: NodeInfo,
        method: str,
        path: str,
        body: bytes | None = None,
        ok=(200,),
        timeout: float = NETWORK_TIMEOUT_S,
    ) -> dict[str, Any]:
        """One JSON call; ``Unavailable`` when the node does not answer, ``Refused`` when it
        answers with another status or not with JSON."""
        status, raw = self._exchange(node, method, path, body, timeout)
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            raise Refused(f"{node.name}: malformed JSON") from None
        if status not in ok:
            error = answer.get("error") if isinstance(answer, dict) else None
            kind = Full if status == INSUFFICIENT_STORAGE else Refused
            raise kind(f"{node.name}: HTTP {status}: {error}"[:200], status)
        if not isinstance(answer, dict):
            raise Refused(f"{node.name}: malformed answer")
        return answer

    # -- operations -----------------------------------------------------------------------
    def health(self, node: NodeInfo) -> dict[str, Any]:
        answer = self.request(node, "GET", "/health")
        if answer.get("status") != "ok":
            raise Refused(f"{node.name}: status {answer.get('status')!r}")
        return answer

    def search(self, node: NodeInfo, term: str, ttl: int) -> SearchAnswer:
        query = urllib.parse.urlencode({"q": term, "ttl": ttl})
        answer = self.request(node, "GET", f"/search?{query}")
        results, reached = answer.get("results"), answer.get("nodes")
        if not isinstance(results, list) or not isinstance(reached, list):
            raise Refused(f"{node.name}: malformed search answer")
        try:
            hits = tuple(
                Hit(r["node"], r["name"], r["sha256"], r["size"], r["hops"], r["grpc"])
                for r in results
            )
        except (KeyError, TypeError):
            raise Refused(f"{node.name}: malformed search hit") from None
        messages, elapsed = answer.get("messages"), answer.get("elapsed_ms")
        return SearchAnswer(
            hits,
            tuple(reached),
            bool(answer.get("partial")),
            messages if isinstance(messages, int) else None,
            float(elapsed) if type(elapsed) in (int, float) else None,
        )

    def index(self, node: NodeInfo, name: str, data: bytes) -> str | None:
        path = f"/files/{urllib.parse.quote(name)}"
        return self.request(node, "PUT", path, data, ok=(201,)).get("sha256")

    def node_download(self, node: NodeInfo, name: str, sha256: str, source: NodeInfo) -> str:
        body = json.dumps({"name": name, "sha256": sha256, "from": source.name, "force": True})
        answer = self.request(node, "POST", "/download", body.encode(), timeout=PULL_TIMEOUT_S)
        return answer.get("sha256") or ""

    def peers(self, node: NodeInfo) -> dict[str, str]:
        peers = self.request(node, "GET", "/peers").get("peers", [])
        self.rtt_ms[node.name] = numbers(peers, "rtt_ms")
        self.last_seen_s[node.name] = numbers(peers, "last_seen_s")
        self.links[node.name] = {p["name"] for p in peers if p.get("neighbour") and p.get("name")}
        return {p.get("name"): p.get("state") for p in peers}

    def counts(self, node: NodeInfo) -> dict[str, float]:
        names = {name for name, _ in METRIC_COUNTS.values()}
        query = urllib.parse.urlencode([("name[]", n) for n in sorted(names)])
        status, raw = self._exchange(node, "GET", f"/metrics?{query}")
        if status != 200:
            raise Refused(f"{node.name}: HTTP {status} for /metrics")
        try:
            samples = [s for f in text_string_to_metric_families(raw.decode()) for s in f.samples]
        except ValueError as exc:
            raise Refused(f"{node.name}: /metrics: {exc}"[:200]) from None
        # A labelled counter shows a child once it counted: one not shown has counted nothing.
        return {
            key: sum(s.value for s in samples if s.name == name and labels <= s.labels.items())
            for key, (name, labels) in METRIC_COUNTS.items()
        }

    def removable(self, node: NodeInfo) -> str | None:
        if not node.shared_dir or not os.path.isdir(node.shared_dir):
            return f"{node.name}'s shared folder is not on this machine"
        return None

    def remove(self, node: NodeInfo, name: str) -> None:
        if why := self.removable(node):
            raise Refused(why)
        try:
            os.unlink(os.path.join(node.shared_dir, check_name(name)))
        except BadName as exc:
            raise Refused(f"{node.name}: {exc}") from None
        except OSError as exc:
            raise Refused(f"{node.name}: {type(exc).__name__}: {exc}"[:200]) from None
        self.request(node, "POST", "/files/rescan")

    def probes(self, node: NodeInfo) -> list[Probe]:
        victim = next((n for n in self.nodes if n != node.name), None)
        return builtin_probes(node, victim)

    def rogue_pulls(self, node: NodeInfo) -> list[RoguePull]:
        return builtin_rogue.rogue_pulls(node, self.health(node))

    def minimal_peer(self, node: NodeInfo) -> AbstractContextManager[MinimalPeer]:
        return builtin_minimal.minimal_peer(node)

    def files(self, node: NodeInfo) -> dict[str, str | None]:
        answer = self.request(node, "GET", "/files")
        return {f["name"]: f.get("sha256") for f in answer.get("files", []) if "name" in f}

    def download(self, node: NodeInfo, hit: Hit, timeout: float) -> Download:
        address = hit.source or node.grpc
        if address not in self._channels:
            memory.tune()  # 1 MiB messages: without it, every chunk is page-faulted in again
            options = self.grpc_options(GRPC_OPTIONS)
            self._channels[address] = grpc.insecure_channel(address, options=options)
        stream = download_call(self._channels[address])(
            p2p_pb2.DownloadRequest(name=hit.name), timeout=timeout
        )
        header = None
        try:
            for n, chunk in enumerate(stream):
                if n == 0 and chunk.info is not None:  # the protocol's header: first only
                    header = chunk.info
                if chunk.done:
                    # Wait for the call's end, as a well-behaved client does: cancelled after
                    # the last chunk, a node may count a stream it served whole as failed.
                    for _ in stream:
                        pass
                    return self._stated(header, chunk)
                yield chunk.data
            return self._stated(header, None)
        except grpc.RpcError as exc:
            kind = Unavailable if exc.code() in GRPC_GONE else Refused
            why = f"{node.name}: {exc.code().name}: {exc.details()}"[:200]
            raise kind(why, exc.code().name) from None

    def _stated(self, header, trailer) -> Stated:
        """What a stream of our protocol said: its first message's ``info``, its ``done``."""
        said = {}
        if header is not None:
            said = {"name": header.name, "size": header.size, "sha256": header.sha256}
            said["node"] = self.node_for(header.node) or header.node
        if trailer is not None:
            said.update(total=trailer.total, digest=trailer.sha256)
        missing = tuple(p for p, m in ((HEADER, header), (TRAILER, trailer)) if m is None)
        return Stated(**said, missing=missing)

    def close(self) -> None:
        for client in self._http.values():
            client.close()
        for channel in self._channels.values():
            channel.close()
        self._http.clear()
        self._channels.clear()
