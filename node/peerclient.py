"""Keep-alive HTTP/1.1 client for peer messages (flood, heartbeat, join).

Small on purpose: every call has a hard deadline, a connection that saw any error is closed
rather than pooled, and connections leave from the node's own loopback address so a real
network backend can cut links between two nodes.
"""

from __future__ import annotations

import json
from collections import defaultdict
from urllib.parse import urlsplit

import gevent
from gevent import socket

from .netfaults import NetFaults

PEER_HEADER = "X-Peer"
MAX_RESPONSE = 32 * 1024 * 1024
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


def _read_response(conn: _Conn) -> tuple[int, bytes, bool]:
    line = conn.rfile.readline(65537)
    if not line:
        raise ConnectionResetError("connection closed before a response")
    status = int(line.split(None, 2)[1])
    length, keep = None, True
    while True:
        h = conn.rfile.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        key, _, value = h.decode("latin-1").partition(":")
        key = key.strip().lower()
        if key == "content-length":
            length = int(value)
        elif key == "connection" and value.strip().lower() == "close":
            keep = False
    if length is None:
        body, keep = conn.rfile.read(MAX_RESPONSE), False
    elif length > MAX_RESPONSE:
        raise PeerError("bad", f"response of {length} bytes is too large")
    else:
        body = conn.rfile.read(length)
    return status, body, keep


class PeerClient:
    """Sends JSON requests to peers' REST APIs on behalf of node ``name``."""

    def __init__(self, name: str, source_host: str | None, faults: NetFaults) -> None:
        self.name = name
        self.source_host = source_host
        self.faults = faults
        self._idle: dict[tuple[str, int], list[_Conn]] = defaultdict(list)

    def call(
        self,
        base_url: str,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        timeout: float,
        peer_name: str | None = None,
        token: str | None = None,
    ) -> dict:
        """One request with a hard ``timeout`` (seconds); the JSON answer, or ``PeerError``."""
        if self.faults.drops(peer_name):
            gevent.sleep(timeout)
            raise PeerError("dropped", f"link to {peer_name} is partitioned")
        with gevent.Timeout(timeout, False):
            if self.faults.latency_ms:
                gevent.sleep(self.faults.latency_ms / 1000)
            return self._exchange(base_url, method, path, body, token)
        raise PeerError("timeout", f"{method} {base_url}{path}: no answer in {timeout:.2f}s")

    def _exchange(self, base_url, method, path, body, token) -> dict:
        parts = urlsplit(base_url)
        addr = (parts.hostname, parts.port or 80)
        payload = json.dumps(body).encode() if body is not None else b""
        head = [
            f"{method} {path} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"{PEER_HEADER}: {self.name}",
            f"Content-Length: {len(payload)}",
        ]
        if body is not None:
            head.append("Content-Type: application/json")
        if token:
            head.append(f"Authorization: Bearer {token}")
        request = ("\r\n".join(head) + "\r\n\r\n").encode() + payload
        for attempt in (0, 1):
            reused = bool(self._idle[addr])
            conn = self._idle[addr].pop() if reused else self._connect(addr)
            try:
                conn.sock.sendall(request)
                status, data, keep = _read_response(conn)
            except (ConnectionResetError, BrokenPipeError) as exc:
                conn.close()
                if reused and attempt == 0:
                    continue  # a pooled connection the server had closed: retry on a new one
                raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc}") from None
            except BaseException:
                conn.close()
                raise
            if keep and len(self._idle[addr]) < MAX_IDLE_PER_PEER:
                self._idle[addr].append(conn)
            else:
                conn.close()
            try:
                answer = json.loads(data) if data else {}
            except ValueError:
                raise PeerError("bad", f"{addr[0]}:{addr[1]}: answer is not JSON") from None
            if status >= 400:
                raise PeerError("bad", f"{addr[0]}:{addr[1]}: {status} {answer.get('error')}")
            return answer
        raise AssertionError("unreachable")

    def _connect(self, addr: tuple[str, int]) -> _Conn:
        source = (self.source_host, 0) if self.source_host else None
        try:
            sock = socket.create_connection(addr, source_address=source)
        except OSError as exc:
            raise PeerError("refused", f"{addr[0]}:{addr[1]}: {exc.strerror or exc}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return _Conn(sock)
