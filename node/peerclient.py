"""Client for peer messages (flood, heartbeat, join) over the peer wire protocol.

Small on purpose: every call has a hard deadline, a connection that saw any error is closed
rather than pooled, and connections leave from the node's own loopback address so a real
network backend can cut links between two nodes. Partitions and latency set through the admin
API apply here, on the way out.
"""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlsplit

import gevent
from gevent import socket

from . import wire
from .netfaults import NetFaults

MAX_IDLE_PER_PEER = 32


class PeerError(Exception):
    """A peer call that did not produce an answer. ``kind``: refused, timeout, dropped, bad."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


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


class PeerClient:
    """Sends peer messages on behalf of node ``name``."""

    def __init__(self, name: str, source_host: str | None, faults: NetFaults) -> None:
        self.name = name
        self.source_host = source_host
        self.faults = faults
        self._idle: dict[tuple[str, int], list[_Conn]] = defaultdict(list)

    def call(
        self, base_url: str, op: str, body: dict, *, timeout: float, peer_name: str | None = None
    ) -> dict:
        """One message with a hard ``timeout`` (seconds): the answer's body, or ``PeerError``."""
        if self.faults.drops(peer_name):
            gevent.sleep(timeout)
            raise PeerError("dropped", f"link to {peer_name} is partitioned")
        with gevent.Timeout(timeout, False):
            if self.faults.latency_ms:
                gevent.sleep(self.faults.latency_ms / 1000)
            return self._exchange(base_url, op, body)
        raise PeerError("timeout", f"{op} to {base_url}: no answer in {timeout:.2f}s")

    def _exchange(self, base_url: str, op: str, body: dict) -> dict:
        try:
            parts = urlsplit(base_url)
            addr = (parts.hostname, parts.port or 80)
        except ValueError as exc:
            raise PeerError("bad", f"{base_url}: {exc}") from None
        frame = wire.encode({"op": op, "from": self.name, "body": body})
        for attempt in (0, 1):
            reused = bool(self._idle[addr])
            conn = self._idle[addr].pop() if reused else self._connect(addr)
            try:
                wire.send_all(conn.sock, frame)
                answer = wire.read_frame(conn.rfile)
                if answer is None:
                    raise ConnectionResetError("connection closed before an answer")
            except (ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a pooled connection the peer had closed: retry on a new one
                raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
            except wire.WireError as exc:
                conn.close()
                raise PeerError("bad", f"{addr[0]}:{addr[1]}: {exc}") from None
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
        raise AssertionError("unreachable")

    def _connect(self, addr: tuple[str, int]) -> _Conn:
        source = (self.source_host, 0) if self.source_host else None
        try:
            sock = socket.create_connection(addr, source_address=source)
        except OSError as exc:
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.sendall(wire.MAGIC)
        except OSError as exc:
            sock.close()
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
        return _Conn(sock)
