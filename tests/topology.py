"""Real nodes in a topology the test chooses: each started with ``python -m node`` and the
``--bootstrap`` peers the test names, on its own loopback address (a block claimed like the
launcher's, so tests side by side never share one). Every node is killed at the end, even
when the test fails."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from networks.loopback import FIRST_HOST, claim
from networks.procs import death_signal_prefix, free_port
from tests.http import call

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0


@dataclass
class Graph:
    """Started nodes by name: their base URLs and processes."""

    root: Path
    http: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def get(self, name: str, path: str) -> dict | None:
        """GET JSON from a node, or None when it does not answer (down, frozen)."""
        try:
            status, body = call("GET", self.http[name] + path, timeout=2)
        except OSError:
            return None
        return body if status == 200 else None

    def peers(self, name: str) -> dict[str, dict]:
        answer = self.get(name, "/peers") or {"peers": []}
        return {p["name"]: p for p in answer["peers"]}

    def neighbours(self, name: str) -> set[str]:
        return {p for p, view in self.peers(name).items() if view["neighbour"]}

    def states(self, observer: str) -> dict[str, str]:
        return {p: view["state"] for p, view in self.peers(observer).items()}

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.procs[name].pid, sig)


def _spawn(graph: Graph, name: str, host: str, port: int, bootstrap: list[str], extra) -> None:
    graph.http[name] = f"http://{host}:{port}"
    cmd = [
        sys.executable, "-m", "node", "--name", name, "--host", host, "--http-port", str(port),
        "--data-dir", str(graph.root / name), "--parent-pid", str(os.getpid()), *extra,
    ]  # fmt: skip
    for peer in bootstrap:
        cmd += ["--bootstrap", graph.http[peer]]
    with open(graph.root / f"{name}.log", "ab") as log:
        graph.procs[name] = subprocess.Popen(
            death_signal_prefix() + cmd, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=ROOT, process_group=0,
        )  # fmt: skip


def _started(graph: Graph, name: str) -> bool:
    try:
        info = json.loads((graph.root / name / "node.json").read_text())
    except (OSError, ValueError):
        return False
    return info.get("pid") == graph.procs[name].pid


@contextmanager
def topology(
    root: Path,
    bootstrap: Mapping[str, Sequence[str]],
    extra: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[Graph]:
    """Nodes started all at once, each joining through the peers ``bootstrap`` lists for it
    (a node retries until its bootstrap peers are up); ``extra``: more flags per node
    (``--max-degree 2``). Yields once every node has written its ``node.json``."""
    block = claim()
    graph = Graph(root)
    taken: set[tuple[str, int]] = set()
    try:
        for i, (name, peers) in enumerate(bootstrap.items()):
            host = block.host(FIRST_HOST + i)
            port = free_port(host, taken)
            _spawn(graph, name, host, port, list(peers), (extra or {}).get(name, ()))
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(_started(graph, name) for name in graph.procs):
            failed = [n for n, proc in graph.procs.items() if proc.poll() is not None]
            if failed or time.monotonic() > deadline:
                raise RuntimeError(f"{failed or 'some'} did not start (logs in {root})")
            time.sleep(0.05)
        yield graph
    finally:
        for proc in graph.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        block.release()


def line(names: Sequence[str]) -> dict[str, list[str]]:
    """Each node joins through the one before it: n1 - n2 - ... - nN."""
    return {name: list(names[i - 1 : i]) for i, name in enumerate(names)}
