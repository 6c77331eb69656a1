"""Commands on a host over SSH: the ``ssh`` binary (OpenSSH), no remote-execution service of ours.

Each host gets master connections the launcher owns (``ssh -M -N``, a child process stopped at
``close``; no ``ControlPersist`` daemon outlives a run) and every call rides one of them
(``ControlMaster=no`` plus its ``ControlPath``): a command costs a channel, not a handshake.
OpenSSH's sshd allows 10 sessions per connection (``MaxSessions``), so short commands share
the command connection under a semaphore of ``COMMAND_SESSIONS``, and the long-lived sessions
that keep a node (one per node, networks/remote.py) get connections of their own,
``NODE_SESSIONS`` per connection. ``BatchMode=yes`` (never a password prompt),
``ServerAliveInterval`` (a host that stops answering ends its sessions after ``ALIVE_COUNT``
intervals), ``ConnectTimeout`` and a per-call timeout: a host that does not answer raises
``HostError`` naming it, and from then on every call to it fails at once (a harness failure,
not a verdict on the network).
"""

from __future__ import annotations

import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .hosts import Host, HostsFile

SSH = "ssh"
COMMAND_SESSIONS = 8  # of sshd's default MaxSessions 10 per connection: a margin for a retry
NODE_SESSIONS = 8
CALL_TIMEOUT_S = 15.0
ALIVE_INTERVAL_S = 2
ALIVE_COUNT = 5  # a host silent for 10 s is lost (a busy machine stalls for a few seconds)
MASTER_POLL_S = 0.05
#: ssh's own exit code for a connection that failed (a command of ours never exits with it).
SSH_FAILED = 255


class HostError(RuntimeError):
    """A host did not answer (connection refused, timed out, dropped); names the host."""


class CommandError(RuntimeError):
    """A command ran on the host and failed; carries its stderr."""


class SshHost:
    """One host's connections and the calls made over them."""

    def __init__(
        self,
        host: Host,
        control_dir: Path,
        hosts: HostsFile,
        popen: Callable[..., subprocess.Popen] | None = None,
    ) -> None:
        """``popen`` starts the master connections: the launcher's starts them so that they die
        with it (networks/remote.py), never left running after a SIGKILL. By default
        ``subprocess.Popen`` as it is when called (gevent may have patched it since import)."""
        self.popen = popen or (lambda *args, **kw: subprocess.Popen(*args, **kw))
        self.host = host
        self.control_dir = control_dir
        self.host_key_check = hosts.host_key_check
        self.known_hosts = hosts.known_hosts
        self.connect_timeout_s = hosts.connect_timeout_s
        self.lost: str | None = None  # why the host stopped answering, once it did
        self._masters: dict[int, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._commands = threading.BoundedSemaphore(COMMAND_SESSIONS)

    def _socket(self, slot: int) -> Path:
        return self.control_dir / f"{self.host.address}-{self.host.port}-{slot}"

    def argv(self, slot: int = 0, *, master: bool = False) -> list[str]:
        """``ssh`` and its options for a call on connection ``slot``, up to the destination."""
        h = self.host
        opts = {
            "BatchMode": "yes",
            "StrictHostKeyChecking": self.host_key_check,
            "ConnectTimeout": str(max(1, round(self.connect_timeout_s))),
            "ServerAliveInterval": str(ALIVE_INTERVAL_S),
            "ServerAliveCountMax": str(ALIVE_COUNT),
            "ControlPath": str(self._socket(slot)),
            "ControlMaster": "yes" if master else "no",
            "LogLevel": "ERROR",
        }
        if self.known_hosts:
            opts["UserKnownHostsFile"] = str(Path(self.known_hosts).expanduser())
        argv = [SSH, "-p", str(h.port), "-T"]
        if h.key:
            argv += ["-i", str(Path(h.key).expanduser()), "-o", "IdentitiesOnly=yes"]
        for k, v in opts.items():
            argv += ["-o", f"{k}={v}"]
        return [*argv, "-l", h.user, h.address]

    def connect(self, slot: int = 0) -> None:
        """Open master connection ``slot`` if it is not open; ``HostError`` if the host refuses."""
        with self._lock:
            proc = self._masters.get(slot)
            if proc is not None and proc.poll() is None:
                return
            self._fail_if_lost()
            proc = self.popen(
                [*self.argv(slot, master=True), "-N"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # Ctrl-C at the terminal is ours to handle, not ssh's
            )
            deadline = time.monotonic() + self.connect_timeout_s + CALL_TIMEOUT_S
            while not self._socket(slot).exists():
                if proc.poll() is not None:
                    why = proc.stderr.read().decode(errors="replace").strip() or "ssh exited"
                    raise self._lose(f"cannot connect: {why}")
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise self._lose("no connection within the connect timeout")
                time.sleep(MASTER_POLL_S)
            self._masters[slot] = proc

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float = CALL_TIMEOUT_S
    ) -> str:
        """Run a shell command on the host; its stdout. ``CommandError`` when it fails there,
        ``HostError`` when the host does not answer (then the host counts as lost)."""
        self._fail_if_lost()
        self.connect(0)
        with self._commands:
            try:
                done = subprocess.run(
                    [*self.argv(0), command],
                    input=stdin if stdin is not None else b"",
                    capture_output=True,
                    timeout=timeout,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired:
                raise self._lose(f"no answer within {timeout:.0f}s") from None
        lines = done.stderr.decode(errors="replace").splitlines()
        err = "; ".join(line.strip() for line in lines if line.strip())  # one line, said once
        if done.returncode == SSH_FAILED:
            raise self._lose(err or "connection failed")
        if done.returncode != 0:
            raise CommandError(f"{self.host.name}: {command.split()[0]}: {err or done.returncode}")
        return done.stdout.decode(errors="replace")

    def session(self, command: str, index: int, stderr: IO[bytes]) -> subprocess.Popen:
        """A long-lived session for the ``index``-th node of the host (stdin, stdout piped):
        on a node connection of its own, ``NODE_SESSIONS`` nodes to a connection."""
        self._fail_if_lost()
        slot = 1 + index // NODE_SESSIONS
        self.connect(slot)
        return subprocess.Popen(
            [*self.argv(slot), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            start_new_session=True,
        )

    def close(self) -> None:
        """Stop every master connection (their sessions end with them)."""
        with self._lock:
            for proc in self._masters.values():
                if proc.poll() is None:
                    proc.terminate()
            for proc in self._masters.values():
                try:
                    proc.wait(CALL_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                if proc.stderr is not None:
                    proc.stderr.close()
            self._masters.clear()

    def _fail_if_lost(self) -> None:
        if self.lost is not None:
            raise HostError(f"host {self.host.name} does not answer ({self.lost})")

    def _lose(self, why: str) -> HostError:
        self.lost = self.lost or why
        return HostError(f"host {self.host.name} does not answer ({why})")


def quote(argv: list[str]) -> str:
    """One shell word per argument."""
    return shlex.join(argv)
