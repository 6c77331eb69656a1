"""Client for peer messages (flood, heartbeat, join) over the peer wire protocol.

Small on purpose: every call has a hard deadline, a connection that saw any error is closed
rather than pooled, and connections leave from the node's own loopback address so a real
network backend can cut links between two nodes. Partitions, latency and loss set through the
admin API apply here, on the way out.
"""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from urllib.parse import urlsplit

import gevent
from gevent import socket

from . import wire
from .metrics import NO_METRICS, NodeMetrics
from .netfaults import NetFaults, black_hole_s

MAX_IDLE_PER_PEER = 32
MIN_WAIT_S = 0.001  # past the deadline, an answer already in the socket buffer still counts


class PeerError(Exception):
    """A peer call that did not produce an answer. ``kind``: refused, timeout, dropped, bad."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Closed(Exception):
    """The peer closed the connection before answering (a pooled one may just be stale)."""


def _address(base_url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(base_url)
        return parts.hostname, parts.port or 80
    except ValueError as exc:
        raise PeerError("bad", f"{base_url}: {exc}") from None


def _address_or_none(base_url: str) -> tuple[str, int] | None:
    try:
        return _address(base_url)
    except PeerError:
        return None


def _literal_family(host: str) -> int | None:
    """``AF_INET`` or ``AF_INET6`` if ``host`` is an IP literal, else None."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return family
        except OSError:
            continue
    return None


def _open(addr: tuple[str, int], source: tuple[str, int] | None) -> socket.socket:
    """A connected socket. A peer's address is almost always an IP literal: connecting to it
    directly skips gevent's resolver, which hands every lookup to a thread (a quarter of an
    idle 100-node network's CPU went there while the nodes made their first connections)."""
    family = _literal_family(addr[0])
    if family is None:  # a host name: resolved as usual
        return socket.create_connection(addr, source_address=source)
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if source:
            sock.bind(source)
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


class _Conn:
    __slots__ = ("sock", "rfile")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()


def _outcome(result: object) -> str:
    """A message's outcome as the metrics count it: ``ok`` or the ``PeerError`` kind."""
    return result.kind if isinstance(result, PeerError) else "ok"


def _counted(call):
    """``PeerClient.call``, each message counted by operation and outcome (node/metrics.py)."""

    @functools.wraps(call)
    def counted(self: PeerClient, base_url: str, op: str, body: dict, **kw) -> dict:
        try:
            answer = call(self, base_url, op, body, **kw)
        except PeerError as exc:
            self.metrics.sent(op, exc.kind)
            raise
        self.metrics.sent(op, "ok")
        return answer

    return counted


