"""A cross-host evaluation on one machine: network namespaces as hosts, each running a real sshd
(tests/hostlab.py), the nodes started on them over SSH, one Locust worker per host, the master
here, a fault plan with a crash and a cut between hosts. The figures for issue 21's closing note.

    sudo python bench/hosts_run.py [--hosts 3] [--nodes-per-host 3] [--plan FILE] [--out DIR]
                                   [--local] [-- LOCUST OPTIONS...]

What it runs, in order (each command is printed):

1. the lab: ``--hosts`` namespaces on a bridge, sshd in each, a hosts file of
   ``--nodes-per-host`` nodes each;
2. ``python -m networks.cluster --hosts FILE --topology ring --workdir OUT/cluster`` until it
   prints ``ready``
   (the time to start: SSH connections, free ports, corpus copy, joins);
3. ``python -m networks.hosts workers --cluster OUT/cluster/cluster.json --master-host GW``;
4. ``locust -f locustfiles/phase4.py --headless --master --master-bind-host GW --expect-workers
   N --cluster OUT/cluster/cluster.json --fault-plan PLAN --results-dir OUT/results`` (the quick
   profile unless the options after ``--`` say otherwise);
5. Ctrl-C to the cluster (it stops every node and copies the logs into OUT/cluster), the lab
   removed. Ctrl-C, SIGTERM and errors take the same way out.

``--web PORT`` starts the master with its web UI on 127.0.0.1:PORT instead (runs started
from it, the Cluster page with the nodes on their hosts) until Ctrl-C.
``--local`` runs the same plan on the embedded cluster of as many nodes, the same topology as the
hosts' (``locust ... --headless --nodes N --topology ring``), for comparison.

Printed at the end: the figures as a Markdown table, every one read from the run's report
(``phase4_complete_results.json``: the verdict, detection and recovery as judged; see
bench/hosts_figures.py) except the time to start, measured here; all of them are written to
``OUT/hosts_run.json``. Exit code: Locust's (the verdict: 0 READY, 1 NOT READY, 4
INCONCLUSIVE), 2 when the lab cannot be made.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hosts_figures import figures, table  # noqa: E402 - after the path above

from tests.hostlab import HostLab, missing  # noqa: E402
from tests.locust_run import free_port, locust_cmd  # noqa: E402

PLAN = ROOT / "tests" / "plans" / "hosts_3x3.toml"
HOSTS, NODES_PER_HOST = 3, 3
#: The quick profile's: searches two hops deep. On a full mesh of 9 the initial verification's
#: 50 concurrent TTL-2 searches are 3,200 peer messages within the nodes' 1 s search deadline,
#: about all 2 shared cores serve: its answers came back partial (README "Running across
#: machines").
TOPOLOGY = "ring"
MAX_HOSTS = 8  # the lab's namespaces on a 2-core machine
START_TIMEOUT_S = 180.0
RUN_TIMEOUT_S = 1200.0
STOP_WAIT_S = 60.0
LAB_ERROR = 2
WEB_HOST = "127.0.0.1"


class Stopped(Exception):
    """SIGTERM: leave the way Ctrl-C does."""


def _raise_stopped(_signum: int, _frame: Any) -> None:
    raise Stopped


def show(argv: list[str]) -> None:
    print("+ " + " ".join(argv), flush=True)


@contextmanager
def process(argv: list[str], log: Path | None = None, **options: Any):
    """A child in a session of its own (a terminal's Ctrl-C reaches only this script, which
    then stops the children in order); SIGINT, then SIGKILL, at the end if still running."""
    show(argv)
    out = open(log, "w") if log else None  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        start_new_session=True,
        stdout=out or options.pop("stdout", None),
        stderr=subprocess.STDOUT if out else None,
        text=True,
        **options,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if out:
            out.close()


def start_cluster(
    stack: ExitStack, hosts_file: Path, workdir: Path, topology: str
) -> tuple[Path, float]:
    """``networks.cluster --hosts`` until ``ready``: its descriptor and the seconds it took."""
    argv = [sys.executable, "-m", "networks.cluster", "--hosts", str(hosts_file)]
    argv += ["--topology", topology]
    started = time.monotonic()
    proc = stack.enter_context(process(argv + ["--workdir", str(workdir)], stdout=subprocess.PIPE))
    deadline = started + START_TIMEOUT_S
    while (line := proc.stdout.readline()) and line.strip() != "ready":
        print(f"  {line.rstrip()}", flush=True)
        if time.monotonic() > deadline:
            raise TimeoutError(f"networks.cluster not ready within {START_TIMEOUT_S:.0f}s")
    if proc.poll() is not None:
        raise RuntimeError(f"networks.cluster exited with {proc.returncode} before ready")
    return workdir / "cluster.json", time.monotonic() - started


def run_locust(args: list[str], log: Path, web_port: int | None = None) -> int:
    """The master, headless (or its web UI on ``web_port`` until Ctrl-C), its output in
    ``log`` and its last lines here; its exit code."""
    mode = ["--headless"] if web_port is None else ["--web-host", WEB_HOST]
    if web_port is not None:
        mode += ["--web-port", str(web_port)]
        print(f"web UI: http://{WEB_HOST}:{web_port}/ (Ctrl-C ends it all)", flush=True)
    with process(locust_cmd(*mode, *args), log) as proc:
        code = proc.wait(RUN_TIMEOUT_S if web_port is None else None)
    print("".join(log.read_text().splitlines(keepends=True)[-6:]), end="", flush=True)
    return code


def on_hosts(a: argparse.Namespace, out: Path, extra: list[str]) -> tuple[int, dict]:
    """The evaluation on the lab's hosts: Locust's exit code and the time to start."""
    with tempfile.TemporaryDirectory(prefix="pl-hosts-run-") as tmp, ExitStack() as stack:
        lab = HostLab(Path(tmp), a.hosts)
        stack.callback(lab.remove)  # last out: after the cluster and the workers
        lab.create()
        hosts_file = lab.hosts_toml(a.nodes_per_host)
        descriptor, start_s = start_cluster(stack, hosts_file, out / "cluster", a.topology)
        port = free_port()
        workers = [sys.executable, "-m", "networks.hosts", "workers", "--cluster"]
        workers += [str(descriptor), "--master-host", lab.gateway, "--master-port", str(port)]
        stack.enter_context(process(workers, out / "workers.log"))
        master = ["--master", "--master-bind-host", lab.gateway, "--master-bind-port", str(port)]
        master += ["--cluster", str(descriptor)]
        if a.web is None:  # the web UI starts when asked, with the workers there by then
            master += ["--expect-workers", str(a.hosts)]
        code = run_locust([*master, *common(a, out), *extra], out / "locust.log", a.web)
    return code, {"start_s": start_s, "hosts": a.hosts, "nodes_per_host": a.nodes_per_host}


def on_one_machine(a: argparse.Namespace, out: Path, extra: list[str]) -> tuple[int, dict]:
    """The same plan on the embedded cluster of as many nodes, on the same topology."""
    nodes = a.hosts * a.nodes_per_host
    local = ["--nodes", str(nodes), "--topology", a.topology]
    code = run_locust([*local, *common(a, out), *extra], out / "locust.log")
    return code, {"hosts": 1, "nodes_per_host": nodes}


def common(a: argparse.Namespace, out: Path) -> list[str]:
    return ["--fault-plan", str(a.plan), "--results-dir", str(out / "results")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--hosts", type=int, default=HOSTS, choices=range(2, MAX_HOSTS + 1))
    p.add_argument("--nodes-per-host", type=int, default=NODES_PER_HOST)
    p.add_argument("--plan", type=Path, default=PLAN)
    p.add_argument("--topology", default=TOPOLOGY, help=f"the nodes' links (default {TOPOLOGY})")
    p.add_argument("--out", type=Path, help="default: results/hosts-run-<UTC time>/")
    p.add_argument("--local", action="store_true", help="the embedded cluster, for comparison")
    p.add_argument(
        "--web", type=int, metavar="PORT", help="Locust's web UI on this port instead of headless"
    )
    p.add_argument("locust", nargs="*", help="more Locust options (after --)")
    a = p.parse_args(argv)
    if a.local and a.web is not None:
        p.error("--web is for the hosts (the suite's own web UI runs the embedded cluster)")
    if not a.local and (why := missing()):
        print(f"hosts_run: {why}", file=sys.stderr)
        return LAB_ERROR
    where = "local" if a.local else "hosts"
    out = a.out or ROOT / "results" / f"{where}-run-{time.strftime('%Y-%m-%dT%H-%M-%S')}"
    out.mkdir(parents=True, exist_ok=False)
    signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        run = on_one_machine if a.local else on_hosts
        code, measured = run(a, out, a.locust)
    except (KeyboardInterrupt, Stopped):
        print("hosts_run: stopped; everything it started is removed", file=sys.stderr)
        return 130
    found = figures(out / "results", code, {**measured, "where": where})
    (out / "hosts_run.json").write_text(json.dumps(found, indent=2))
    print(table(found))
    print(f"results: {out}")
    return code


if __name__ == "__main__":
    sys.exit(main())
