"""peerload's adapter for tinyp2p: REST by urllib (gevent-friendly), downloads by sync gRPC."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

import networks.adapter as pl
from examples.tinyp2p import tinyp2p_pb2, tinyp2p_pb2_grpc

DEFINITION = Path("network.toml")  # so `--network examples.tinyp2p.adapter:TinyAdapter` works
GONE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class TinyAdapter(pl.Adapter):
    """tinyp2p's answers carry no sha256, no partial flag, no message count, and it has no
    node-to-node download: those capabilities are not declared."""

    name = "tinyp2p"
    capabilities = frozenset({pl.SEARCH, pl.INDEX, pl.DOWNLOAD, pl.PEERS, pl.FILES})
    timeout_s = 3.0

    def _call(self, node: pl.NodeInfo, path: str, post: bool = False) -> dict[str, Any]:
        req = urllib.request.Request(f"{node.http}/api/v1/{path}", b"{}" if post else None)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return json.load(resp)
        except (urllib.error.HTTPError, ValueError) as err:  # an error status, or not JSON
            raise pl.Refused(f"{node.name}: {path}: {err}") from None
        except OSError as err:  # refused, reset, timed out
            raise pl.Unavailable(f"{node.name}: {path}: {err}") from None

    def health(self, node: pl.NodeInfo) -> dict[str, Any]:
        return {"name": node.name, **self._call(node, "status")}

    def search(self, node: pl.NodeInfo, term: str, ttl: int) -> pl.SearchAnswer:
        found = self._call(node, "query?" + urllib.parse.urlencode({"keyword": term, "hops": ttl}))
        try:
            return pl.SearchAnswer(tuple(
                pl.Hit(m["owner"], m["filename"], None, m["bytes"], m.get("hops"), m["endpoint"])
                for m in found["matches"]
            ))  # fmt: skip
        except (KeyError, TypeError):
            raise pl.Refused(f"{node.name}: malformed query answer") from None

    def download(self, node: pl.NodeInfo, hit: pl.Hit, timeout: float) -> Iterator[bytes]:
        address = hit.source or node.grpc
        with grpc.insecure_channel(address, options=self.grpc_options()) as channel:
            ask = tinyp2p_pb2.FetchRequest(filename=hit.name)
            try:
                for piece in tinyp2p_pb2_grpc.TransferStub(channel).Fetch(ask, timeout=timeout):
                    yield piece.data
            except grpc.RpcError as err:
                kind = pl.Unavailable if err.code() in GONE else pl.Refused
                raise kind(f"{node.name}: {err.code().name}: {err.details()}") from None

    def index(self, node: pl.NodeInfo, name: str, data: bytes) -> str | None:
        """No upload call: write into the node's shared folder, then ask it to reindex."""
        part = Path(str(node.shared_dir), f".{name}.part")  # hidden: the node skips it
        part.write_bytes(data)
        part.replace(part.with_name(name))
        self._call(node, "reindex", post=True)
        return None  # tinyp2p acknowledges no checksum: peerload trusts its own

    def peers(self, node: pl.NodeInfo) -> dict[str, str]:
        """A peer silent for 3 s is dropped from the list: absent means dead. The list is also
        whom the node floods to (every member it learnt at login): its links."""
        listed = {p["name"] for p in self._call(node, "neighbours")["neighbours"]}
        self.links[node.name] = listed
        return {n: pl.ALIVE if n in listed else pl.DEAD for n in self.nodes if n != node.name}

    def files(self, node: pl.NodeInfo) -> dict[str, str | None]:
        return {f["filename"]: None for f in self._call(node, "files")["files"]}
