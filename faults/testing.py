"""A stand-in cluster for tests: one HTTP server that answers the control API
(``/nodes/NAME/ACTION``) and every node's API (``/NAME/health``, ``/NAME/admin/...``) with the
shapes of docs/contracts.md, and records every call. No node processes: for unit tests of the
fault controller and of whatever listens to it."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-token"
POLL_S = 0.02  # shutdown() waits up to one poll interval
TRANSITIONS = {
    "kill": ({"running", "paused"}, "killed"),
    "stop": ({"running", "paused"}, "stopped"),
    "start": ({"killed", "stopped", "exited"}, "running"),
    "pause": ({"running"}, "paused"),
    "resume": ({"paused"}, "running"),
}
DISK_ACTIONS = ("fill_disk", "free_disk")


class FakeCluster:
    """Start with ``with FakeCluster(3) as fc:``; ``fc.descriptor`` points at it."""

    def __init__(self, n: int = 3) -> None:
        self.names = [f"n{i}" for i in range(1, n + 1)]
        self.state = {name: "running" for name in self.names}
        self.drop: dict[str, list[str]] = {name: [] for name in self.names}
        self.latency = {name: 0 for name in self.names}
        self.loss = {name: 0 for name in self.names}
        self.full = {name: False for name in self.names}  # fill_disk / free_disk
        self.disk_mb: int | None = 16  # the descriptor's: data dirs that disk_full can fill
        self.calls: list[tuple[str, str, Any]] = []
        self.fail_paths: set[str] = set()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def descriptor(self) -> dict[str, Any]:
        return {
            "control": self.url,
            "token": TOKEN,
            "disk_mb": self.disk_mb,
            "nodes": [
                {"name": n, "http": f"{self.url}/{n}", "host": f"127.0.0.{10 + i}"}
                for i, n in enumerate(self.names, 1)
            ],
        }

    def __enter__(self) -> FakeCluster:
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": POLL_S}, daemon=True
        ).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def healthy(self) -> bool:
        return (
            all(s == "running" for s in self.state.values())
            and not any(self.drop.values())
            and not any(self.latency.values())
            and not any(self.loss.values())
            and not any(self.full.values())
        )

    def answer(self, method: str, path: str, body: Any, auth: str | None) -> tuple[int, Any]:
        with self.lock:
            self.calls.append((method, path, body))
        if path in self.fail_paths:
            return 500, {"error": "injected failure"}
        parts = path.strip("/").split("/")
        if parts[0] == "nodes":
            if auth != f"Bearer {TOKEN}":
                return 401, {"error": "missing or wrong token"}
            if len(parts) == 1:
                return 200, {"nodes": [{"name": n, "state": s} for n, s in self.state.items()]}
            name, action = parts[1], parts[2]
            if name not in self.state:
                return 404, {"error": f"no node {name}"}
            if action in DISK_ACTIONS:
                self.full[name] = action == "fill_disk"
                return 200, {"name": name, "full": self.full[name]}
            allowed, new = TRANSITIONS[action]
            if self.state[name] not in allowed:
                return 409, {"error": f"{name} is {self.state[name]}"}
            self.state[name] = new
            return 200, {"name": name, "state": new, "pid": 1000}
        name, rest = parts[0], parts[1:]
        if self.state.get(name) != "running":
            return 599, {"error": "down"}
        if rest[0] == "admin":
            if auth != f"Bearer {TOKEN}":
                return 401, {"error": "missing or wrong token"}
            if rest[1] == "partition":
                self.drop[name] = list(body["drop"])
            elif rest[1] == "latency":
                self.latency[name] = body["ms"]
            elif rest[1] == "loss":
                self.loss[name] = body["pct"]
            elif rest[1] == "heal":
                self.drop[name], self.latency[name], self.loss[name] = [], 0, 0
            state = {"drop": self.drop[name], "latency_ms": self.latency[name]}
            return 200, {**state, "loss_pct": self.loss[name]}
        if rest[0] == "health":
            alive = self.alive_peers(name)
            return 200, {"name": name, "status": "ok", "peers_alive": len(alive)}
        if rest[0] == "peers":
            alive = self.alive_peers(name)
            peers = [
                {"name": p, "state": "alive" if p in alive else "dead"}
                for p in self.names
                if p != name
            ]
            return 200, {"peers": peers}
        if rest[0] == "search":
            reach = [name, *self.alive_peers(name)]
            hits = [{"name": f"canary-{n}.txt", "node": n} for n in reach]
            return 200, {"results": hits, "reached": len(reach), "nodes": sorted(reach)}
        return 404, {"error": "no route"}

    def alive_peers(self, name: str) -> list[str]:
        return [
            p
            for p in self.names
            if p != name
            and self.state[p] == "running"
            and p not in self.drop[name]
            and name not in self.drop[p]
        ]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                path = self.path.split("?")[0]
                status, payload = cluster.answer(
                    self.command, path, body, self.headers.get("Authorization")
                )
                if status == 599:  # a down node: close without an answer
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        return Handler
