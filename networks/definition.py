"""A network definition: how to start, recognise and join one node of any P2P network.

A definition is a TOML file (format in docs/networks.md) read into a ``NetworkDefinition``. It is
checked completely when loaded — unknown keys, wrong types, a template naming a placeholder that
does not exist, an adapter that does not import — so a mistake is one ``ValueError`` line naming
the key before any process starts. The launcher (networks/launcher.py) only renders it.

``load_network(spec)`` takes the name of a shipped network (``builtin`` is peerload's own node,
``networks/builtin.toml``), a TOML file's path, or ``module:Class`` (an adapter class whose module
carries a ``DEFINITION``: TOML text, a dict, or a path relative to the module; the class asked
for is the adapter, whatever the definition names). A definition's folder is importable, for its
adapter and its nodes (networks/imports.py).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import capacity, loopback
from .adapter import Adapter, NodeInfo
from .hints import parse_hints
from .imports import import_adapter
from .tables import choice, get, keys, seconds, str_list
from .templates import (
    NODE_PLACEHOLDERS,
    PEER_PREFIX,
    RUN_PLACEHOLDERS,
    check_known,
    peer_values,
    render,
)

HERE = Path(__file__).resolve().parent
DEFAULT_NETWORK = "builtin"
DEFAULT_PORTS = ("http", "grpc")
DEFAULT_READY_TIMEOUT_S = 30.0
#: The most nodes a launcher starts: one loopback block's addresses. What a machine holds is
#: usually less, and checked against it (networks/capacity.py).
MAX_NODES = loopback.HOSTS
DEFAULT_STOP_TIMEOUT_S = 10.0
PYTHONPATH = "PYTHONPATH"
BOOTSTRAP = "{bootstrap}"  # a command element replaced by join.args, once per peer
JOIN_TOPOLOGY = "topology"
JOIN_PEERS = (JOIN_TOPOLOGY, "earlier", "first")
JOIN_ON = ("peer", "self")
HTTP_METHODS = ("GET", "POST", "PUT")
STOP_SIGNALS = ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGKILL")
NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
PORT_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
#: How a command a fork server can run starts: the module follows (networks/forkserver.py).
PYTHON_MODULE = ("{python}", "-m")
MAX_PRELOAD = 32


@dataclass(frozen=True)
class FileTemplate:
    """A per-node file rendered into the node's data dir before each start."""

    path: str
    template: str


@dataclass(frozen=True)
class JoinCall:
    """An HTTP call made after a node is up: a join, once per peer it joins (``on`` the peer or
    self), or one of ``node.after_start`` (always ``on`` self, once per start)."""

    method: str
    path: str
    body: str = ""
    on: str = "peer"
    port: str = "http"


@dataclass(frozen=True)
class NodeSpec:
    """The ``[node]`` table: templates for one node."""

    command: tuple[str, ...]
    cwd: str = "{here}"
    env: Mapping[str, str] = field(default_factory=dict)
    files: tuple[FileTemplate, ...] = ()
    ports: tuple[str, ...] = DEFAULT_PORTS
    per_node_address: bool = False
    shared_dir: str = "{data_dir}/shared"
    http: str = "http://{host}:{http_port}"
    grpc: str = "{host}:{grpc_port}"
    ready_http_get: str | None = None
    ready_tcp: str | None = None
    ready_port: str = "http"
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    join_args: tuple[str, ...] = ()
    join_peers: str = JOIN_TOPOLOGY
    join_call: JoinCall | None = None
    #: Calls on the node itself once it answers, every start, before it counts as ready.
    after_start: tuple[JoinCall, ...] = ()
    stop_signal: str = "SIGTERM"
    stop_timeout_s: float = DEFAULT_STOP_TIMEOUT_S
    #: Where a node serves Prometheus metrics: a path on ``metrics_port`` (None: it does not;
    #: the monitor then reads local processes with psutil).
    metrics_path: str | None = None
    metrics_port: str = "http"
    #: Modules a fork server imports once, in order, before forking each local node
    #: (networks/forkserver.py); empty: every node is an interpreter started from scratch.
    preload: tuple[str, ...] = ()


