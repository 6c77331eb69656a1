"""The hosts file: which machines run the nodes, reached over SSH the way Jepsen drives its nodes.

TOML, one ``[[host]]`` table per machine::

    [[host]]
    address = "10.0.0.5"          # where the nodes listen, and where ssh connects
    user = "peerload"             # ssh user (default: root)
    key = "~/.ssh/peerload_ed25519"  # private key for ssh -i (default: ssh's own choice)
    port = 22
    nodes = 3                     # how many nodes this host runs
    data_dir = "/var/tmp/peerload"   # where their data dirs and logs go on the host
    python = "python3"            # the interpreter on the host ({python} of a definition)
    workdir = "/opt/peerload"     # where peerload's checkout lives on the host (default: the
                                  # same path as here)

Optional top-level keys: ``host_key_check`` (``yes`` | ``accept-new``, ssh's
``StrictHostKeyChecking``; default ``yes``: the hosts must already be in ``known_hosts``, as
they should be for machines you keep; ``accept-new`` trusts a host's key on first contact, for
throwaway hosts), ``known_hosts`` (ssh's ``UserKnownHostsFile``; default ssh's own) and
``connect_timeout_s``. Bad input is one line naming the field (``HostsError``; exit 2 from the
CLIs). ``python -m networks.hosts workers`` starts a Locust worker on each host
(networks/remoteload.py).
"""

from __future__ import annotations

import ipaddress
import re
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MAX_HOSTS = 64
MAX_NODES_PER_HOST = 64
DEFAULT_PORT = 22
DEFAULT_PYTHON = "python3"
DEFAULT_USER = "root"
HOST_KEY_CHECKS = ("yes", "accept-new")
DEFAULT_CONNECT_TIMEOUT_S = 5.0
MAX_CONNECT_TIMEOUT_S = 120.0
USER_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}$", re.IGNORECASE)
#: Set on a Locust worker started on a host: its host's node names, comma-separated (its users
#: call those home, locustfiles/users.py).
HOME_NODES_ENV = "PEERLOAD_HOME_NODES"
HOST_KEYS = {"address", "user", "key", "port", "nodes", "data_dir", "python", "workdir"}
TOP_KEYS = {"host", "host_key_check", "known_hosts", "connect_timeout_s"}


class HostsError(ValueError):
    """The hosts file is wrong; the message names the field."""


@dataclass(frozen=True)
class Host:
    """One machine: where ssh connects, how many nodes it runs and where their files go."""

    address: str
    nodes: int
    data_dir: str
    user: str = DEFAULT_USER
    key: str | None = None
    port: int = DEFAULT_PORT
    python: str = DEFAULT_PYTHON
    workdir: str | None = None

    @property
    def name(self) -> str:
        """How messages name it: ``user@address:port``."""
        return f"{self.user}@{self.address}:{self.port}"


@dataclass(frozen=True)
class HostsFile:
    hosts: tuple[Host, ...]
    host_key_check: str = "yes"
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    known_hosts: str | None = None

    @property
    def nodes(self) -> int:
        return sum(h.nodes for h in self.hosts)

    def to_dict(self) -> dict[str, Any]:
        """The file's content again (``parse_hosts`` reads it back): the descriptor's ``hosts``."""
        out: dict[str, Any] = {
            "host_key_check": self.host_key_check,
            "connect_timeout_s": self.connect_timeout_s,
            "host": [{k: v for k, v in asdict(h).items() if v is not None} for h in self.hosts],
        }
        if self.known_hosts:
            out["known_hosts"] = self.known_hosts
        return out


def home_index(nodes: Sequence[Any], n: int, local: str = "") -> int:
    """Which of ``nodes`` the ``n``-th user calls home: the ``n``-th of the ``local`` names
    when they name any of them (a worker on a host, ``python -m networks.hosts workers``, is
    given its host's nodes in ``HOME_NODES_ENV``: each host loads its own), else the ``n``-th
    of all. Failover still goes to any node."""
    named = set(filter(None, local.split(",")))
    mine = [i for i, node in enumerate(nodes) if node.name in named]
    return mine[n % len(mine)] if mine else n


