"""Nodes on other machines, started and signalled over SSH (a hosts file, networks/hosts.py).

``RemoteLauncher`` is the launcher (networks/launcher.py) with its placement, seeding and
spawning done on hosts: the nodes of each host listen on its address, with ports the host
says are free, data dirs and logs under its ``data_dir``; the corpus is written here and
copied over (tar through ssh); control, readiness, joins and the descriptor are the
launcher's own, so the fault controller, the suite, the Cluster page and the report work
unchanged. Each descriptor entry names its host (``ssh``) and the descriptor lists the hosts.

A node runs under a small ``sh`` wrapper in a session that stays open while it lives
(``WRAPPER``): it starts the node in a process group of its own (``setsid``), prints its pid,
and waits for it, so the local ``ssh`` ends with the node's exit status (a crash is seen here
without polling). The wrapper also watches the session's stdin: when this side goes away
(close, Ctrl-C, even SIGKILL of the launcher: its end of the pipe closes), it kills the node's
group, the remote twin of the death signal local nodes get (networks/procs.py). Signals go
by ``kill -s SIG -- -PID`` over ssh. Logs are written on the host and copied back into the
workdir (``NAME.log``) at close and when a node fails at start.
"""

from __future__ import annotations

import shlex
import shutil
import signal
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from . import corpus
from .hosts import Host, HostsFile
from .launcher import Launcher
from .procs import NodeProc, death_signal_prefix
from .ssh import CommandError, HostError, SshHost, quote

ROOT = Path(__file__).resolve().parents[1]  # this checkout; a host's ``workdir`` stands for it
LOG_TAIL_BYTES = 4000
#: Runs a node (argv after ``--``) and waits for it; see the module docstring. fd 3 keeps the
#: session's stdin for the watchdog (an asynchronous list's stdin is /dev/null otherwise).
WRAPPER = """\
cd "$1" || exit 126
log=$2; shift 2
exec 3<&0
setsid "$@" >>"$log" 2>&1 </dev/null 3<&- &
pid=$!
echo "$pid"
{ cat >/dev/null; kill -s KILL -- "-$pid"; } <&3 >/dev/null 2>&1 &
watch=$!
exec 3<&-
wait "$pid"; code=$?
kill "$watch" 2>/dev/null
exit "$code"
"""
SIGNAL_EXIT = 128  # a shell reports a child killed by signal N as 128 + N
PORT_SCRIPT = """\
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[2]))]
for s in socks:
    s.bind((sys.argv[1], 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
"""


class RemoteProc:
    """A node's process on a host, shaped like the ``subprocess.Popen`` the launcher keeps for
    a local one: ``pid`` (on the host), ``poll``, ``wait``, ``returncode``, and
    ``signal_group`` (``procs.killpg`` calls it)."""

    def __init__(self, ssh: SshHost, session: subprocess.Popen, pid: int) -> None:
        self.ssh = ssh
        self.session = session
        self.pid = pid
        #: When set (the launcher is closing), a host that does not answer is noted, not raised.
        self.quiet = False

    @property
    def returncode(self) -> int | None:
        return _status(self.session.returncode)

    def poll(self) -> int | None:
        """The node's exit status once it ended; None while it runs or its host is unreachable
        (then its fate is unknown, which is the harness's failure, not the node's)."""
        code = self.session.poll()
        if code == 255 and self.ssh.lost is None:
            self.ssh.lost = "its node session was dropped"
        return None if code == 255 else _status(code)

    def wait(self, timeout: float | None = None) -> int | None:
        return _status(self.session.wait(timeout))

    def signal_group(self, sig: int) -> None:
        """``kill -s SIG -- -PID`` on the host; a group already gone is fine. A host that does
        not answer raises ``HostError`` (quiet: the local session is ended instead)."""
        try:
            name = signal.Signals(sig).name.removeprefix("SIG")  # dash and bash both take it
            self.ssh.run(f"kill -s {name} -- -{self.pid} 2>/dev/null || true")
        except HostError:
            if not self.quiet:
                raise
            if sig == signal.SIGKILL and self.session.poll() is None:
                self.session.kill()  # the wrapper's watchdog kills the node if the host is back


def _status(code: int | None) -> int | None:
    """The wrapper's exit code as Popen reports a local child's: -N when killed by signal N."""
    if code is not None and SIGNAL_EXIT < code < SIGNAL_EXIT + signal.NSIG:
        return SIGNAL_EXIT - code
    return code