@dataclass(frozen=True)
class NetworkDefinition:
    """A loaded, checked network definition; ``spec`` rebuilds it (``load_network(spec)``)."""

    name: str
    adapter: str
    node: NodeSpec
    spec: str
    here: Path
    description: str = ""
    max_nodes: int = MAX_NODES
    #: Resident memory of one node, for the machine's node limit (networks/capacity.py).
    memory_mb: int = capacity.NODE_MEMORY_MB
    #: Where to look in this network's code, per symptom (networks/hints.py); may be empty.
    hints: Mapping[str, str] = field(default_factory=dict)

    @property
    def joins_by_topology(self) -> bool:
        """Whether nodes join the links of a topology (else ``earlier`` / ``first``)."""
        return self.node.join_peers == JOIN_TOPOLOGY

    def check_size(self, nodes: int) -> None:
        """ValueError (one line) when ``nodes`` is more than this network or this machine
        holds: the definition's ``max_nodes``, memory, file descriptors, ports."""
        if not 1 <= nodes <= self.max_nodes:
            raise ValueError(f"--nodes must be 1..{self.max_nodes} for network {self.name}")
        capacity.check(nodes, len(self.node.ports), self.memory_mb)

    @property
    def adapter_class(self) -> type[Adapter]:
        """The adapter class (imported and checked at load already)."""
        return import_adapter(self.adapter, self.here)

    # -- rendering ---------------------------------------------------------------------
    def node_values(self, run: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, str]:
        """Every placeholder's value for one node: ``run`` (python, here, workdir, token,
        parent_pid) and ``node`` (name, index, host, data_dir, ``<port>_port``...)."""
        values = {k: str(v) for k, v in {**run, **node}.items()}
        values.update(lbrace="{", rbrace="}", here=str(self.here))
        values["shared_dir"] = render(self.node.shared_dir, values, "node.shared_dir")
        values["http"] = render(self.node.http, values, "node.http")
        values["grpc"] = render(self.node.grpc, values, "node.grpc")
        return values

    def command(self, values: Mapping[str, str], peers: list[Mapping[str, str]]) -> list[str]:
        """The node's argv; ``{bootstrap}`` becomes ``join.args`` once per peer to join."""
        argv = []
        for item in self.node.command:
            if item == BOOTSTRAP:
                for peer in peers:
                    both = {**values, **peer_values(peer)}
                    argv += [render(a, both, "node.join.args") for a in self.node.join_args]
            else:
                argv.append(render(item, values, "node.command"))
        return argv

    def cwd(self, values: Mapping[str, str]) -> Path:
        """The working directory; relative to the definition's directory."""
        return (self.here / render(self.node.cwd, values, "node.cwd")).resolve()

    def env(self, values: Mapping[str, str]) -> dict[str, str]:
        """``node.env`` rendered, and ``PYTHONPATH`` ending with the definition's folder (after
        ``node.env``'s or the launcher's own), so a node can import modules beside it."""
        env = {k: render(v, values, f"node.env.{k}") for k, v in self.node.env.items()}
        path = env.get(PYTHONPATH, os.environ.get(PYTHONPATH, ""))
        env[PYTHONPATH] = os.pathsep.join(p for p in (path, str(self.here)) if p)
        return env

    def files(self, values: Mapping[str, str]) -> list[tuple[Path, str]]:
        """(path, text) of each per-node file; a path must land in the node's data dir."""
        data_dir = Path(values["data_dir"]).resolve()
        out = []
        for i, f in enumerate(self.node.files):
            path = Path(render(f.path, values, f"node.files[{i}].path")).resolve()
            if not path.is_relative_to(data_dir):
                raise ValueError(f"node.files[{i}].path: {path} is outside {data_dir}")
            out.append((path, render(f.template, values, f"node.files[{i}].template")))
        return out

    def join_request(
        self, values: Mapping[str, str], peer: Mapping[str, str]
    ) -> tuple[str, str, str] | None:
        """(method, url, body) of the join call for joining ``peer``, or None."""
        call = self.node.join_call
        if call is None:
            return None
        both = {**values, **peer_values(peer)}
        target = peer if call.on == "peer" else values
        url = f"http://{target['host']}:{target[call.port + '_port']}"
        path = render(call.path, both, "node.join.after_start.path")
        return call.method, url + path, render(call.body, both, "node.join.after_start.body")

    def metrics_url(self, values: Mapping[str, str]) -> str | None:
        """Where the node with these values serves Prometheus metrics, or None."""
        if self.node.metrics_path is None:
            return None
        port = values[self.node.metrics_port + "_port"]
        return f"http://{values['host']}:{port}{self.node.metrics_path}"

    def self_requests(self, values: Mapping[str, str]) -> list[tuple[str, str, str]]:
        """(method, url, body) of each ``node.after_start`` call, in order."""
        out = []
        for i, call in enumerate(self.node.after_start):
            where = f"node.after_start[{i}]"
            url = f"http://{values['host']}:{values[call.port + '_port']}"
            path = render(call.path, values, f"{where}.path")
            out.append((call.method, url + path, render(call.body, values, f"{where}.body")))
        return out


