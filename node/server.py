"""One peer: wires catalog, membership, failure detector, neighbours, flood and transfer,
serves HTTP and gRPC, drains on SIGTERM. ``node.json`` in the data dir says who the node is (for
whoever started it) and keeps its neighbours across restarts.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sqlite3
import sys
import time
from collections.abc import Callable

import gevent
from gevent.event import Event
from gevent.pool import Pool
from gevent.threadpool import ThreadPool

from . import memory, metrics, wire
from .api import build_app
from .catalog import Catalog, FileRecord, NoSpace, is_no_space
from .config import DOWNLOAD_DEADLINE_S, MAX_CONNECTIONS, NEIGHBOUR_CHECK_S, NodeConfig
from .detector import Detector
from .flood import Flood
from .grpcserver import GrpcServer
from .membership import Membership
from .neighbours import Neighbours
from .netfaults import NetFaults
from .peerclient import PeerClient
from .peerops import peer_ops
from .transfer import FileTransferServicer, Puller, TransferError
from .web import NodeServer

log = logging.getLogger("node")

DRAIN_TIMEOUT_S = 5.0
NODE_FILE = "node.json"
PARENT_CHECK_S = 0.5
PULL_THREADS = 16


def spare_disk(what: str, write: Callable[..., None]) -> Callable[..., None]:
    """``write``, logged and skipped rather than raised when the disk is full: a member list or
    neighbour file not saved only costs a later restart its hints, never an answer now."""

    def call(*args: object) -> None:
        try:
            write(*args)
        except (OSError, sqlite3.Error) as exc:
            if not is_no_space(exc):
                raise
            log.warning("disk full: %s not saved (%s)", what, exc)

    return call


def read_node_file(path) -> dict:
    """What a previous life of this node left in ``node.json`` (nothing if unreadable)."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


