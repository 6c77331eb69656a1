"""One node's process: its record, and how it is spawned so that it never outlives us.

Every node runs in a process group of its own (so a signal reaches whatever it started) and, on
Linux, with a death signal (PR_SET_PDEATHSIG, set by ``setpriv`` just before it execs the node):
the kernel kills it when the thread that forked it dies, which is the launcher's one long-lived
spawner thread (networks/launcher.py), so also when the launcher is SIGKILLed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .forkserver import ForkedProcess

RUNNING = ("running", "paused")


@dataclass
class NodeProc:
    """One node: where it lives, its ports, its process and state."""

    name: str
    index: int
    host: str
    data_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)  # its rendered placeholders
    node_id: str = ""
    proc: subprocess.Popen | ForkedProcess | None = None  # ForkedProcess: Popen's interface
    state: str = "stopped"
    files: list | None = None
    netns: str | None = None

    @property
    def http(self) -> str:
        return self.values.get("http", "")

    @property
    def grpc(self) -> str:
        return self.values.get("grpc", "")

    @property
    def http_port(self) -> int:
        return self.ports.get("http", 0)

    @property
    def grpc_port(self) -> int:
        return self.ports.get("grpc", 0)

    @property
    def shared_dir(self) -> Path:
        return Path(self.values["shared_dir"])

    def info(self) -> dict:
        info = {
            "name": self.name,
            "node_id": self.node_id,
            "host": self.host,
            "http": self.http,
            "grpc": self.grpc,
            "pid": self.proc.pid if self.proc else None,
            "data_dir": str(self.data_dir),
            "shared_dir": self.values.get("shared_dir"),
            "ports": dict(self.ports),
            "state": self.state,
        }
        if self.netns:
            info["netns"] = self.netns
        return info


def killpg(proc: subprocess.Popen, sig: int) -> None:
    """Signal the node's whole process group; one that is already gone is fine. A process on
    another host (networks/remote.py) signals its group itself."""
    group = getattr(proc, "signal_group", None)
    if group is not None:
        group(sig)
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def free_port(host: str, taken: set[tuple[str, int]]) -> int:
    """A port nothing listens on at ``host`` now (and not handed out before in this run)."""
    while True:
        with socket.socket() as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if (host, port) not in taken:
            taken.add((host, port))
            return port


def death_signal_prefix() -> list[str]:
    """argv that sets the death signal, then execs the node: ``setpriv --pdeathsig KILL --``.

    Not a ``preexec_fn``: that makes Python fork() instead of vfork(), and gRPC's fork handlers
    then run in the child of a launcher with live gRPC threads (nodes died at start with
    "epoll_wait error: Bad file descriptor"). Without setpriv (util-linux) a node still runs in
    its own group that ``close`` and the atexit hook kill; only a SIGKILLed launcher leaks it."""
    if not sys.platform.startswith("linux"):
        return []
    path = shutil.which("setpriv")
    return [path, "--pdeathsig", "KILL", "--"] if path else []


def popen(
    cmd: list[str], log, env: dict[str, str], cwd: Path, pass_fds: tuple[int, ...] = ()
) -> subprocess.Popen:
    """Start a node (or a fork server: ``pass_fds``) in a process group of its own that dies
    with this thread."""
    return subprocess.Popen(
        death_signal_prefix() + cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        process_group=0,
        pass_fds=pass_fds,
    )
