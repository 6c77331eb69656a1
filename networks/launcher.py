"""Process control for any network: start N nodes from a definition, break them, stop them all.

For any network, what the cluster entry point once did for peerload's node alone: each node gets
a data dir, a seeded catalog in its shared dir (networks/corpus.py), launcher-chosen ports, its
own address when the network can bind one (127.0.B.11, .12, ..., in a block B no other launcher
on the machine holds, networks/loopback.py; else 127.0.0.1 with its own ports) or its own
network namespace (``netns=True``, networks/netns.py), and runs from the definition's command
template. kill / stop / start / pause / resume act on the node's whole process group (fill_disk
/ free_disk on its data dir, when ``disk_mb`` gave each data dir a small disk of its own:
networks/disks.py); the control API (networks/control.py) serves a ``Launcher`` as it is, and
the descriptor (``cluster.json``) names the network so any later tool can rebuild the adapter
from it alone.

Nodes never outlive the launcher: each runs in a process group of its own that ``close`` (and an
atexit hook) signals, and on Linux dies with it (PR_SET_PDEATHSIG, networks/procs.py) even when
the launcher is SIGKILLed. The death signal follows the *thread* that forked, so every spawn
happens on one long-lived spawner thread: a restart asked for by a control API request thread
would otherwise be killed as soon as that request ended. A definition naming ``node.preload``
has its local nodes forked by a fork server instead (networks/forkserver.py): it dies with the
spawner thread, and its children with it, each still in a process group of its own.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from . import capacity, corpus, disks, join, loopback, readiness
from .adapter import MEMBERS, PEERS, NodeInfo
from .control import ControlServer
from .definition import NetworkDefinition, load_network
from .forkserver import ForkServer
from .procs import RUNNING, NodeProc, free_port, killpg, popen
from .topology import DEFAULT as DEFAULT_TOPOLOGY
from .topology import Topology

#: Nodes started at once, per core. Each starting node joins, is probed and gossiped about:
#: 200 started together on 2 cores spent minutes timing out on one another (each timeout
#: closes a connection, reopened at a cost), where waves that fit the machine do not.
START_WAVE_PER_CORE = 12
FIRST_HOST = loopback.FIRST_HOST
SHARED_HOST = "127.0.0.1"
POLL_S = 0.05
PROBE_TIMEOUT_S = 1.0
DESCRIPTOR = "cluster.json"
LOG_TAIL = 400


def start_wave() -> int:
    """How many nodes the launcher starts at once on this machine."""
    return START_WAVE_PER_CORE * (os.cpu_count() or 1)


class Launcher:
    """Starts, controls and stops the nodes of one network. Use as a context manager."""

    def __init__(
        self,
        network: NetworkDefinition | str = "builtin",
        nodes: int = 3,
        *,
        workdir: Path | None = None,
        token: str | None = None,
        control_port: int = 0,
        seed: int = 7,
        files_per_node: int = corpus.DEFAULT_FILES_PER_NODE,
        first_host: int = FIRST_HOST,
        keep: bool = False,
        node_args: tuple[str, ...] = (),
        netns: bool = False,
        topology: Topology | str = DEFAULT_TOPOLOGY,
        disk_mb: int | None = None,
    ) -> None:
        self.network = network if isinstance(network, NetworkDefinition) else load_network(network)
        if disk_mb is not None:  # a small disk (tmpfs) for each data dir: root only
            disks.check_size(disk_mb)
            ok, why = disks.available()
            if not ok:
                raise ValueError(f"disk_mb: {why}")
        #: Each data dir's own disk size in MiB (a tmpfs, so disk_full can fill it), or None.
        self.disk_mb = disk_mb
        self._mounted: list[Path] = []
        self._check_size(nodes)
        corpus.check_size(nodes, files_per_node)
        if not 1 <= first_host <= loopback.LAST_HOST + 1 - nodes:
            raise ValueError(f"{nodes} nodes from host {first_host} do not fit a 127.0.B.x block")
        capacity.raise_fd_limit(nodes)
        names = [f"n{i + 1}" for i in range(nodes)]
        self.topology = join.topology_for(self.network, topology, names, seed)
        self.token = token or secrets.token_urlsafe(18)
        self.seed = seed
        self.files_per_node = files_per_node
        self.control_port = control_port
        self.node_args = tuple(node_args)
        self._own_workdir = workdir is None
        self.keep = keep
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="peerload-"))
        self.namespaces = None
        if netns:
            from .netns import Namespaces

            self.namespaces = Namespaces(names)
        self.block = None
        self.nodes = self._place(names, first_host, netns)
        self.control: ControlServer | None = None
        #: What each node sees, when the nodes had not all joined when the start ended (empty:
        #: they had, or the network shows no peers). Judged by the ``joined`` check, not here.
        self.join_gaps: list[str] = []
        self._lock = threading.RLock()
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="spawner")
        #: Forks the local nodes when the definition names a ``node.preload`` (not in namespaces).
        self.forkserver: ForkServer | None = None
        self._pid = os.getpid()
        atexit.register(self._kill_all)

    def _check_size(self, nodes: int) -> None:
        """The network's own limit and what this machine holds (memory, descriptors, ports)."""
        self.network.check_size(nodes)

    def _place(self, names: list[str], first_host: int, netns: bool) -> dict[str, NodeProc]:
        """Each node's record: its own loopback address where its network can bind one (a
        block of them claimed here), else the shared one; data dirs in the workdir."""
        own = self.network.node.per_node_address and not netns
        self.block = loopback.claim() if own else None
        nodes = {}
        for i, name in enumerate(names):
            host = self.block.host(first_host + i) if self.block else SHARED_HOST
            nodes[name] = NodeProc(name, i + 1, host, self.workdir / name)
        return nodes

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> Launcher:
        return self.start_all()

    def __exit__(self, *exc) -> None:
        self.close()

    def start_all(self, timeout: float | None = None) -> Launcher:
        """Seed, start the first node, then the others (joining earlier ones), serve control."""
        timeout = timeout or self.network.node.ready_timeout_s
        if any(n.proc is not None for n in self.nodes.values()):  # a second set on the same ports
            raise RuntimeError("this launcher has started its nodes already (with starts them)")
        try:
            self.workdir.mkdir(parents=True, exist_ok=True)
            if self.namespaces is not None:
                self.namespaces.create()
            if self.disk_mb is not None:
                for node in self.nodes.values():
                    disks.mount(node.data_dir, self.disk_mb)
                    self._mounted.append(node.data_dir)
            self._plan()
            self._seed(corpus.plan(list(self.nodes), self.seed, self.files_per_node))
            first, *rest = self.nodes.values()
            self._launch(first, timeout)
            wave = start_wave()
            for at in range(0, len(rest), wave):
                self._start_wave(rest[at : at + wave], timeout)
            self.control = ControlServer(self, "127.0.0.1", self.control_port)
            self.control.start()
            self.write_descriptor()
            self.join_gaps = self.wait_joined(timeout)
        except (TimeoutError, readiness.NodeExited) as exc:  # never ready: judged, not refused
            try:
                views = self.views()
            except Exception:  # noqa: BLE001 - a start that failed early has no views to give
                views = []
            self._collect_logs()
            logs = readiness.read_logs(self.workdir, self.nodes)
            self.close()
            raise readiness.NotReady(str(exc), views, logs) from exc
        except BaseException:
            self.close()
            raise
        return self

    def _start_wave(self, nodes: list[NodeProc], timeout: float) -> None:
        """Start ``nodes`` at once and wait until each is up and has joined."""
        for node in nodes:
            self._spawn(node, self._join_peers(node, restart=False))
        for node in nodes:
            self._await_ready(node, timeout)
            self._join(node, self._join_peers(node, restart=False), timeout)

    def close(self) -> None:
        """Stop every node (resuming paused ones first), the control API, namespaces, workdir."""
        if self.control is not None:
            self.control.close()
            self.control = None
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                killpg(node.proc, signal.SIGCONT)
                killpg(node.proc, getattr(signal, self.network.node.stop_signal))
        for node in self.nodes.values():
            self._reap(node)
        if self.forkserver is not None:
            self.forkserver.close()
        self._collect_logs()
        self._unmount()
        self._spawner.shutdown(wait=True)
        atexit.unregister(self._kill_all)
        if self.namespaces is not None:
            self.namespaces.remove()
        if self.block is not None:
            self.block.release()
        if self._own_workdir and not self.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _seed(self, catalogs: dict[str, list]) -> None:
        """Each node's corpus into its shared dir (before it starts)."""
        for node in self.nodes.values():
            node.files = corpus.write_corpus(node.shared_dir, catalogs[node.name])

    def _collect_logs(self) -> None:
        """Bring the node logs into the workdir: local nodes write them there already."""

    def collect_logs(self) -> Path:
        """Each node's log so far in the workdir (``NAME.log``, copied from its host when it
        runs on another); the workdir."""
        self._collect_logs()
        return self.workdir

    def _log_text(self, node: NodeProc) -> str:
        """The node's log so far."""
        return (self.workdir / f"{node.name}.log").read_text(errors="replace")

    def _kill_all(self) -> None:
        """At interpreter exit without ``close``: no node may stay behind. Not in a forked child
        (Locust --processes): its exit must not take the parent's nodes down."""
        if os.getpid() != self._pid:
            return
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                killpg(node.proc, signal.SIGKILL)
        if self.forkserver is not None:
            self.forkserver.kill()
        self._unmount()
        if self.namespaces is not None:
            self.namespaces.remove()

    def _unmount(self) -> None:
        """The data dirs' small disks go (and what they held: tmpfs keeps nothing)."""
        while self._mounted:
            disks.unmount(self._mounted.pop())

    # -- descriptor ----------------------------------------------------------------------
    @property
    def descriptor_path(self) -> Path:
        return self.workdir / DESCRIPTOR

    @property
    def descriptor(self) -> dict:
        return {
            "network": self.network.spec,
            "control": self.control.url if self.control else None,
            "token": self.token,
            "workdir": str(self.workdir),
            "seed": self.seed,
            "files_per_node": self.files_per_node,
            "netns": self.namespaces is not None,
            "topology": self.topology.to_dict(),
            "disk_mb": self.disk_mb,
            "nodes": [self._entry(n) for n in self.nodes.values()],
        }

    def write_descriptor(self) -> None:
        """Atomically, readable by this user only: it holds the cluster's token."""
        tmp = self.descriptor_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.descriptor, indent=2))
        os.replace(tmp, self.descriptor_path)

    def node_infos(self) -> list[NodeInfo]:
        """What an adapter of this network is made with."""
        return [
            NodeInfo.from_dict({**n.info(), "files": n.files or []}) for n in self.nodes.values()
        ]

    def _entry(self, node: NodeProc) -> dict:
        """A node's descriptor entry: its info, seeded files and where it serves Prometheus
        metrics (null: nowhere; a scrape config or the monitor reads it from here)."""
        metrics = self.network.metrics_url(node.values) if node.values else None
        return {**node.info(), "files": node.files or [], "metrics": metrics}

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until every running node is ready and, where the network shows its peers, sees every
        other running node; TimeoutError saying what each node sees."""
        timeout = timeout or self.network.node.ready_timeout_s
        gaps = self.wait_joined(timeout)
        if gaps:
            raise TimeoutError(f"cluster not ready within {timeout:.0f}s: {'; '.join(gaps)}")

    def wait_joined(self, timeout: float) -> list[str]:
        """Wait (at most ``timeout``) until every running node answers its ready probe and, where
        the network shows its peers, sees every other running node and (where it says which
        links it holds) holds a link to each of its running topology neighbours: a search must
        not start while a bootstrap join is still being retried. Empty when so; else what each
        node sees (``n3 sees only itself``), for the ``joined`` check to judge."""
        deadline = time.monotonic() + timeout
        while True:
            running = [n for n in self.nodes.values() if n.state == "running"]
            unready = [n.name for n in running if not self._probe(n)]
            late = time.monotonic() >= deadline
            views = self._views(running) if late or not unready else {}
            names = [n.name for n in running]
            unlinked = {
                n: readiness.unlinked(n, held, set(self.topology.neighbours(n)) & set(names))
                for n, (_, _, held) in views.items()
            }
            if (
                not unready
                and all(readiness.joined(n, v, names) for n, (v, _, _) in views.items())
                and not any(unlinked.values())
            ):
                return []
            if late:
                up = {n: view for n, view in views.items() if n not in unready}
                lines = [readiness.describe(n, v, why) for n, (v, why, _) in up.items()]
                lines += [readiness.describe_links(n, m) for n, m in unlinked.items() if m]
                return lines + [f"{n} does not answer its ready probe" for n in unready]
            time.sleep(POLL_S)

    def views(self) -> list[str]:
        """What each node sees now, one line each (``n1 sees n1, n2``)."""
        running = [n for n in self.nodes.values() if n.state == "running"]
        views = self._views(running).items()
        return [readiness.describe(n, v, why) for n, (v, why, _) in views]

    def _views(self, nodes: list[NodeProc]) -> dict[str, tuple[dict | None, str, set | None]]:
        """Each node's view of its peers, why there is none, and the links it holds (None: the
        network does not say); empty for a network that shows no peers (then a node sees
        whatever it needs)."""
        cls = self.network.adapter_class
        if not ({PEERS, MEMBERS} & set(cls.capabilities)):
            return {}
        adapter = cls(self.node_infos())
        out = {}
        try:
            for node in nodes:
                try:
                    view = adapter.peers(adapter.node(node.name))
                    out[node.name] = (view, "", adapter.links.get(node.name))
                except Exception as exc:  # noqa: BLE001 - not answering is what it says
                    out[node.name] = (None, str(exc) or type(exc).__name__, None)
        finally:
            adapter.close()
        return out

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
        sig = getattr(signal, self.network.node.stop_signal)
        return self._signal(name, sig, "stopped", reap=True)

    def start(self, name: str, timeout: float | None = None) -> dict:
        """Restart a node on its ports and data dir; returns once it is ready (and joined)."""
        with self._lock:
            node = self.nodes[name]
            self._refresh(node)
            if node.state in RUNNING:
                raise ValueError(f"{name} is {node.state}")
            peers = self._join_peers(node, restart=True)
            self._spawn(node, peers)
            self._await_ready(node, timeout or self.network.node.ready_timeout_s)
            self._join(node, [p for p in peers if p.state == "running"], timeout)
            return node.info()

    def fill_disk(self, name: str) -> dict:
        """Fill ``name``'s data dir (its small disk) with a filler until ~0 bytes are free."""
        return {"name": name, **disks.fill(self._small_disk(name))}

    def free_disk(self, name: str) -> dict:
        """Delete the filler of ``name``'s data dir."""
        return {"name": name, **disks.free(self._small_disk(name))}

    def wipe(self, name: str) -> dict:
        """Empty a node's data dir while it is down: at its next start it is a node that never
        held anything (churn with ``data = "wipe"``: a peer back on a new disk)."""
        with self._lock:
            node = self.nodes[name]
            self._refresh(node)
            if node.state in RUNNING:
                raise ValueError(f"{name} is {node.state}: stop or kill it before wiping its data")
            removed = 0
            for entry in node.data_dir.iterdir() if node.data_dir.is_dir() else ():
                if entry.is_dir() and not entry.is_symlink():
                    removed += sum(1 for p in entry.rglob("*") if p.is_file())
                    shutil.rmtree(entry)
                else:
                    removed += 1
                    entry.unlink()
            shared = node.values.get("shared_dir")
            if shared:
                Path(shared).mkdir(parents=True, exist_ok=True)
            return {**node.info(), "wiped_files": removed}

    def _small_disk(self, name: str) -> Path:
        if self.disk_mb is None:
            raise disks.DiskError(
                f"{name}'s data dir is not a small disk of its own: start the cluster with "
                "disk_mb (networks.cluster --disk-mb N, root only)"
            )
        return self.nodes[name].data_dir

    def _signal(self, name: str, sig: int, state: str, reap: bool = False) -> dict:
        with self._lock:
            node = self.nodes[name]
            self._refresh(node)
            if node.proc is None or node.state not in RUNNING:
                raise ValueError(f"{name} is not running")
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                killpg(node.proc, signal.SIGCONT)  # a paused node cannot drain
            killpg(node.proc, sig)
            node.state = state
            if reap:
                self._reap(node)
            return node.info()

    # -- processes -----------------------------------------------------------------------
    def _plan(self) -> None:
        """Addresses, ports and every placeholder's value, fixed for the launcher's life; the
        fork server started (then ``{parent_pid}`` is its pid: the nodes' parent)."""
        taken: set[tuple[str, int]] = set()
        owns = {}
        run = {
            "python": sys.executable,
            "workdir": self.workdir,
            "token": self.token,
            "parent_pid": os.getpid(),
        }
        for node in self.nodes.values():
            if self.namespaces is not None:
                node.netns = self.namespaces.netns(node.name)
                node.host = self.namespaces.address(node.name)
                node.ports = {p: self.namespaces.port(i) for i, p in enumerate(self._ports())}
            else:
                node.ports = {p: free_port(node.host, taken) for p in self._ports()}
            own = {"name": node.name, "index": node.index, "host": node.host}
            own["data_dir"] = node.data_dir
            own.update({f"{p}_port": port for p, port in node.ports.items()})
            node.values = self.network.node_values(run, own)
            owns[node.name] = own
        if self.network.node.preload and self.namespaces is None:
            run["parent_pid"] = self._start_forkserver(next(iter(self.nodes.values())))
            for node in self.nodes.values():
                node.values = self.network.node_values(run, owns[node.name])

    def _start_forkserver(self, first: NodeProc) -> int:
        """The zygote, with the first node's environment and cwd (its ``sys.path``; the workdir
        when that is a node's own dir, not made yet) and the death signal of the spawner
        thread; its pid."""
        self.forkserver = ForkServer(self.network.node.preload, self.workdir)
        env = {**os.environ, **self.network.env(first.values)}
        cwd = self.network.cwd(first.values)
        return self.forkserver.start(self._popen, env, cwd if cwd.is_dir() else self.workdir)

    def _popen(self, *args) -> subprocess.Popen:
        """``procs.popen`` on the spawner thread: what it starts dies with the launcher."""
        return self._spawner.submit(popen, *args).result()

    def _ports(self) -> tuple[str, ...]:
        return self.network.node.ports

    def _join_peers(self, node: NodeProc, restart: bool) -> list[NodeProc]:
        names = join.peers(self.network, self.topology, node.name, restart)
        return [self.nodes[name] for name in names]

    def _launch(self, node: NodeProc, timeout: float) -> None:
        self._spawn(node, [])
        self._await_ready(node, timeout)

    def _spawn(self, node: NodeProc, peers: list[NodeProc]) -> None:
        network = self.network
        node.data_dir.mkdir(parents=True, exist_ok=True)
        for path, text in network.files(node.values):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        cmd = network.command(node.values, [p.values for p in peers]) + list(self.node_args)
        if node.netns:
            cmd = ["ip", "netns", "exec", node.netns, *cmd]
        env = {**os.environ, **network.env(node.values)}
        cwd = network.cwd(node.values).resolve()
        if self.forkserver is not None:
            node.proc = self.forkserver.spawn(cmd, env, cwd, self.workdir / f"{node.name}.log")
            node.state = "running"
            return
        log = open(self.workdir / f"{node.name}.log", "ab")  # noqa: SIM115 - child owns it
        try:
            node.proc = self._popen(cmd, log, env, cwd)
        finally:
            log.close()
        node.state = "running"

    def _await_ready(self, node: NodeProc, timeout: float) -> None:
        """Until the definition's readiness check passes, then its ``node.after_start`` calls on
        the node itself (an index to build, say): ready includes them."""
        deadline = time.monotonic() + timeout
        while not self._probe(node):
            if node.proc.poll() is not None:
                node.state = "exited"
                tail = self._log_text(node)
                # The last line says why (a traceback's exception, a usage error).
                last = next((x for x in reversed(tail[-LOG_TAIL:].splitlines()) if x.strip()), "")
                code, last = node.proc.returncode, last.strip()[:LOG_TAIL]
                raise readiness.NodeExited(
                    f"node {node.name} exited at start (exit code {code}): {last}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"node {node.name} did not start within {timeout:.0f}s")
            time.sleep(POLL_S)
        join.call_self(self.network, node.values, deadline)

    def _probe(self, node: NodeProc) -> bool:
        """The definition's readiness check, once; a JSON answer's ``node_id`` is kept."""
        spec = self.network.node
        port = node.ports[spec.ready_port]
        if spec.ready_tcp is not None:
            try:
                socket.create_connection((node.host, port), PROBE_TIMEOUT_S).close()
            except OSError:
                return False
            return True
        url = f"http://{node.host}:{port}{spec.ready_http_get}"
        try:
            with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT_S) as answer:
                body = answer.read()
        except (OSError, ValueError):
            return False
        try:
            node.node_id = str(json.loads(body).get("node_id") or node.node_id)
        except (ValueError, AttributeError):
            pass
        return True

    def _join(self, node: NodeProc, peers: list[NodeProc], timeout: float | None) -> None:
        """The definition's after-start join call, once per peer, retried until it answers."""
        deadline = time.monotonic() + (timeout or self.network.node.ready_timeout_s)
        join.call_peers(self.network, node.values, [p.values for p in peers], deadline)

    def _reap(self, node: NodeProc) -> None:
        """Wait for a signalled node (SIGKILL after the stop timeout), then kill what it left in
        its group; a node reaped before is left alone (its pid may belong to another now)."""
        if node.proc is None or node.proc.returncode is not None:
            return
        try:
            node.proc.wait(self.network.node.stop_timeout_s)
        except subprocess.TimeoutExpired:
            killpg(node.proc, signal.SIGKILL)
            node.proc.wait()
        killpg(node.proc, signal.SIGKILL)  # whatever it started and left behind

    def _refresh(self, node: NodeProc) -> None:
        if node.proc is not None and node.proc.poll() is not None and node.state in RUNNING:
            node.state = "exited"
