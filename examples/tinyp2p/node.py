"""One tinyp2p node: REST API (aiohttp), file transfer (grpc.aio), membership and search.

Everything runs in one asyncio event loop. Peers know each other by name; each node keeps
``{name: {"url", "grpc", "last_seen"}}`` and pings every peer each ``HEARTBEAT_S``; a peer
silent for ``PEER_TIMEOUT_S`` is dropped (it comes back by logging in or pinging again).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from aiohttp import web

from examples.tinyp2p import tinyp2p_pb2, tinyp2p_pb2_grpc

API = "/api/v1"
CHUNK_BYTES = 64 * 1024
DEFAULT_HOPS = 3
MAX_HOPS = 5
MAX_KEYWORD = 100
MAX_NAME = 64
MAX_URL = 200
MAX_BODY = 64 * 1024
MAX_PEERS = 64
SEEN_CAP = 4096  # query ids remembered for duplicate suppression
HEARTBEAT_S = 1.0
PEER_TIMEOUT_S = 3.0
REQUEST_TIMEOUT_S = 2.0  # any call to a peer: login, ping, forwarded query
STOP_GRACE_S = 2.0  # on SIGTERM, in-flight requests get this long

log = logging.getLogger("tinyp2p")


class BadRequest(web.HTTPBadRequest):
    """A 400 with a JSON body, so clients always get JSON back."""

    def __init__(self, reason: str) -> None:
        super().__init__(text=json.dumps({"error": reason}), content_type="application/json")


def text_field(body: dict[str, Any], key: str, limit: int) -> str:
    """``body[key]`` as a non-empty string of at most ``limit`` characters, or 400."""
    value = body.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise BadRequest(f"{key}: a string of 1..{limit} characters")
    return value


def int_field(value: Any, key: str, high: int) -> int:
    """``value`` as an int in 0..high (query strings give strings), or 400."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{key}: an integer") from None
    if not 0 <= number <= high:
        raise BadRequest(f"{key}: 0..{high}")
    return number


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("body: JSON expected") from None
    if not isinstance(body, dict):
        raise BadRequest("body: a JSON object expected")
    return body