# -- loading ---------------------------------------------------------------------------
def load_network(spec: str | Path = DEFAULT_NETWORK) -> NetworkDefinition:
    """A shipped network's NAME, a TOML FILE, or ``module:Class``; ``ValueError`` (one line)."""
    text = str(spec)
    if NAME_RE.match(text) and (HERE / f"{text}.toml").is_file():
        return load_file(HERE / f"{text}.toml", spec=text)
    path = Path(text)
    if path.suffix == ".toml" or path.is_file():
        if not path.is_file():
            raise ValueError(f"network {text!r}: no such file")
        return load_file(path)
    if ":" in text and not path.exists():
        return _load_module(text)
    shipped = ", ".join(sorted(p.stem for p in HERE.glob("*.toml")))
    raise ValueError(f"network {text!r}: not a shipped network ({shipped}), file or module:Class")


def load_file(path: Path, spec: str | None = None) -> NetworkDefinition:
    path = path.resolve()
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    return parse(data, spec=spec or str(path), here=path.parent, source=str(path))


def _load_module(spec: str) -> NetworkDefinition:
    cls = import_adapter(spec)
    module = sys.modules[cls.__module__]
    here = Path(module.__file__ or ".").resolve().parent
    raw = getattr(module, "DEFINITION", None)
    if isinstance(raw, Path):  # the class asked for, whatever adapter the file names
        return dataclasses.replace(load_file(here / raw, spec=spec), adapter=spec)
    if isinstance(raw, str):
        try:
            data = tomllib.loads(raw)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{spec}: DEFINITION: {exc}") from None
    elif isinstance(raw, Mapping):
        data = dict(raw)
    else:
        raise ValueError(f"{spec}: module {module.__name__} has no DEFINITION (TOML, dict or Path)")
    data["adapter"] = spec  # the class asked for, whatever adapter DEFINITION names
    return parse(data, spec=spec, here=here, source=spec)


TOP_KEYS = {"name", "adapter", "description", "max_nodes", "memory_mb", "node", "hints"}
MAX_MEMORY_MB = 64 * 1024
NODE_KEYS = {
    "command", "cwd", "env", "files", "ports", "per_node_address", "shared_dir", "http", "grpc",
    "ready", "join", "after_start", "stop_signal", "stop_timeout_s", "metrics", "preload",
}  # fmt: skip
METRICS_KEYS = {"path", "port"}
READY_KEYS = {"http_get", "tcp", "port", "timeout_s"}
JOIN_KEYS = {"args", "peers", "after_start"}
CALL_KEYS = {"method", "path", "body", "on", "port"}
SELF_CALL_KEYS = CALL_KEYS - {"on"}
#: The most ``node.after_start`` calls: a few setup steps, not a script.
MAX_AFTER_START = 16
FILE_KEYS = {"path", "template"}


def parse(data: Mapping[str, Any], *, spec: str, here: Path, source: str) -> NetworkDefinition:
    """Check every key of a definition's data; ``ValueError`` '<source>: <key>: <why>'."""
    try:
        return _parse(data, spec=spec, here=here)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def _parse(data: Mapping[str, Any], *, spec: str, here: Path) -> NetworkDefinition:
    keys(data, TOP_KEYS, "")
    name = get(data, "name", str, "")
    if not NAME_RE.match(name):
        raise ValueError(f"name: {name!r} must be lower case letters, digits, - or _ (1..40)")
    adapter = get(data, "adapter", str, "")
    import_adapter(adapter, here)
    node = get(data, "node", dict, "")
    keys(node, NODE_KEYS, "node.")
    max_nodes = get(data, "max_nodes", int, "", MAX_NODES)
    if not 1 <= max_nodes <= MAX_NODES:
        raise ValueError(f"max_nodes: must be 1..{MAX_NODES}")
    memory_mb = get(data, "memory_mb", int, "", capacity.NODE_MEMORY_MB)
    if not 1 <= memory_mb <= MAX_MEMORY_MB:
        raise ValueError(f"memory_mb: must be 1..{MAX_MEMORY_MB}")
    spec_ = _node_spec(node)
    _check_templates(spec_)
    return NetworkDefinition(
        name=name,
        adapter=adapter,
        node=spec_,
        spec=spec,
        here=here,
        description=get(data, "description", str, "", ""),
        max_nodes=max_nodes,
        memory_mb=memory_mb,
        hints=parse_hints(get(data, "hints", dict, "", {})),
    )


