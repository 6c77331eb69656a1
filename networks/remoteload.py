"""Load from the hosts: one Locust worker per host, started over SSH, loading its own nodes.

``python -m networks.hosts workers --cluster cluster.json --master-host ADDR`` reads the hosts
from the descriptor of a cluster started with ``networks.cluster --hosts``, starts
``locust -f locustfiles/phase4.py --worker --master-host ADDR`` on each host (under the same
wrapper as a node, networks/remote.py: it dies when this command does) with its host's node
names in ``HOME_NODES_ENV``, and waits until the workers end (the master's quit ends them) or
Ctrl-C; then stops what is left and copies each worker's log into ``--logs``.
``python -m networks.hosts check --hosts FILE`` reads a hosts file and runs ``true`` on every
host: the file is right and every host answers over SSH.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path, PurePosixPath

from .hosts import HOME_NODES_ENV, Host, HostsError, load_hosts, parse_hosts
from .remote import ROOT, WRAPPER, RemoteProc, on_host
from .ssh import CommandError, HostError, SshHost, quote

LOCUSTFILE = ROOT / "locustfiles" / "phase4.py"
DEFAULT_MASTER_PORT = 5557
POLL_S = 0.2
STOP_WAIT_S = 10.0


class Workers:
    """One Locust worker per host of a cluster's descriptor."""

    def __init__(self, descriptor: dict, master_host: str, master_port: int, logs: Path) -> None:
        self.hosts = parse_hosts(descriptor["hosts"])
        self.home = {
            h: [n["name"] for n in descriptor["nodes"] if n.get("ssh") == h.name]
            for h in self.hosts.hosts
        }
        self.master = (master_host, master_port)
        self.logs = logs
        self._dir = Path(tempfile.mkdtemp(prefix="pl-ssh-"))
        self.ssh = {h: SshHost(h, self._dir, self.hosts) for h in self.hosts.hosts}
        self.procs: dict[Host, RemoteProc] = {}
        self.run = f"locust-worker-{time.strftime('%Y%m%d-%H%M%S')}"

    def _log(self, host: Host) -> str:
        return str(PurePosixPath(host.data_dir) / f"{self.run}.log")

    def start(self) -> None:
        """A worker on every host; ``HostError`` naming a host that does not answer."""
        for host, ssh in self.ssh.items():
            argv = [host.python, "-m", "locust", "-f", str(LOCUSTFILE), "--worker"]
            argv += ["--master-host", self.master[0], "--master-port", str(self.master[1])]
            env = ["env", f"{HOME_NODES_ENV}={','.join(self.home[host])}"]
            ssh.run(f"mkdir -p {shlex.quote(host.data_dir)}")
            wrapper = ["sh", "-c", WRAPPER, "sh", str(ROOT), self._log(host), *env, *argv]
            with open(self.logs / f"worker-{host.address}.ssh.log", "ab") as errors:
                session = ssh.session(on_host(quote(wrapper), host), 0, errors)
            line = session.stdout.readline().strip()
            if not line.isdigit():
                session.wait()
                raise HostError(f"host {host.name} did not start its Locust worker")
            self.procs[host] = RemoteProc(ssh, session, int(line))

    def running(self) -> list[Host]:
        """Hosts whose worker session is open (a host that stopped answering has none)."""
        return [h for h, p in self.procs.items() if p.session.poll() is None]

    def close(self) -> list[str]:
        """Stop the workers still running, copy their logs back; what could not be done."""
        problems = []
        for proc in self.procs.values():
            proc.quiet = True
            if proc.poll() is None:
                proc.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_S
        while self.running() and time.monotonic() < deadline:
            time.sleep(POLL_S)
        for host, proc in self.procs.items():
            if proc.poll() is None:
                proc.signal_group(signal.SIGKILL)
                proc.session.kill()
            proc.session.wait()
            log = shlex.quote(self._log(host))
            try:
                text = self.ssh[host].run(f"cat {log} && rm -f -- {log}")
            except (HostError, CommandError) as exc:
                problems.append(str(exc))
                text = f"[peerload] log not collected: {exc}\n"
            (self.logs / f"worker-{host.address}.log").write_text(text)
        for ssh in self.ssh.values():
            ssh.close()
        shutil.rmtree(self._dir, ignore_errors=True)
        return problems


def check(path: Path) -> int:
    """Read the hosts file and run ``true`` on each host; 0 when every host answers."""
    hosts = load_hosts(path)
    control = Path(tempfile.mkdtemp(prefix="pl-ssh-"))
    failed = 0
    for host in hosts.hosts:
        ssh = SshHost(host, control, hosts)
        try:
            ssh.run("true")
            print(f"{host.name}: answers ({host.nodes} nodes, data in {host.data_dir})")
        except (HostError, CommandError) as exc:
            print(f"{host.name}: {exc}")
            failed += 1
        finally:
            ssh.close()
    shutil.rmtree(control, ignore_errors=True)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m networks.hosts", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="read a hosts file and reach every host over SSH")
    c.add_argument("--hosts", type=Path, required=True, metavar="FILE")
    w = sub.add_parser("workers", help="a Locust worker on each host of a cluster")
    w.add_argument("--cluster", type=Path, required=True, metavar="DESCRIPTOR")
    w.add_argument("--master-host", required=True, help="the master's address the hosts reach")
    w.add_argument("--master-port", type=int, default=DEFAULT_MASTER_PORT)
    w.add_argument("--logs", type=Path, help="where the workers' logs go (default: the cluster's)")
    a = p.parse_args(argv)
    try:
        if a.command == "check":
            return check(a.hosts)
        descriptor = json.loads(a.cluster.read_text())
        if not descriptor.get("hosts"):
            raise HostsError(f"{a.cluster}: not a cluster on hosts (networks.cluster --hosts)")
        logs = a.logs or Path(descriptor["workdir"])
        logs.mkdir(parents=True, exist_ok=True)
        workers = Workers(descriptor, a.master_host, a.master_port, logs)
    except (OSError, ValueError, KeyError) as exc:
        print(f"networks.hosts: {exc}", file=sys.stderr)
        return 2
    stopping: list[int] = []  # a list append takes no lock (see networks/cluster.py)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, _frame: stopping.append(signum))
    try:
        workers.start()
        print(f"workers started on {len(workers.procs)} hosts", flush=True)
        while workers.running() and not stopping:
            time.sleep(POLL_S)
    except HostError as exc:
        print(f"networks.hosts: {exc}", file=sys.stderr)
        return 1
    finally:
        for problem in workers.close():
            print(f"networks.hosts: {problem}", file=sys.stderr)
    return 0
