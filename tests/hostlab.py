"""Hosts for tests: network namespaces on a bridge, each running a real sshd.

Each "host" is a namespace ``plh-<pid>-hN`` whose ``eth0`` (10.214.X.(10+N)/24) hangs on a
bridge ``plh<pid>br`` that holds 10.214.X.1 here (networks/netns.py uses 10.213.X.0/24), and
runs ``sshd -D`` with a throwaway host key, root login by a throwaway client key only, no PAM.
The filesystem is the same in every namespace, so this checkout and this interpreter work on
each host. ``remove`` kills every process in the namespaces, deletes them and the bridge.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from networks.netns import ip

PREFIX = "plh-"
SUBNET_PREFIX = "10.214."
GATEWAY = 1
FIRST_HOST = 11
SSH_PORT = 22
SSHD = "/usr/sbin/sshd"
READY_TIMEOUT_S = 10.0
LOCK_FILE = Path("/run/peerload-hostlab.lock")
SSHD_CONFIG = """\
Port {port}
ListenAddress {address}
HostKey {host_key}
PidFile {pid_file}
AuthorizedKeysFile {authorized}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel ERROR
"""


def missing() -> str | None:
    """Why namespaces with sshd cannot be made here (None: they can)."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        return "needs root on Linux (network namespaces)"
    for tool, package in (("ip", "iproute2"), ("ssh", "openssh-client"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"no {tool} binary (install the Debian package {package})"
    if not Path(SSHD).is_file():
        return f"no {SSHD} (install the Debian package openssh-server)"
    return None


class HostLab:
    """``count`` namespaces as hosts; ``create``, then ``hosts_toml``, then ``remove``."""

    def __init__(self, tmp: Path, count: int = 2) -> None:
        self.tmp = tmp
        self.run = f"{PREFIX}{os.getpid()}"
        self.bridge = f"plh{os.getpid()}br"
        self.names = [f"{self.run}-h{i + 1}" for i in range(count)]
        self.subnet = ""
        self.sshd: dict[str, subprocess.Popen] = {}
        self.made: list[str] = []
        self.key = tmp / "client_key"

    def address(self, ns: str) -> str:
        return f"{self.subnet}{FIRST_HOST + self.names.index(ns)}"

    @property
    def gateway(self) -> str:
        return f"{self.subnet}{GATEWAY}"

    def create(self) -> HostLab:
        try:
            self._keys()
            with open(LOCK_FILE, "a") as lock:  # two labs at once (xdist) must not share a subnet
                fcntl.flock(lock, fcntl.LOCK_EX)
                used = ip("-4", "route", "show", "table", "all") + ip("-4", "addr", "show")
                x = next(x for x in range(256) if f"{SUBNET_PREFIX}{x}." not in used)
                self.subnet = f"{SUBNET_PREFIX}{x}."
                ip("link", "add", self.bridge, "type", "bridge")
                self.made.append(self.bridge)
                ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for i, ns in enumerate(self.names):
                self._host(ns, f"plh{os.getpid()}h{i + 1}")
        except BaseException:
            self.remove()
            raise
        return self

    def _keys(self) -> None:
        for key in (self.key, self.tmp / "host_key"):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        shutil.copy(self.key.with_suffix(".pub"), self.tmp / "authorized_keys")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir

    def _host(self, ns: str, veth: str) -> None:
        ip("netns", "add", ns)
        self.made.append(ns)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.made.append(veth)  # deleted by name: a namespace lingers while a process exits
        ip("link", "set", veth, "master", self.bridge, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "addr", "add", f"{self.address(ns)}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")
        self.start_sshd(ns)

    def start_sshd(self, ns: str) -> None:
        config = self.tmp / f"sshd-{ns}.conf"
        config.write_text(
            SSHD_CONFIG.format(
                port=SSH_PORT,
                address=self.address(ns),
                host_key=self.tmp / "host_key",
                pid_file=self.tmp / f"sshd-{ns}.pid",
                authorized=self.tmp / "authorized_keys",
            )
        )
        log = open(self.tmp / f"sshd-{ns}.log", "ab")  # noqa: SIM115 - sshd owns it
        self.sshd[ns] = subprocess.Popen(
            ["ip", "netns", "exec", ns, SSHD, "-D", "-e", "-f", str(config)],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                socket.create_connection((self.address(ns), SSH_PORT), 1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.sshd[ns].poll() is not None:
                    raise RuntimeError(f"sshd in {ns} did not start") from None
                time.sleep(0.05)

    def hosts_toml(self, nodes: int = 2, **extra: str) -> Path:
        """A hosts file for the namespaces: ``nodes`` each, this interpreter, data in tmp."""
        lines = [
            'host_key_check = "accept-new"',
            f'known_hosts = "{self.tmp / "known_hosts"}"',
            "connect_timeout_s = 3",
            *(f'{k} = "{v}"' for k, v in extra.items()),
        ]
        for ns in self.names:
            lines += [
                "[[host]]",
                f'address = "{self.address(ns)}"',
                'user = "root"',
                f'key = "{self.key}"',
                f"nodes = {nodes}",
                f'data_dir = "{self.tmp / "data" / ns}"',
                f'python = "{sys.executable}"',
            ]
        path = self.tmp / "hosts.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def pids(self, ns: str) -> list[int]:
        """Every process in the namespace (sshd, sessions, nodes)."""
        return [int(p) for p in ip("netns", "pids", ns, check=False).split()]

    def sshd_pids(self, ns: str) -> list[int]:
        """The namespace's sshd processes: the listener and one per connection."""
        out = []
        for pid in self.pids(ns):
            try:
                exe = os.readlink(f"/proc/{pid}/exe")
            except OSError:
                continue
            if exe == SSHD:
                out.append(pid)
        return out

    def remove(self) -> None:
        """Kill everything in the namespaces, delete them and the bridge (idempotent)."""
        for ns in [n for n in self.made if n in self.names]:
            for pid in self.pids(ns):
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
        for proc in self.sshd.values():
            proc.wait()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while any(self.pids(ns) for ns in self.made if ns in self.names):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for name in reversed(self.made):
            if name in self.names:
                ip("netns", "delete", name, check=False)
            else:
                ip("link", "delete", name, check=False)
        self.made.clear()
