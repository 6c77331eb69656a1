"""HTTP load generator of the node benchmark: gevent greenlets, each a closed-loop client on its
own raw keep-alive socket (pre-built request bytes, minimal response parsing), so it stays cheap
next to the nodes on the same cores.

Importing this module does not monkey-patch: the entry point (``node_bench.py``) does that before
it imports anything else, so the sockets here are gevent's when the load runs.
"""

import json
import socket
import time
from collections.abc import Callable

from machine import cpu_delta, cpu_snapshot

REQUEST_TIMEOUT_S = 5.0
MAX_REQUESTS_PER_CLIENT = 2_000_000
MAX_ERRORS_PER_CLIENT = 200


class Conn:
    """One keep-alive HTTP/1.1 connection that sends pre-built requests."""

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection(self.addr, timeout=REQUEST_TIMEOUT_S)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.sock
        sock.sendall(raw)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            part = sock.recv(65536)
            if not part:
                raise ConnectionResetError("closed before a response")
            buf += part
            if len(buf) > 1 << 20:
                raise ValueError("response head too large")
        head = buf[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            raise ValueError("response without content-length")
        eol = head.find(b"\r\n", at + 17)
        length = int(head[at + 17 : eol if eol > 0 else len(head)])
        rest = buf[end + 4 :]
        while len(rest) < length:
            part = sock.recv(max(65536, length - len(rest)))
            if not part:
                raise ConnectionResetError("closed inside a body")
            rest += part
        self.buf = rest[length:]
        if b"\r\nconnection: close" in head:
            self.close()
        return int(head[9:12]), rest[:length]


def build_request(host: str, port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.bad = 0
        self.checked = 0
        self.partial = 0
        self.error_samples: list[str] = []

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text)


Check = Callable[[int, int, bytes, Recorder], None]  # (n, client index, body, recorder)


def run_load(
    url: str, path: str, clients: int, seconds: float, warmup: float, check: Check | None = None
) -> dict:
    """Closed loop: ``clients`` greenlets, each send-wait-send on its own connection.

    Counts requests that start inside the measurement window [warmup, warmup + seconds);
    ``check(body, recorder)`` validates answers (every one, or a sample, as it decides).
    """
    import gevent

    host, port = url.split("://", 1)[1].rsplit(":", 1)
    port = int(port)
    raw = build_request(host, port, path)
    rec = Recorder()
    began = time.perf_counter()
    window_start = began + warmup
    stop_at = window_start + seconds

    def client(index: int) -> None:
        conn = Conn(host, port)
        errors = 0
        try:
            for n in range(MAX_REQUESTS_PER_CLIENT):
                t0 = time.perf_counter()
                if t0 >= stop_at:
                    break
                try:
                    status, body = conn.request(raw)
                except (OSError, ValueError) as exc:
                    conn.close()
                    errors += 1
                    if t0 >= window_start:
                        rec.error(f"{type(exc).__name__}: {exc}")
                    if errors >= MAX_ERRORS_PER_CLIENT:
                        return
                    gevent.sleep(0.01)
                    continue
                t1 = time.perf_counter()
                if t0 < window_start:
                    continue
                if status != 200:
                    rec.error(f"HTTP {status}: {body[:120]!r}")
                    continue
                rec.latencies.append(t1 - t0)
                if check is not None:
                    check(n, index, body, rec)
        finally:
            conn.close()

    cpu0 = cpu_snapshot()
    gevent.sleep(0)
    jobs = [gevent.spawn(client, i) for i in range(clients)]
    gevent.joinall(jobs, timeout=warmup + seconds + REQUEST_TIMEOUT_S + 5)
    gevent.killall(jobs, timeout=2)
    cpu1 = cpu_snapshot()
    window = seconds
    lat = sorted(rec.latencies)
    return {
        "path": path,
        "clients": clients,
        "seconds": window,
        "requests": len(lat),
        "rps": len(lat) / window,
        "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "errors": rec.errors,
        "error_samples": rec.error_samples,
        "checked": rec.checked,
        "bad": rec.bad,
        "partial": rec.partial,
        "cpu_pct": cpu_delta(cpu0, cpu1),
    }


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def check_sample(expect_messages: int, every: int) -> Check:
    """Validate every ``every``-th answer per client: JSON, messages, partial flag."""

    def check(n: int, index: int, body: bytes, rec: Recorder) -> None:
        if n % every:
            return
        rec.checked += 1
        try:
            answer = json.loads(body)
        except ValueError:
            rec.bad += 1
            return
        if expect_messages >= 0 and answer.get("messages") != expect_messages:
            rec.bad += 1
        if answer.get("partial"):
            rec.partial += 1

    return check
