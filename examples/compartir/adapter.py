"""peerload's adapter for compartir: REST by requests (one session per caller), downloads by gRPC.

compartir names its nodes ``ip:puerto``: ``Adapter.node_for`` maps an address to peerload's n1,
n2, ... Its vecinos list says nothing of liveness, so each listed peer is ``listed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import requests

import networks.adapter as pl
from examples.compartir import compartir_pb2, compartir_pb2_grpc

#: So that `--network examples.compartir.adapter:CompartirAdapter` works too.
DEFINITION = Path("network.toml")
GONE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


class CompartirAdapter(pl.Adapter):
    """No sha256, partial flag, message count or node-to-node download; peers listed, not alive."""

    name = "compartir"
    capabilities = frozenset({pl.SEARCH, pl.INDEX, pl.DOWNLOAD, pl.MEMBERS, pl.FILES})
    timeout_s = 3.0

    def __init__(self, nodes: list[pl.NodeInfo]) -> None:
        super().__init__(nodes)
        self.session = requests.Session()  # one per caller: its connections stay open

    def _call(self, node: pl.NodeInfo, method: str, path: str, **kw: Any) -> Any:
        try:
            answer = self.session.request(method, node.http + path, timeout=self.timeout_s, **kw)
            answer.raise_for_status()
            return answer.json()
        except (requests.HTTPError, ValueError) as err:  # an error status, or not JSON
            raise pl.Refused(f"{node.name}: {path}: {err}") from None
        except requests.RequestException as err:  # refused, reset, timed out
            raise pl.Unavailable(f"{node.name}: {path}: {err}") from None

    def health(self, node: pl.NodeInfo) -> dict[str, Any]:
        return {"name": node.name, **self._call(node, "GET", "/estado")}

    def search(self, node: pl.NodeInfo, term: str, ttl: int) -> pl.SearchAnswer:
        found = self._call(node, "GET", "/buscar", params={"termino": term, "ttl": ttl})
        try:
            return pl.SearchAnswer(tuple(
                pl.Hit(self.node_for(r["nodo"]) or "", r["nombre"], None, r["tamano"],
                       r["saltos"], r["grpc"])
                for r in found["resultados"]
            ))  # fmt: skip
        except (KeyError, TypeError):
            raise pl.Refused(f"{node.name}: malformed /buscar answer") from None

    def download(self, node: pl.NodeInfo, hit: pl.Hit, timeout: float) -> Iterator[bytes]:
        address = hit.source or node.grpc
        with grpc.insecure_channel(address, options=self.grpc_options()) as channel:
            stub = compartir_pb2_grpc.TransferenciaStub(channel)
            try:
                for piece in stub.Descargar(compartir_pb2.Pedido(nombre=hit.name), timeout=timeout):
                    yield piece.datos
            except grpc.RpcError as err:
                kind = pl.Unavailable if err.code() in GONE else pl.Refused
                raise kind(f"{node.name}: {err.code().name}: {err.details()}") from None

    def index(self, node: pl.NodeInfo, name: str, data: bytes) -> str | None:
        stored = self._call(node, "POST", "/subir", files={"archivo": (name, data)})
        if stored.get("nombre") != name:  # it stores a name made safe (werkzeug's secure_filename)
            raise pl.Refused(f"{node.name}: {name!r} stored as {stored.get('nombre')!r}")
        return None  # no checksum acknowledged: peerload trusts its own

    def peers(self, node: pl.NodeInfo) -> dict[str, str]:
        listed = (self.node_for(a) for a in self._call(node, "GET", "/vecinos")["vecinos"])
        return {peer: pl.LISTED for peer in listed if peer}

    def files(self, node: pl.NodeInfo) -> dict[str, str | None]:
        return {f["nombre"]: None for f in self._call(node, "GET", "/archivos")["archivos"]}

    def close(self) -> None:
        self.session.close()