class InFlight:
    """Counts requests being answered (HTTP and peer frames), so a drain can wait for them
    without waiting for idle keep-alive connections, which never end on their own."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = Event()
        self._idle.set()

    def _enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def _exit(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    def wrap(self, func):
        """``func`` (a WSGI app or a peer-message handler), counted while it runs."""

        def counted(*args):
            self._enter()
            try:
                return func(*args)
            finally:
                self._exit()

        return counted

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)


class Node:
    """The composition root of a peer: builds its parts, the REST app (``node.api``) and the
    servers. Routes, peer frames and the servicer call into its parts."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.started = time.monotonic()
        self.catalog = Catalog(config.data_dir)
        self.catalog.rescan()
        self.faults = NetFaults()
        self.metrics = metrics.for_process()
        self.client = PeerClient(config.name, config.host, self.faults, self.metrics)
        self.puller = Puller(
            self.catalog, config.name, self.faults, config.max_upload, metrics=self.metrics
        )
        self.me = {"node_id": self.catalog.node_id(), "name": config.name, "http": "", "grpc": ""}
        self.membership = Membership(
            self.me,
            self.client,
            remember=spare_disk("known peers", self.catalog.remember_peers),
            forget=spare_disk("a forgotten peer", self.catalog.forget_peer),
        )
        self.detector = Detector(self.membership)
        self.neighbours = Neighbours(
            self.membership,
            max_degree=config.max_degree,
            min_degree=config.min_degree,
            save=spare_disk("the node file", self._write_node_file),
        )
        self.neighbours.restore(read_node_file(config.data_dir / NODE_FILE))
        self.detector.every(NEIGHBOUR_CHECK_S, self.neighbours.replace_dead)
        self.flood = Flood(self.me, self.catalog, self.neighbours, self.client, self.metrics)
        self.peer_ops = {  # each counted as it answers, over the wire or REST
            name: dataclasses.replace(op, run=self.metrics.received(name, op.run))
            for name, op in peer_ops(
                self.flood, self.membership, self.detector, self.neighbours, config.ttl_cap
            ).items()
        }
        self.http_server = None
        self.grpc_server: GrpcServer | None = None
        # Pulls get threads of their own: a slow or partitioned peer can hold a pull for its
        # whole deadline, and must not take the threads uploads need to fsync.
        self.pull_pool = ThreadPool(PULL_THREADS)
        self.stopped = Event()
        self.drained = Event()
        self.inflight = InFlight()
        self._peer_handlers = {
            name: self.inflight.wrap(op.run) for name, op in self.peer_ops.items()
        }
        self.metrics.watch(self)  # peers by state, neighbours, files: read when scraped

    # -- what routes call ----------------------------------------------------------------
    def health(self) -> dict:
        alive, known = self.membership.counts()
        return {
            "name": self.config.name,
            "node_id": self.me["node_id"],
            "status": "draining" if self.stopped.is_set() else "ok",
            "peers_alive": alive,
            "peers_known": known,
            "neighbours": len(self.neighbours),
            "files": len(self.catalog),
            "http": self.me["http"],
            "grpc": self.me["grpc"],
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - self.started, 3),
            "max_upload": self.config.max_upload,  # bytes: an upload's limit, and a pull's
        }

    def put_file(self, name: str, data: bytes) -> FileRecord:
        """Store an upload; ``NoSpace`` (nothing stored) when the disk is full."""
        # fsync can take milliseconds: do it off the hub so searches keep flowing.
        stored = gevent.get_hub().threadpool.apply(self._store, (name, data))
        if isinstance(stored, NoSpace):
            log.warning("upload %s refused: %s", name, stored)
            raise stored
        return stored

    def _store(self, name: str, data: bytes) -> FileRecord | NoSpace:
        """An upload, on a thread of the hub's pool. A full disk is returned, not raised: gevent's
        threadpool prints a full traceback for every exception that leaves a task, and a full
        disk is an ordinary answer (507), worth one line in the log."""
        try:
            return self.catalog.put_bytes(name, data)
        except NoSpace as exc:
            return exc

    def rescan(self) -> list[FileRecord]:
        return gevent.get_hub().threadpool.apply(self.catalog.rescan)

    def download(self, name: str, sha256: str, source: str, *, force: bool = False) -> dict:
        local = self.catalog.get(name)
        if local is not None and not force:
            if local.sha256 == sha256:
                return {**local.to_dict(), "from": source, "elapsed_ms": 0.0, "cached": True}
            raise TransferError(409, f"a different file named {name!r} exists here")
        # Only from a known peer (by name or gRPC address): a client must not be able to
        # make this node connect anywhere it likes.
        peer = self.membership.by_name(source) or next(
            (p for p in self.membership.members.values() if p.grpc == source), None
        )
        if peer is None:
            raise TransferError(400, f"unknown node {source!r}: give a peer's name or gRPC address")
        started = time.monotonic()
        record = self.pull_pool.apply(self._pull, (peer.grpc, name, sha256, peer.name))
        self.metrics.download(metrics.IN, not isinstance(record, TransferError))
        if isinstance(record, TransferError):
            log.warning(
                "download %s from %s failed (%d): %s", name, peer.name, record.status, record
            )
            raise record
        elapsed = round((time.monotonic() - started) * 1000, 3)
        return {**record.to_dict(), "from": source, "elapsed_ms": elapsed, "cached": False}

    def _pull(
        self, address: str, name: str, sha256: str, peer_name: str
    ) -> FileRecord | TransferError:
        """A pull, on a thread of the pull pool. A failed pull is returned, not raised: gevent's
        threadpool prints a full traceback for every exception that leaves a task, and a peer
        that refuses or breaks off is an ordinary answer (502), worth one line in the log."""
        try:
            return self.puller.pull(
                address, name, sha256, timeout=DOWNLOAD_DEADLINE_S, peer_name=peer_name
            )
        except TransferError as exc:
            return exc

    # -- peer messages (node/wire.py) -----------------------------------------------------
    def serve_peer(self, sock) -> None:
        """One peer connection: frames answered by the peer operations (``node/peerops.py``)."""
        wire.serve_connection(sock, self._peer_handlers, self.faults.drops, self.detector.closed)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Listen on HTTP and gRPC (``OSError`` if a port is taken), then join the network."""
        cfg = self.config
        hub = gevent.get_hub()
        hub.threadpool.maxsize = max(hub.threadpool.maxsize, 32)
        self.http_server = NodeServer(
            (cfg.host, cfg.http_port),
            self.inflight.wrap(self.metrics.wsgi(build_app(self))),
            log=None,
            peer_handler=self.serve_peer,
            spawn=Pool(MAX_CONNECTIONS),  # bounded: beyond this, new connections wait
        )
        try:
            self.http_server.init_socket()
        except OSError as exc:
            raise OSError(
                f"cannot listen for HTTP on {cfg.host}:{cfg.http_port}: {exc.strerror or exc}"
            ) from None
        http_port = self.http_server.socket.getsockname()[1]
        servicer = FileTransferServicer(self.catalog, cfg.name, self.faults, self.metrics)
        self.grpc_server = GrpcServer(cfg.host, cfg.grpc_port, servicer)
        grpc_port = self.grpc_server.start()
        self.me["http"] = f"http://{cfg.host}:{http_port}"
        self.me["grpc"] = f"{cfg.host}:{grpc_port}"
        self.http_server.start()
        self.membership.restore([*self.catalog.known_peers(), *self.neighbours.links.values()])
        self._write_node_file()
        self.detector.start()
        self.neighbours.start(cfg.bootstrap)
        if cfg.parent_pid:
            self.detector.every(PARENT_CHECK_S, lambda: self._exit_with_parent(cfg.parent_pid))
        print(f"node {cfg.name} listening {self.me['http']} grpc {self.me['grpc']}", flush=True)

    def _write_node_file(self) -> None:
        """Who this node is and its neighbours, replaced whole (never half-written)."""
        path = self.config.data_dir / NODE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**self.me, "pid": os.getpid(), **self.neighbours.state()}))
        os.replace(tmp, path)

    def _exit_with_parent(self, parent_pid: int) -> None:
        """A chore of the detector's loop, not a loop of its own: every timer that wakes an
        idle node costs, and 100 nodes on 2 cores feel each one."""
        if os.getppid() != parent_pid and not self.stopped.is_set():
            log.warning("parent %d is gone: draining", parent_pid)
            self.drain()

    def drain(self) -> None:
        """Stop taking work, finish what is in flight, close the catalog."""
        if self.stopped.is_set():
            return
        self.stopped.set()
        log.info("draining")
        try:
            if self.grpc_server is not None:
                self.grpc_server.enter_graceful_shutdown()
            self.detector.stop()
            self.neighbours.stop()
            if self.http_server is not None:
                self.http_server.close()  # no new connections
                self.inflight.wait_idle(DRAIN_TIMEOUT_S)  # requests being answered finish
                self.http_server.stop(timeout=0)  # idle keep-alive connections are dropped
            # a blocking join: from gevent's threadpool, so the hub keeps running meanwhile
            if self.grpc_server is not None and not gevent.get_hub().threadpool.apply(
                self.grpc_server.stop, (DRAIN_TIMEOUT_S,)
            ):
                log.warning("gRPC server still stopping after %.0f s", DRAIN_TIMEOUT_S)
            self.pull_pool.kill()
            self.puller.close()
        finally:  # whatever failed above, the catalog is closed and the process can exit
            self.catalog.close()
            self.drained.set()


def serve(config: NodeConfig) -> int:
    """Run a node until SIGTERM/SIGINT; the process exit code."""
    memory.tune()
    try:
        node = Node(config)
        node.start()
    except (OSError, sqlite3.Error) as exc:
        print(f"node {config.name}: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(sig, lambda: gevent.spawn(node.drain))
    node.drained.wait()
    return 0