class PeerClient:
    """Sends peer messages on behalf of node ``name``."""

    def __init__(
        self,
        name: str,
        source_host: str | None,
        faults: NetFaults,
        metrics: NodeMetrics = NO_METRICS,
    ) -> None:
        self.name = name
        self.source_host = source_host
        self.faults = faults
        self.metrics = metrics
        self._idle: dict[tuple[str, int], list[_Conn]] = defaultdict(list)

    @_counted
    def call(
        self, base_url: str, op: str, body: dict, *, timeout: float, peer_name: str | None = None
    ) -> dict:
        """One message with a hard ``timeout`` (seconds): the answer's body, or ``PeerError``."""
        if self.faults.drops(peer_name):
            gevent.sleep(black_hole_s(timeout))
            raise PeerError("dropped", f"link to {peer_name} is partitioned")
        addr = _address(base_url)
        with gevent.Timeout(timeout, False):
            if self.faults.latency_ms:
                gevent.sleep(self.faults.latency_ms / 1000)
            return self._exchange(addr, self._frame(op, body))
        raise PeerError("timeout", f"{op} to {base_url}: no answer in {timeout:.2f}s")

    def call_many(
        self, peers: list[tuple[str, str | None]], op: str, body: dict, *, timeout: float
    ) -> list[dict | PeerError]:
        """One message to several ``(base_url, peer_name)``: each answer's body or its
        ``PeerError``, in order, all within ``timeout``.

        The frames go out on idle pooled connections before any answer is awaited, so the
        peers work in parallel without a greenlet each, and they get the origin's copy before
        the copies relayed by the others (those then are cheap duplicates). A peer with no idle
        connection (connecting can block: a cut link drops the SYN), behind a partition, or
        with added latency or loss is called by ``call`` in a greenlet of its own."""
        deadline = time.monotonic() + timeout
        frame = self._frame(op, body)
        results: list[dict | PeerError | None] = [None] * len(peers)
        sent, jobs = [], []
        for i, (url, name) in enumerate(peers):
            addr = _address_or_none(url)
            slowed = self.faults.latency_ms or self.faults.loss_pct  # ``call`` draws a loss once
            plain = addr is not None and not slowed and not self.faults.drops(name)
            if plain and self._idle[addr]:
                conn = self._idle[addr].pop()
                try:
                    wire.send_all(conn.sock, frame)
                    sent.append((i, addr, conn))
                    continue
                except OSError:
                    conn.close()  # closed under us: a fresh connection, in a greenlet
            jobs.append((i, gevent.spawn(self._call_quietly, url, op, body, timeout, name)))
        for i, addr, conn in sent:
            results[i] = self._await(addr, conn, frame, deadline)
            self.metrics.sent(op, _outcome(results[i]))  # the others: counted by ``call``
        for i, job in jobs:
            job.join()
            results[i] = job.value
        return [PeerError("bad", "no answer") if r is None else r for r in results]

    def _call_quietly(self, url: str, op: str, body: dict, timeout: float, name: str | None):
        try:
            return self.call(url, op, body, timeout=timeout, peer_name=name)
        except PeerError as exc:
            return exc

    def _await(self, addr, conn: _Conn, frame: bytes, deadline: float) -> dict | PeerError:
        """The answer to a frame already sent on a pooled ``conn``, by ``deadline``."""
        with gevent.Timeout(max(deadline - time.monotonic(), MIN_WAIT_S), False):
            try:
                try:
                    return self._receive(addr, conn)
                except _Closed:  # the peer had closed the pooled connection: once more
                    return self._exchange(addr, frame)
            except PeerError as exc:
                return exc
        return PeerError("timeout", f"{addr[0]}:{addr[1]}: no answer in time")

    def refuses(self, base_url: str, *, timeout: float, peer_name: str | None = None) -> bool:
        """Whether a TCP connection to ``base_url`` is refused (nothing listens: the process is
        gone). It is opened and closed without a message, so the peer answers nothing and
        sees no sender: a knock cannot start another. A timeout, a cut link or any other
        error proves nothing: False."""
        if self.faults.drops(peer_name):
            return False
        addr = _address(base_url)
        with gevent.Timeout(timeout, False):
            try:
                _open(addr, self._source()).close()
            except ConnectionRefusedError:
                return True
            except OSError:
                return False
        return False

    def _source(self) -> tuple[str, int] | None:
        return (self.source_host, 0) if self.source_host else None

    def _frame(self, op: str, body: dict) -> bytes:
        return wire.encode({"op": op, "from": self.name, "body": body})

    def _exchange(self, addr: tuple[str, int], frame: bytes) -> dict:
        for attempt in (0, 1):
            reused = bool(self._idle[addr])
            conn = self._idle[addr].pop() if reused else self._connect(addr)
            try:
                self._send(addr, conn, frame)
                return self._receive(addr, conn)
            except _Closed as exc:
                if reused and attempt == 0:
                    continue  # a pooled connection the peer had closed: retry on a new one
                raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
        raise AssertionError("unreachable")

    def _send(self, addr: tuple[str, int], conn: _Conn, frame: bytes) -> None:
        """``frame`` on ``conn``; ``_Closed`` if the peer had closed it; any failure closes it."""
        try:
            wire.send_all(conn.sock, frame)
        except (ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            raise _Closed(str(exc)) from None
        except OSError as exc:
            conn.close()
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
        except BaseException:  # a deadline (gevent.Timeout) mid-send
            conn.close()
            raise

    def _receive(self, addr: tuple[str, int], conn: _Conn) -> dict:
        """The answer on ``conn``, which goes back to the pool; ``_Closed`` if the peer had
        closed it; any other failure closes it."""
        try:
            answer = wire.read_frame(conn.rfile)
            if answer is None:
                raise ConnectionResetError("connection closed before an answer")
        except (ConnectionResetError, BrokenPipeError) as exc:
            conn.close()
            raise _Closed(str(exc)) from None
        except wire.WireError as exc:
            conn.close()
            raise PeerError("bad", f"{addr[0]}:{addr[1]}: {exc}") from None
        except OSError as exc:
            conn.close()
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
        except BaseException:
            conn.close()
            raise
        if len(self._idle[addr]) < MAX_IDLE_PER_PEER:
            self._idle[addr].append(conn)
        else:
            conn.close()
        if answer.get("status") != wire.OK:
            raise PeerError("bad", f"{addr[0]}:{addr[1]}: {answer.get('error')}")
        return answer.get("body") or {}

    def _connect(self, addr: tuple[str, int]) -> _Conn:
        try:
            sock = _open(addr, self._source())
        except OSError as exc:
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(wire.MAGIC)
        except OSError as exc:
            sock.close()
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
        return _Conn(sock)
