"""A local cluster: N peers on their own loopback addresses, a seeded corpus, a control API and
a descriptor file. ``python -m node.cluster --nodes 3``; importable as ``Cluster`` (the Locust
suite and the tests embed it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .config import ADMIN_TOKEN_ENV
from .control import ControlServer
from .corpus import write_corpus

HOST_PREFIX = "127.0.0."
FIRST_HOST = 11
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05
STOP_POLL_S = 0.2  # how soon the CLI notices Ctrl-C or SIGTERM
DESCRIPTOR = "cluster.json"
# A full mesh heartbeats N×(N−1) times per 200 ms: on 2 cores 20 nodes get ready, 50 never do.
MAX_NODES = 20
ROOT = Path(__file__).resolve().parent.parent


def http_json(url: str, timeout: float = 1.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


@dataclass
class NodeProc:
    name: str
    host: str
    data_dir: Path
    http_port: int = 0
    grpc_port: int = 0
    node_id: str = ""
    proc: subprocess.Popen | None = None
    state: str = "stopped"
    files: list | None = None

    @property
    def http(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def info(self) -> dict:
        return {
            "name": self.name,
            "node_id": self.node_id,
            "host": self.host,
            "http": self.http,
            "grpc": self.grpc,
            "pid": self.proc.pid if self.proc else None,
            "data_dir": str(self.data_dir),
            "state": self.state,
        }


class Cluster:
    """Starts, controls and stops a local peer network. Use as a context manager."""

    def __init__(
        self,
        nodes: int = 3,
        *,
        workdir: Path | None = None,
        token: str | None = None,
        control_port: int = 0,
        seed: int = 7,
        files_per_node: int = 8,
        first_host: int = FIRST_HOST,
        keep: bool = False,
        node_args: tuple[str, ...] = (),
    ) -> None:
        if not 1 <= nodes <= MAX_NODES or not 1 <= first_host <= 254 - nodes:
            raise ValueError(f"nodes must be 1..{MAX_NODES} and fit in 127.0.0.x")
        self.token = token or secrets.token_urlsafe(18)
        self.seed = seed
        self.files_per_node = files_per_node
        self.control_port = control_port
        self.node_args = node_args
        self._own_workdir = workdir is None
        self.keep = keep
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="peerload-"))
        self.nodes = {
            f"n{i + 1}": NodeProc(
                f"n{i + 1}", f"{HOST_PREFIX}{first_host + i}", self.workdir / f"n{i + 1}"
            )
            for i in range(nodes)
        }
        self.control: ControlServer | None = None
        self._lock = threading.RLock()

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Cluster:
        return self.start_all()

    def __exit__(self, *exc) -> None:
        self.close()

    def start_all(self, timeout: float = READY_TIMEOUT_S) -> Cluster:
        """Seed, start every node (the first one is everyone's bootstrap), serve control."""
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            for node in self.nodes.values():
                node.files = write_corpus(
                    node.data_dir / "shared", node.name, self.seed, self.files_per_node
                )
            first, *rest = self.nodes.values()
            self._spawn(first)
            self._await_listening(first, timeout)
            for node in rest:
                self._spawn(node)
            for node in rest:
                self._await_listening(node, timeout)
            self.control = ControlServer(self, "127.0.0.1", self.control_port)
            self.control.start()
            self.write_descriptor()
            self.wait_ready(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Stop every node (resuming paused ones first), the control API, the workdir."""
        if self.control is not None:
            self.control.close()
            self.control = None
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGCONT)
                node.proc.terminate()
        for node in self.nodes.values():
            self._reap(node)
        if self._own_workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # -- descriptor ----------------------------------------------------------------------
    @property
    def descriptor_path(self) -> Path:
        return self.workdir / DESCRIPTOR

    @property
    def descriptor(self) -> dict:
        return {
            "control": self.control.url if self.control else None,
            "token": self.token,
            "workdir": str(self.workdir),
            "seed": self.seed,
            "nodes": [{**n.info(), "files": n.files or []} for n in self.nodes.values()],
        }

    def write_descriptor(self) -> None:
        """Atomically, readable by this user only: it holds the cluster's token."""
        tmp = self.descriptor_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.descriptor, indent=2))
        os.replace(tmp, self.descriptor_path)

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Until every running node answers and sees all other running nodes alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running = [n for n in self.nodes.values() if n.state == "running"]
            try:
                if all(
                    http_json(f"{n.http}/health")["peers_alive"] >= len(running) - 1
                    for n in running
                ):
                    return
            except OSError:
                pass
            time.sleep(POLL_S)
        raise TimeoutError(f"cluster not ready within {timeout:.0f}s (logs in {self.workdir})")

    # -- control actions (also served by the control API) ---------------------------------
    def status(self) -> list[dict]:
        with self._lock:
            for node in self.nodes.values():
                self._refresh(node)
            return [n.info() for n in self.nodes.values()]

    def kill(self, name: str) -> dict:
        return self._signal(name, signal.SIGKILL, "killed", reap=True)

    def pause(self, name: str) -> dict:
        return self._signal(name, signal.SIGSTOP, "paused")

    def resume(self, name: str) -> dict:
        return self._signal(name, signal.SIGCONT, "running")

    def stop(self, name: str) -> dict:
        return self._signal(name, signal.SIGTERM, "stopped", reap=True)

    def start(self, name: str, timeout: float = READY_TIMEOUT_S) -> dict:
        """Restart a node on its ports and data dir; returns once it answers /health."""
        with self._lock:
            node = self.nodes[name]
            self._refresh(node)
            if node.state in ("running", "paused"):
                raise ValueError(f"{name} is {node.state}")
            self._spawn(node)
            self._await_listening(node, timeout)
            return node.info()

    def _signal(self, name: str, sig: int, state: str, reap: bool = False) -> dict:
        with self._lock:
            node = self.nodes[name]
            self._refresh(node)
            if node.proc is None or node.state in ("stopped", "killed", "exited"):
                raise ValueError(f"{name} is not running")
            if sig == signal.SIGTERM:
                node.proc.send_signal(signal.SIGCONT)  # a paused node cannot drain
            node.proc.send_signal(sig)
            node.state = state
            if reap:
                self._reap(node)
            return node.info()

    # -- processes -----------------------------------------------------------------------
    def _spawn(self, node: NodeProc) -> None:
        (node.data_dir / "node.json").unlink(missing_ok=True)
        bootstrap = [n.http for n in self.nodes.values() if n is not node and n.http_port]
        cmd = [sys.executable, "-m", "node", "--name", node.name, "--host", node.host]
        cmd += ["--http-port", str(node.http_port), "--grpc-port", str(node.grpc_port)]
        cmd += ["--data-dir", str(node.data_dir), "--parent-pid", str(os.getpid())]
        for url in bootstrap:
            cmd += ["--bootstrap", url]
        cmd += list(self.node_args)
        env = {**os.environ, ADMIN_TOKEN_ENV: self.token}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        log = open(self.workdir / f"{node.name}.log", "ab")  # noqa: SIM115 - child owns it
        node.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        log.close()
        node.state = "running"

    def _await_listening(self, node: NodeProc, timeout: float) -> None:
        ready = node.data_dir / "node.json"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if node.proc.poll() is not None:
                node.state = "exited"
                tail = (self.workdir / f"{node.name}.log").read_text(errors="replace")[-400:]
                raise RuntimeError(f"node {node.name} exited at start: {tail.strip()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node.name} did not start within {timeout:.0f}s")
            time.sleep(POLL_S)
        info = json.loads(ready.read_text())
        node.node_id = info["node_id"]
        node.http_port = int(info["http"].rsplit(":", 1)[1])
        node.grpc_port = int(info["grpc"].rsplit(":", 1)[1])

    def _reap(self, node: NodeProc) -> None:
        if node.proc is None:
            return
        try:
            node.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            node.proc.kill()
            node.proc.wait()

    def _refresh(self, node: NodeProc) -> None:
        if (
            node.proc is not None
            and node.proc.poll() is not None
            and node.state
            in (
                "running",
                "paused",
            )
        ):
            node.state = "exited"


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m node.cluster", description=__doc__)
    p.add_argument("--nodes", type=int, default=3, help="how many peers (default 3)")
    p.add_argument("--workdir", type=Path, help="data dirs, logs, descriptor (default: temp)")
    p.add_argument("--control-port", type=int, default=0, help="control API port (0: free)")
    p.add_argument(
        "--token", default=None, help=f"control/admin token (default ${ADMIN_TOKEN_ENV} or random)"
    )
    p.add_argument("--seed", type=int, default=7, help="corpus seed")
    p.add_argument("--files", type=int, default=8, help="corpus files per node")
    p.add_argument("--keep", action="store_true", help="keep the workdir on exit")
    a = p.parse_args(argv)
    nodes_ok = 1 <= a.nodes <= MAX_NODES
    if not nodes_ok or not 0 <= a.control_port <= 65535 or not 0 <= a.files <= 1000:
        p.error(f"--nodes must be 1..{MAX_NODES}, --control-port 0..65535, --files 0..1000")
    token = a.token or os.environ.get(ADMIN_TOKEN_ENV)
    cluster = Cluster(
        a.nodes,
        workdir=a.workdir,
        token=token,
        control_port=a.control_port,
        seed=a.seed,
        files_per_node=a.files,
        keep=a.keep,
    )
    # A signal handler must not take a lock: Event.set() inside a handler that interrupted
    # Event.wait() deadlocked (the wait held the Event's lock). A list append takes none.
    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    try:
        cluster.start_all()
    except (OSError, RuntimeError, TimeoutError) as exc:
        print(f"node.cluster: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"descriptor {cluster.descriptor_path}", flush=True)
        print(f"control {cluster.control.url}", flush=True)
        for node in cluster.nodes.values():
            print(f"{node.name} {node.http} grpc {node.grpc} pid {node.proc.pid}", flush=True)
        print("ready", flush=True)
        while not stopping:
            time.sleep(STOP_POLL_S)
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