def load_hosts(path: str | Path) -> HostsFile:
    """Read and check a hosts file; ``HostsError`` (one line, naming the field) when wrong."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HostsError(f"hosts file {path}: {exc}") from None
    return parse_hosts(data)


def parse_hosts(data: dict[str, Any]) -> HostsFile:
    """The checked ``HostsFile`` of already-parsed TOML."""
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise HostsError(f"unknown key {unknown[0]!r} (one of {', '.join(sorted(TOP_KEYS))})")
    tables = data.get("host")
    if not isinstance(tables, list) or not tables:
        raise HostsError("host: at least one [[host]] table is needed")
    if len(tables) > MAX_HOSTS:
        raise HostsError(f"host: {len(tables)} hosts, at most {MAX_HOSTS}")
    check = data.get("host_key_check", "yes")
    if check not in HOST_KEY_CHECKS:
        raise HostsError(f"host_key_check: {check!r}, one of {', '.join(HOST_KEY_CHECKS)}")
    timeout = data.get("connect_timeout_s", DEFAULT_CONNECT_TIMEOUT_S)
    if not isinstance(timeout, int | float) or not 0 < timeout <= MAX_CONNECT_TIMEOUT_S:
        raise HostsError(
            f"connect_timeout_s: {timeout!r}, a number in (0, {MAX_CONNECT_TIMEOUT_S}]"
        )
    hosts = tuple(_host(t, i) for i, t in enumerate(tables))
    seen: set[tuple[str, int]] = set()
    for i, h in enumerate(hosts):
        if (h.address, h.port) in seen:
            raise HostsError(f"host[{i}].address: {h.address}:{h.port} is listed twice")
        seen.add((h.address, h.port))
    known_hosts = _text(data, "known_hosts", "")
    return HostsFile(hosts, check, float(timeout), known_hosts)


def _host(table: Any, i: int) -> Host:
    where = f"host[{i}]"
    if not isinstance(table, dict):
        raise HostsError(f"{where}: a table is needed")
    unknown = sorted(set(table) - HOST_KEYS)
    if unknown:
        raise HostsError(
            f"{where}.{unknown[0]}: unknown key (one of {', '.join(sorted(HOST_KEYS))})"
        )
    address = _text(table, "address", where, required=True)
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise HostsError(f"{where}.address: {address!r} is not an IP address") from None
    nodes = table.get("nodes")
    if isinstance(nodes, bool) or not isinstance(nodes, int):
        raise HostsError(f"{where}.nodes: a whole number is needed")
    if not 1 <= nodes <= MAX_NODES_PER_HOST:
        raise HostsError(f"{where}.nodes: {nodes}, 1..{MAX_NODES_PER_HOST}")
    port = table.get("port", DEFAULT_PORT)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise HostsError(f"{where}.port: {port!r}, 1..65535")
    user = _text(table, "user", where) or DEFAULT_USER
    if not USER_RE.match(user):
        raise HostsError(f"{where}.user: {user!r} is not a user name")
    data_dir = _text(table, "data_dir", where, required=True)
    workdir = _text(table, "workdir", where)
    for field, value in (("data_dir", data_dir), ("workdir", workdir)):
        if value is not None and not value.startswith("/"):
            raise HostsError(f"{where}.{field}: {value!r} must be an absolute path")
    key = _text(table, "key", where)
    if key is not None and not Path(key).expanduser().is_file():
        raise HostsError(f"{where}.key: no file {key}")
    python = _text(table, "python", where) or DEFAULT_PYTHON
    return Host(address, nodes, data_dir.rstrip("/") or "/", user, key, port, python, workdir)


def _text(table: dict, field: str, where: str, required: bool = False) -> str | None:
    name = f"{where}.{field}" if where else field
    value = table.get(field)
    if value is None:
        if required:
            raise HostsError(f"{name}: missing")
        return None
    if not isinstance(value, str) or not value.strip() or "\n" in value or "\0" in value:
        raise HostsError(f"{name}: a non-empty one-line string is needed")
    return value.strip()


def main(argv: list[str] | None = None) -> int:
    """``python -m networks.hosts check|workers ...`` (workers: networks/remoteload.py)."""
    from . import remoteload

    return remoteload.main(argv)


if __name__ == "__main__":
    sys.exit(main())
