"""Who is in the network and who is alive: join, heartbeats with RTT, failure detection.

Each known peer gets a greenlet that heartbeats it every interval, whatever its state: that is
how a dead peer is re-admitted when it returns. A refused connection is proof the process is
gone (dead after two in a row); a frozen or partitioned peer is only silence, dead once nothing
has been heard for ``dead_after_s``. Heartbeats carry the sender's known peers (gossip), so a
node that joins through one bootstrap peer learns the rest.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import gevent

from .config import (
    DEAD_AFTER_REFUSALS,
    HEARTBEAT_TIMEOUT_S,
    MAX_PEER_FIELD_CHARS,
    MAX_PEERS,
    SUSPECT_AFTER_S,
)
from .peerclient import PeerClient, PeerError

log = logging.getLogger("node.membership")

ALIVE, SUSPECT, DEAD = "alive", "suspect", "dead"
JOIN_RETRY_S = 0.25
INFO_FIELDS = ("node_id", "name", "http", "grpc")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
HOST_PORT_RE = re.compile(r"^[A-Za-z0-9_.-]{1,253}:(\d{1,5})$")


def valid_info(info: object) -> bool:
    """Peer info as a node would send it: anything else is ignored, never stored or gossiped
    (a bad address would otherwise break every search that floods to it)."""
    if not isinstance(info, dict):
        return False
    values = [info.get(k) for k in INFO_FIELDS]
    if not all(isinstance(v, str) and 0 < len(v) <= MAX_PEER_FIELD_CHARS for v in values):
        return False
    node_id, name, http, grpc_addr = values
    if not NAME_RE.match(name) or not NAME_RE.match(node_id):
        return False
    try:
        url = urlsplit(http)
        port = url.port
    except ValueError:
        return False
    grpc_match = HOST_PORT_RE.match(grpc_addr)
    return (
        url.scheme == "http"
        and bool(url.hostname)
        and port is not None
        and 0 < port < 65536
        and grpc_match is not None
        and 0 < int(grpc_match.group(1)) < 65536
    )


@dataclass
class Peer:
    node_id: str
    name: str
    http: str
    grpc: str
    state: str = SUSPECT
    last_ok: float = field(default_factory=time.monotonic)
    last_seen_wall: float | None = None
    rtt_ms: float | None = None
    refusals: int = 0

    def info(self) -> dict:
        return {k: getattr(self, k) for k in INFO_FIELDS}

    def view(self) -> dict:
        seen = None if self.last_seen_wall is None else round(time.time() - self.last_seen_wall, 3)
        rtt = None if self.rtt_ms is None else round(self.rtt_ms, 3)
        return {**self.info(), "state": self.state, "last_seen_s": seen, "rtt_ms": rtt}


class Membership:
    """The peer table of one node, and the greenlets that keep it true."""

    def __init__(
        self,
        me: dict,
        client: PeerClient,
        *,
        interval_s: float,
        dead_after_s: float,
        remember: Callable[[list[dict]], None] = lambda peers: None,
        forget: Callable[[str], None] = lambda node_id: None,
    ) -> None:
        self.me = me
        self.client = client
        self.interval_s = interval_s
        self.dead_after_s = dead_after_s
        self.remember = remember
        self.forget = forget
        self.peers: dict[str, Peer] = {}
        self._loops: dict[str, gevent.Greenlet] = {}
        self._running = False

    # -- queries -------------------------------------------------------------------------
    def alive(self) -> list[Peer]:
        """Peers worth sending a query to: alive or merely suspect."""
        return [p for p in self.peers.values() if p.state != DEAD]

    def by_name(self, name: str) -> Peer | None:
        return next((p for p in self.peers.values() if p.name == name), None)

    def counts(self) -> tuple[int, int]:
        alive = sum(1 for p in self.peers.values() if p.state == ALIVE)
        return alive, len(self.peers)

    def view(self) -> list[dict]:
        return [p.view() for p in sorted(self.peers.values(), key=lambda p: p.name)]

    # -- learning about peers ------------------------------------------------------------
    def learn(self, info: dict, *, heard_from: bool = False) -> None:
        """Add or update a peer from its info; ``heard_from``: it just talked to us."""
        if not valid_info(info) or info["node_id"] == self.me["node_id"]:
            return
        peer = self.peers.get(info["node_id"])
        if peer is None and len(self.peers) >= MAX_PEERS and self.by_name(info["name"]) is None:
            log.warning("ignoring peer %s: already %d peers", info["name"], MAX_PEERS)
            return
        if peer is None:
            stale = self.by_name(info["name"])  # same name, new identity: it was rebuilt
            if stale is not None:
                if not heard_from:
                    return  # only the node itself may replace its identity, not gossip
                self._forget(stale.node_id)
            peer = Peer(**{k: info[k] for k in INFO_FIELDS})
            self.peers[peer.node_id] = peer
            self.remember([peer.info()])
            if self._running:
                self._spawn(peer)
        elif (peer.http, peer.grpc) != (info["http"], info["grpc"]):
            peer.http, peer.grpc = info["http"], info["grpc"]
            self.remember([peer.info()])
        if heard_from:
            self._mark_ok(peer, rtt_ms=None)

    def learn_all(self, infos: list) -> None:
        for info in infos[:MAX_PEERS] if isinstance(infos, list) else []:
            self.learn(info)

    def gossip(self) -> dict:
        """What this node tells others: itself and every peer it knows."""
        return {"self": self.me, "peers": [p.info() for p in self.peers.values()]}

    def receive(self, message: dict) -> dict:
        """Handle an incoming join or heartbeat; answer with our own gossip."""
        if isinstance(message.get("self"), dict):
            self.learn(message["self"], heard_from=True)
        self.learn_all(message.get("peers"))
        return self.gossip()

    # -- background work -----------------------------------------------------------------
    def start(self, bootstrap: list[str], known: list[dict]) -> None:
        self._running = True
        self.learn_all(known)
        for peer in list(self.peers.values()):
            self._spawn(peer)
        if bootstrap:
            gevent.spawn(self._join, bootstrap)

    def stop(self) -> None:
        self._running = False
        gevent.killall(list(self._loops.values()), block=False)
        self._loops.clear()

    def _spawn(self, peer: Peer) -> None:
        self._loops[peer.node_id] = gevent.spawn(self._heartbeat_loop, peer.node_id)

    def _forget(self, node_id: str) -> None:
        self.peers.pop(node_id, None)
        self.forget(node_id)
        loop = self._loops.pop(node_id, None)
        if loop is not None:
            loop.kill(block=False)

    def _join(self, bootstrap: list[str]) -> None:
        """Keep trying the bootstrap peers until one answers (they may start after us)."""
        while self._running:
            for url in bootstrap:
                try:
                    answer = self.client.call(
                        url, "join", self.gossip(), timeout=HEARTBEAT_TIMEOUT_S
                    )
                except PeerError:
                    continue
                self.learn(answer.get("self", {}), heard_from=True)
                self.learn_all(answer.get("peers"))
                return
            gevent.sleep(JOIN_RETRY_S)

    def _heartbeat_loop(self, node_id: str) -> None:
        try:
            self._heartbeats(node_id)
        except Exception:  # a heartbeat loop must not die silently and leave a peer "alive"
            log.exception("heartbeats to %s stopped", node_id)
            peer = self.peers.get(node_id)
            if peer is not None:
                self._set_state(peer, DEAD)

    def _heartbeats(self, node_id: str) -> None:
        while self._running and node_id in self.peers:
            peer = self.peers[node_id]
            started = time.monotonic()
            try:
                answer = self.client.call(
                    peer.http,
                    "heartbeat",
                    self.gossip(),
                    timeout=HEARTBEAT_TIMEOUT_S,
                    peer_name=peer.name,
                )
            except PeerError as exc:
                self._mark_failed(peer, refused=exc.kind == "refused")
            else:
                self._mark_ok(peer, rtt_ms=(time.monotonic() - started) * 1000)
                self.learn_all(answer.get("peers"))
            gevent.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    def _mark_ok(self, peer: Peer, rtt_ms: float | None) -> None:
        peer.last_ok = time.monotonic()
        peer.last_seen_wall = time.time()
        peer.refusals = 0
        if rtt_ms is not None:
            peer.rtt_ms = rtt_ms
        self._set_state(peer, ALIVE)

    def _mark_failed(self, peer: Peer, *, refused: bool) -> None:
        peer.refusals = peer.refusals + 1 if refused else 0
        silent = time.monotonic() - peer.last_ok
        if peer.refusals >= DEAD_AFTER_REFUSALS or silent >= self.dead_after_s:
            self._set_state(peer, DEAD)
        elif peer.state == ALIVE and (refused or silent >= SUSPECT_AFTER_S):
            self._set_state(peer, SUSPECT)

    def _set_state(self, peer: Peer, state: str) -> None:
        if peer.state == state:
            return
        old, peer.state = peer.state, state
        log.info("peer %s: %s -> %s", peer.name, old, state)