def _node_spec(node: Mapping[str, Any]) -> NodeSpec:
    command = str_list(node, "command", "node.")
    if not command:
        raise ValueError("node.command: must not be empty")
    ports = tuple(str_list(node, "ports", "node.", list(DEFAULT_PORTS)))
    for port in ports:
        if not PORT_RE.match(port):
            raise ValueError(f"node.ports: {port!r} must be a short lower case word")
    if len(set(ports)) != len(ports):
        raise ValueError("node.ports: a port is named twice")
    env = get(node, "env", dict, "node.", {})
    for key, value in env.items():
        if not isinstance(value, str):
            raise ValueError(f"node.env.{key}: must be a string")
    files = []
    for i, f in enumerate(get(node, "files", list, "node.", [])):
        where = f"node.files[{i}]."
        if not isinstance(f, dict):
            raise ValueError(f"node.files[{i}]: must be a table")
        keys(f, FILE_KEYS, where)
        path = get(f, "path", str, where)
        if not path.startswith("{data_dir}/") or ".." in Path(path).parts:
            raise ValueError(f"node.files[{i}].path: must be '{{data_dir}}/...' without '..'")
        files.append(FileTemplate(path, get(f, "template", str, where)))
    ready = get(node, "ready", dict, "node.")
    keys(ready, READY_KEYS, "node.ready.")
    http_get = get(ready, "http_get", str, "node.ready.", None)
    tcp = get(ready, "tcp", str, "node.ready.", None)
    if (http_get is None) == (tcp is None):
        raise ValueError("node.ready: give exactly one of http_get (a path) or tcp (a port name)")
    if http_get is not None and not http_get.startswith("/"):
        raise ValueError("node.ready.http_get: must be a path starting with /")
    ready_port = tcp or get(ready, "port", str, "node.ready.", "http")
    if ready_port not in ports:
        raise ValueError(f"node.ready: port {ready_port!r} is not in node.ports {list(ports)}")
    join = get(node, "join", dict, "node.", {})
    keys(join, JOIN_KEYS, "node.join.")
    join_args = str_list(join, "args", "node.join.", [])
    if join_args and BOOTSTRAP not in command:
        raise ValueError(f"node.join.args: node.command has no {BOOTSTRAP!r} element to expand")
    if BOOTSTRAP in command and not join_args:
        raise ValueError(f"node.command: {BOOTSTRAP!r} needs node.join.args")
    join_peers = choice(join, "peers", JOIN_PEERS, "node.join.")
    call = get(join, "after_start", dict, "node.join.", None)
    call = None if call is None else _call(call, ports, "node.join.after_start.", CALL_KEYS)
    metrics_path, metrics_port = _metrics(node, ports)
    after_start = get(node, "after_start", list, "node.", [])
    if len(after_start) > MAX_AFTER_START:
        raise ValueError(f"node.after_start: at most {MAX_AFTER_START} calls")
    own = []
    for i, table in enumerate(after_start):
        if not isinstance(table, dict):
            raise ValueError(f"node.after_start[{i}]: must be a table")
        own.append(_call(table, ports, f"node.after_start[{i}].", SELF_CALL_KEYS, "self"))
    return NodeSpec(
        command=tuple(command),
        cwd=get(node, "cwd", str, "node.", "{here}"),
        env=dict(env),
        files=tuple(files),
        ports=ports,
        per_node_address=get(node, "per_node_address", bool, "node.", False),
        shared_dir=get(node, "shared_dir", str, "node.", "{data_dir}/shared"),
        http=get(node, "http", str, "node.", "http://{host}:{http_port}" * ("http" in ports)),
        grpc=get(node, "grpc", str, "node.", "{host}:{grpc_port}" * ("grpc" in ports)),
        ready_http_get=http_get,
        ready_tcp=tcp,
        ready_port=ready_port,
        ready_timeout_s=seconds(ready, "timeout_s", "node.ready.", DEFAULT_READY_TIMEOUT_S),
        join_args=tuple(join_args),
        join_peers=join_peers,
        join_call=call,
        after_start=tuple(own),
        stop_signal=choice(node, "stop_signal", STOP_SIGNALS, "node."),
        stop_timeout_s=seconds(node, "stop_timeout_s", "node.", DEFAULT_STOP_TIMEOUT_S),
        metrics_path=metrics_path,
        metrics_port=metrics_port,
        preload=_preload(node, command),
    )