class RemoteLauncher(Launcher):
    """The launcher with nodes on the hosts of a hosts file (as many as it lists)."""

    def __init__(self, network, hosts: HostsFile, **options) -> None:
        for option in ("netns", "disk_mb"):
            if options.get(option):
                raise ValueError(f"{option} is for local nodes; not with a hosts file")
        self.hosts = hosts
        self._control_dir = Path(tempfile.mkdtemp(prefix="pl-ssh-"))
        self.ssh = {h: SshHost(h, self._control_dir, hosts, self._popen) for h in hosts.hosts}
        self.host_of: dict[str, Host] = {}
        try:
            super().__init__(network, hosts.nodes, **options)
        except BaseException:
            shutil.rmtree(self._control_dir, ignore_errors=True)
            raise
        self.run_dir = {h: PurePosixPath(h.data_dir) / self.workdir.name for h in hosts.hosts}

    def _popen(self, argv: list[str], **options) -> subprocess.Popen:
        """A master connection, forked by the launcher's spawner thread with the death signal
        its nodes get (networks/procs.py): it ends with the launcher, even a SIGKILLed one."""
        try:
            spawn = self._spawner.submit(subprocess.Popen, death_signal_prefix() + argv, **options)
        except RuntimeError:  # after close: from this thread, without the death signal
            return subprocess.Popen(argv, **options)
        return spawn.result()

    def _check_size(self, nodes: int) -> None:
        """The network's own limit only: the nodes' memory and descriptors are their hosts'
        (each file's ``nodes`` is bounded, networks/hosts.py); here each costs an ssh client."""
        if not 1 <= nodes <= self.network.max_nodes:
            raise ValueError(
                f"{nodes} nodes: at most {self.network.max_nodes} for {self.network.name}"
            )

    def _place(self, names: list[str], first_host: int, netns: bool) -> dict[str, NodeProc]:
        """Nodes in the hosts file's order: the first host's ``nodes``, then the next's."""
        nodes, i = {}, 0
        run = self.workdir.name
        for host in self.hosts.hosts:
            for _ in range(host.nodes):
                name = names[i]
                data_dir = PurePosixPath(host.data_dir) / run / name
                nodes[name] = NodeProc(name, i + 1, host.address, data_dir)  # type: ignore[arg-type]
                self.host_of[name] = host
                i += 1
        return nodes

    # -- start -----------------------------------------------------------------------------
    def _plan(self) -> None:
        """Ports each host says are free on its address; the host's interpreter and dirs."""
        for host, ssh in self.ssh.items():
            ssh.connect()
            ssh.run(f"mkdir -p {shlex.quote(str(self.run_dir[host]))}")
        ports = {h: iter(self._free_ports(h)) for h in self.ssh}
        for node in self.nodes.values():
            host = self.host_of[node.name]
            node.ports = {p: next(ports[host]) for p in self._ports()}
            run = {
                "python": host.python,
                "workdir": self.run_dir[host],
                "token": self.token,
                "parent_pid": 0,  # no parent on the host: the wrapper's watchdog does that job
            }
            own = {"name": node.name, "index": node.index, "host": node.host}
            own["data_dir"] = node.data_dir
            own.update({f"{p}_port": port for p, port in node.ports.items()})
            node.values = self.network.node_values(run, own)

    def _free_ports(self, host: Host) -> list[int]:
        count = host.nodes * len(self._ports())
        argv = [host.python, "-c", PORT_SCRIPT, host.address, str(count)]
        return [int(p) for p in self.ssh[host].run(quote(argv)).split()]

    def _seed(self, catalogs: dict[str, list]) -> None:
        """Each node's corpus, written here into a staging dir and unpacked on its host."""
        stage = Path(tempfile.mkdtemp(prefix="stage-", dir=self.workdir))
        try:
            for node in self.nodes.values():
                local = stage / node.name
                node.files = corpus.write_corpus(local, catalogs[node.name])
                archive = stage / f"{node.name}.tar"
                with tarfile.open(archive, "w") as tar:
                    tar.add(local, arcname=".")
                target = shlex.quote(str(node.shared_dir))
                self._ssh(node).run(
                    f"mkdir -p {target} && tar -C {target} -xf -", stdin=archive.read_bytes()
                )
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def _spawn(self, node: NodeProc, peers: list[NodeProc]) -> None:
        host, ssh, network = self.host_of[node.name], self._ssh(node), self.network
        ssh.run(f"mkdir -p {shlex.quote(str(node.data_dir))}")
        for path, text in network.files(node.values):
            where = shlex.quote(str(path))
            ssh.run(f"mkdir -p $(dirname {where}) && cat > {where}", stdin=text.encode())
        argv = network.command(node.values, [p.values for p in peers]) + list(self.node_args)
        env = [f"{k}={v}" for k, v in network.env(node.values).items()]
        cwd = str(network.cwd(node.values))
        inner = ["env", *env, *argv] if env else argv
        wrapper = ["sh", "-c", WRAPPER, "sh", cwd, self._remote_log(node), *inner]
        command = on_host(quote(wrapper), host)
        # The stdin pipe stays open while this process lives: its end is the watchdog's cue.
        errors = open(self.workdir / f"{node.name}.ssh.log", "ab")  # noqa: SIM115 - ssh owns it
        try:
            session = ssh.session(command, self._host_index(node), errors)
        finally:
            errors.close()
        line = session.stdout.readline().strip()
        if not line.isdigit():
            session.wait()
            code = session.returncode
            raise HostError(f"host {host.name} did not start {node.name} (ssh exit {code})")
        node.proc = RemoteProc(ssh, session, int(line))  # type: ignore[assignment]
        node.state = "running"

    def _host_index(self, node: NodeProc) -> int:
        """The node's place among its host's nodes (which node connection it rides)."""
        host = self.host_of[node.name]
        return [n for n, h in self.host_of.items() if h is host].index(node.name)

    # -- logs, descriptor, close ----------------------------------------------------------
    def _remote_log(self, node: NodeProc) -> str:
        return str(self.run_dir[self.host_of[node.name]] / f"{node.name}.log")

    def _log_text(self, node: NodeProc) -> str:
        log = shlex.quote(self._remote_log(node))
        try:
            return self._ssh(node).run(f"tail -c {LOG_TAIL_BYTES} {log}")
        except (HostError, CommandError) as exc:
            return str(exc)

    def _collect_logs(self) -> None:
        """Copy each node's log from its host into the workdir; a host that does not answer
        leaves a line saying so instead."""
        for node in self.nodes.values():
            log = shlex.quote(self._remote_log(node))
            try:
                text = self._ssh(node).run(f"cat {log} 2>/dev/null || true")
            except HostError as exc:
                text = f"[peerload] log not collected: {exc}\n"
            (self.workdir / f"{node.name}.log").write_text(text)

    def _entry(self, node: NodeProc) -> dict:
        """The launcher's entry with its host (``ssh``); its pid is ``host_pid``, a pid on that
        host: ``pid`` is null so nothing here reads another process's CPU by it."""
        entry = super()._entry(node)
        return {**entry, "ssh": self.host_of[node.name].name, "pid": None, "host_pid": entry["pid"]}

    @property
    def descriptor(self) -> dict:
        """The launcher's, plus ``hosts``: the hosts file as read (key paths, never keys), so
        the fault controller's hosts backend can reach them (networks.hosts.parse_hosts)."""
        return {**super().descriptor, "hosts": self.hosts.to_dict()}

    def status(self) -> list[dict]:
        """The launcher's, each node naming its host (``ssh``) and, when that host stopped
        answering, ``host_lost``: why (the node's state is then unknown, not ``exited``)."""
        rows = super().status()
        for row in rows:
            ssh = self.ssh[self.host_of[row["name"]]]
            row["ssh"] = ssh.host.name
            if ssh.lost is not None:
                row["host_lost"] = ssh.lost
        return rows

    @property
    def lost_hosts(self) -> dict[str, str]:
        """Each host that stopped answering, and how: a harness failure, not a verdict."""
        return {h.name: s.lost for h, s in self.ssh.items() if s.lost is not None}

    def close(self) -> None:
        """Stop every node on every host (a host that does not answer is noted, not waited
        for), copy the logs back, remove the run's folders on the hosts, end the connections."""
        for node in self.nodes.values():
            if isinstance(node.proc, RemoteProc):
                node.proc.quiet = True
        try:
            super().close()
        finally:
            if not self.keep:
                for host, ssh in self.ssh.items():
                    try:
                        ssh.run(f"rm -rf {shlex.quote(str(self.run_dir[host]))}")
                    except (HostError, CommandError):
                        pass
            for ssh in self.ssh.values():
                ssh.close()
            shutil.rmtree(self._control_dir, ignore_errors=True)

    def _kill_all(self) -> None:
        for node in self.nodes.values():
            if isinstance(node.proc, RemoteProc):
                node.proc.quiet = True
        super()._kill_all()
        for ssh in self.ssh.values():
            ssh.close()

    def wipe(self, name: str) -> dict:
        raise ValueError(f"{name}: wiping a node's data is not done on hosts (churn keeps data)")

    def _ssh(self, node: NodeProc) -> SshHost:
        return self.ssh[self.host_of[node.name]]


def on_host(text: str, host: Host) -> str:
    """Paths into this checkout, rewritten to where the host keeps it (its ``workdir``)."""
    return text.replace(str(ROOT), host.workdir) if host.workdir else text