class TinyNode(tinyp2p_pb2_grpc.TransferServicer):
    """A node's state and handlers (REST routes and the gRPC ``Transfer`` service)."""

    def __init__(
        self, name: str, host: str, port: int, grpc_port: int, data_dir: str, seeds: list[str]
    ) -> None:
        self.name, self.host, self.port, self.grpc_port = name, host, port, grpc_port
        self.me = {"name": name, "url": f"http://{host}:{port}", "grpc": f"{host}:{grpc_port}"}
        self.shared = Path(data_dir) / "shared"
        self.seeds = seeds
        self.peers: dict[str, dict[str, Any]] = {}
        self.files: dict[str, int] = {}  # filename -> bytes
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.started = time.time()
        self.session: aiohttp.ClientSession | None = None

    # -- REST ---------------------------------------------------------------------------
    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.add_routes(
            [
                web.get(f"{API}/status", self.status),
                web.post(f"{API}/login", self.login),
                web.post(f"{API}/ping", self.ping),
                web.get(f"{API}/neighbours", self.neighbours),
                web.get(f"{API}/files", self.list_files),
                web.post(f"{API}/reindex", self.reindex),
                web.get(f"{API}/query", self.query),
                web.post(f"{API}/flood", self.flood_in),
            ]
        )
        return app

    async def status(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "node": self.name,
                "alive": True,
                "grpc": self.me["grpc"],
                "peers": len(self.peers),
                "files": len(self.files),
                "started": self.started,
            }
        )

    async def login(self, request: web.Request) -> web.Response:
        """A new node announces itself; it gets back everyone this node knows."""
        peer = self.add_peer(await json_body(request))
        known = [{k: p[k] for k in ("name", "url", "grpc")} for p in self.peers.values()]
        return web.json_response({"peers": [self.me, *(p for p in known if p["name"] != peer)]})

    async def ping(self, request: web.Request) -> web.Response:
        self.add_peer(await json_body(request))
        return web.json_response({"node": self.name})

    async def neighbours(self, _: web.Request) -> web.Response:
        return web.json_response({"neighbours": list(self.peers.values())})

    async def list_files(self, _: web.Request) -> web.Response:
        files = [{"filename": n, "bytes": b} for n, b in sorted(self.files.items())]
        return web.json_response({"files": files})

    async def reindex(self, _: web.Request) -> web.Response:
        self.scan()
        return web.json_response({"indexed": len(self.files)})

    async def query(self, request: web.Request) -> web.Response:
        """Search the network: local files, then flood to every neighbour within ``hops``."""
        keyword = request.query.get("keyword", "").strip()
        if not 0 < len(keyword) <= MAX_KEYWORD:
            raise BadRequest(f"keyword: 1..{MAX_KEYWORD} characters")
        hops = int_field(request.query.get("hops", DEFAULT_HOPS), "hops", MAX_HOPS)
        qid = uuid.uuid4().hex
        matches = await self.flood(qid, keyword, hops, 0, sender=None)
        return web.json_response({"query": qid, "matches": matches})

    async def flood_in(self, request: web.Request) -> web.Response:
        """A query forwarded by a neighbour; a query id seen before answers nothing."""
        body = await json_body(request)
        qid = text_field(body, "qid", MAX_NAME)
        keyword = text_field(body, "keyword", MAX_KEYWORD)
        ttl = int_field(body.get("ttl"), "ttl", MAX_HOPS)
        hops = int_field(body.get("hops"), "hops", MAX_HOPS)
        sender = text_field(body, "from", MAX_NAME)
        if qid in self.seen:
            return web.json_response({"matches": []})
        return web.json_response({"matches": await self.flood(qid, keyword, ttl, hops, sender)})

    # -- search ---------------------------------------------------------------------------
    async def flood(
        self, qid: str, keyword: str, ttl: int, hops: int, sender: str | None
    ) -> list[dict[str, Any]]:
        self.seen[qid] = None
        if len(self.seen) > SEEN_CAP:
            self.seen.popitem(last=False)
        word = keyword.lower()
        matches = [
            {
                "owner": self.name,
                "filename": name,
                "bytes": size,
                "endpoint": self.me["grpc"],
                "hops": hops,
            }
            for name, size in self.files.items()
            if word in name.lower()
        ]
        if ttl > 0:
            body = {"qid": qid, "keyword": keyword, "ttl": ttl - 1, "hops": hops + 1}
            targets = [p["url"] for n, p in self.peers.items() if n != sender]
            answers = await asyncio.gather(*(self.forward(url, body) for url in targets))
            for answer in answers:
                matches.extend(answer)
        return matches

    async def forward(self, url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """A neighbour's matches; nothing if it fails (the search goes on without it)."""
        answer = await self.post(url, "flood", {**body, "from": self.name})
        matches = answer.get("matches") if answer else None
        return matches if isinstance(matches, list) else []

    # -- membership -----------------------------------------------------------------------
    def add_peer(self, body: dict[str, Any]) -> str:
        name = text_field(body, "name", MAX_NAME)
        url = text_field(body, "url", MAX_URL)
        grpc_addr = text_field(body, "grpc", MAX_URL)
        if not url.startswith("http://"):
            raise BadRequest("url: http://host:port")
        if name != self.name and (name in self.peers or len(self.peers) < MAX_PEERS):
            self.peers[name] = {
                "name": name,
                "url": url,
                "grpc": grpc_addr,
                "last_seen": time.time(),
            }
        return name

    async def join(self) -> None:
        """Log in to each ``--peer``, then to every peer they tell us about."""
        todo, done = list(self.seeds), set()
        while todo:
            url = todo.pop()
            if url in done or url == self.me["url"]:
                continue
            done.add(url)
            answer = await self.post(url, "login", self.me)
            if answer is None:
                log.warning("login to %s failed", url)
                continue
            for peer in answer.get("peers", []):
                if isinstance(peer, dict):
                    try:
                        self.add_peer(peer)
                    except web.HTTPBadRequest:
                        continue
                    todo.append(peer["url"])

    async def heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            peers = list(self.peers.values())
            answers = await asyncio.gather(*(self.post(p["url"], "ping", self.me) for p in peers))
            now = time.time()
            for peer, answer in zip(peers, answers, strict=True):
                if answer is not None:
                    peer["last_seen"] = now
            for name, peer in list(self.peers.items()):
                if now - peer["last_seen"] > PEER_TIMEOUT_S:
                    log.info("dropping %s: silent for %.1fs", name, now - peer["last_seen"])
                    del self.peers[name]

    async def post(self, url: str, op: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST to a peer's ``/api/v1/<op>``; its JSON answer, or None if it failed."""
        assert self.session is not None
        try:
            async with self.session.post(f"{url}{API}/{op}", json=body) as resp:
                resp.raise_for_status()
                answer = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            log.debug("%s %s: %r", op, url, err)
            return None
        return answer if isinstance(answer, dict) else None

    # -- files ----------------------------------------------------------------------------
    def scan(self) -> None:
        """Index the shared folder: every visible regular file (temp files start with '.')."""
        self.files = {
            p.name: p.stat().st_size
            for p in self.shared.iterdir()
            if not p.name.startswith(".") and p.is_file()
        }

    async def Fetch(self, request: tinyp2p_pb2.FetchRequest, context: grpc.aio.ServicerContext):  # noqa: N802
        if request.filename not in self.files:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no file {request.filename!r}")
        try:
            with open(self.shared / request.filename, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield tinyp2p_pb2.Piece(data=chunk)
        except OSError as err:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(err))

    # -- lifecycle ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then close everything."""
        self.shared.mkdir(parents=True, exist_ok=True)
        self.scan()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(REQUEST_TIMEOUT_S))
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        tinyp2p_pb2_grpc.add_TransferServicer_to_server(self, server)
        server.add_insecure_port(self.me["grpc"])
        await server.start()
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=STOP_GRACE_S)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port).start()
            await self.join()
            beat = asyncio.create_task(self.heartbeat())
            log.info("%s up: %s, grpc %s", self.name, self.me["url"], self.me["grpc"])
            await stop.wait()
            beat.cancel()
        finally:
            await runner.cleanup()
            await server.stop(STOP_GRACE_S)
            await self.session.close()