def _preload(node: Mapping[str, Any], command: list[str]) -> tuple[str, ...]:
    """``node.preload``: module names, for a command the fork server can run."""
    preload = str_list(node, "preload", "node.", [])
    if len(preload) > MAX_PRELOAD:
        raise ValueError(f"node.preload: at most {MAX_PRELOAD} modules")
    for name in preload:
        if not MODULE_RE.match(name):
            raise ValueError(f"node.preload: {name!r} is not a module name (dotted words)")
    module = command[2] if len(command) > 2 else ""
    runs_module = tuple(command[:2]) == PYTHON_MODULE and MODULE_RE.match(module)
    if preload and not runs_module:
        raise ValueError(
            'node.preload: node.command must start with "{python}", "-m", MODULE (no '
            "placeholder in MODULE): the fork server runs that module in each forked node"
        )
    return tuple(preload)


def _metrics(node: Mapping[str, Any], ports: tuple[str, ...]) -> tuple[str | None, str]:
    """``node.metrics``: a path on the http port (``"/metrics"``) or ``{path, port}``."""
    raw = node.get("metrics")
    if raw is None:
        return None, "http"
    if isinstance(raw, str):
        raw = {"path": raw}
    elif not isinstance(raw, dict):
        raise ValueError("node.metrics: must be a path (on the http port) or a table {path, port}")
    keys(raw, METRICS_KEYS, "node.metrics.")
    path = get(raw, "path", str, "node.metrics.")
    if not path.startswith("/") or any(c in path for c in "{} \t\n#"):
        raise ValueError("node.metrics.path: must be a path starting with / (no placeholders)")
    port = get(raw, "port", str, "node.metrics.", "http")
    if port not in ports:
        raise ValueError(f"node.metrics.port: {port!r} is not in node.ports {list(ports)}")
    return path, port


def metrics_url(node: NodeInfo, definition: NetworkDefinition | None) -> str | None:
    """Where ``node`` serves Prometheus metrics: the ``metrics`` URL its descriptor entry names
    (the launcher writes it; ``""`` or null: none), else its definition's ``node.metrics`` at
    the node's port or http address; None when neither says."""
    if "metrics" in node.extra:
        named = node.extra["metrics"]
        return named if isinstance(named, str) and named.startswith("http") else None
    if definition is None or definition.node.metrics_path is None:
        return None
    path, port = definition.node.metrics_path, definition.node.metrics_port
    ports = node.extra.get("ports")
    if isinstance(ports, dict) and port in ports:
        return f"http://{node.host}:{ports[port]}{path}"
    if port == "http" and node.http:
        return node.http.rstrip("/") + path
    return None


def _call(
    call: Mapping[str, Any], ports: tuple[str, ...], where: str, allowed: set[str], on: str = ""
) -> JoinCall:
    """One HTTP call table (``node.join.after_start``, or one of ``node.after_start``)."""
    keys(call, allowed, where)
    method = choice(call, "method", HTTP_METHODS, where, "POST")
    path = get(call, "path", str, where)
    if not path.startswith("/"):
        raise ValueError(f"{where}path: must start with /")
    port = get(call, "port", str, where, "http")
    if port not in ports:
        raise ValueError(f"{where}port: {port!r} is not in node.ports {list(ports)}")
    body = get(call, "body", str, where, "")
    return JoinCall(method, path, body, on or choice(call, "on", JOIN_ON, where), port)


def _check_templates(spec: NodeSpec) -> None:
    """Every template names only placeholders that exist where it is rendered."""
    base = set(RUN_PLACEHOLDERS) | set(NODE_PLACEHOLDERS) | {f"{p}_port" for p in spec.ports}
    check_known(spec.shared_dir, base, "node.shared_dir")
    base.add("shared_dir")
    check_known(spec.http, base, "node.http")
    check_known(spec.grpc, base, "node.grpc")
    full = base | {"http", "grpc"}
    peer = full | {PEER_PREFIX + k for k in full}
    for item in spec.command:
        if item != BOOTSTRAP:
            check_known(item, full, "node.command")
    check_known(spec.cwd, full, "node.cwd")
    for key, value in spec.env.items():
        check_known(value, full, f"node.env.{key}")
    for i, f in enumerate(spec.files):
        check_known(f.path, full, f"node.files[{i}].path")
        check_known(f.template, full, f"node.files[{i}].template")
    for arg in spec.join_args:
        check_known(arg, peer, "node.join.args")
    if spec.join_call is not None:
        check_known(spec.join_call.path, peer, "node.join.after_start.path")
        check_known(spec.join_call.body, peer, "node.join.after_start.body")
    for i, call in enumerate(spec.after_start):
        check_known(call.path, full, f"node.after_start[{i}].path")
        check_known(call.body, full, f"node.after_start[{i}].body")
