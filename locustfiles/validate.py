"""Every option checked before anything starts: a mistake costs one line and exit 2, not a
cluster start and half a run (``--step-time -3`` used to fail after 37 s)."""

from __future__ import annotations

import math
import socket

import faults
from faults.backends import AUTO, NETNS
from faults.backends.control import admin_api_missing
from faults.kinds.base import DISK
from networks import BUILTIN, corpus, disks, join
from networks import netns as namespaces
from networks.definition import load_network

from . import options as opts
from .faultstage import SHIPPED_PLANS, plan_path
from .record import baseline, thresholds
from .resultsdir import RunFolders


def shipped_plans() -> list[str]:
    return sorted(p.stem for p in SHIPPED_PLANS.glob("*.toml"))


def check_plan(spec: str | None) -> None:
    """The plan exists and is valid (it is resolved against the nodes later)."""
    if not spec or spec == opts.NO_PLAN:
        return
    path = plan_path(spec)
    if not path.is_file():
        shipped = ", ".join(shipped_plans())
        raise ValueError(
            f"--fault-plan {spec!r}: no such plan file; shipped plans: {shipped}, or {opts.NO_PLAN}"
        )
    try:
        plan = faults.load_plan(path)
        if plan.backend != AUTO:  # a backend asked for by name must work here
            faults.choose_backend(plan.backend)
    except (ValueError, faults.BackendError) as exc:  # PlanError is a ValueError
        raise ValueError(f"--fault-plan: {exc}") from None


def check_plan_fits(spec: str | None, nodes: int) -> None:
    """The plan resolves on the embedded network's nodes (its targets, the majority rule), so
    a plan a small network cannot take is refused before the network starts."""
    if not spec or spec == opts.NO_PLAN:
        return
    names = [f"n{i + 1}" for i in range(nodes)]
    try:
        faults.resolve(faults.load_plan(plan_path(spec)), names)
    except ValueError as exc:  # PlanError
        size = f"{nodes} node{'s' * (nodes != 1)}"
        raise ValueError(
            f"--fault-plan {spec}: not for {size}: {exc}; use more --nodes or --fault-plan none"
        ) from None


def check_network(spec: str):
    """The network definition (``--network``), loaded and checked whole."""
    try:
        return load_network(spec or BUILTIN)
    except ValueError as exc:
        raise ValueError(f"--network: {exc}") from None


def check_size_and_topology(options, network) -> None:
    """The embedded network fits this machine and can be joined in ``--topology``; a running
    cluster's links are its descriptor's, so ``--topology`` goes with an embedded one only."""
    if options.cluster:
        if getattr(options, "topology", ""):
            raise ValueError("--topology: for the embedded network; a --cluster has its own")
        return
    network.check_size(opts.node_count(options))
    names = [f"n{i + 1}" for i in range(opts.node_count(options))]
    try:
        join.topology_for(network, opts.topology_spec(options), names, options.seed)
    except ValueError as exc:
        raise ValueError(f"--topology: {exc}") from None


def needs_netns(options) -> str | None:
    """Why the embedded network must run one namespace per node, or None: asked for, or the
    plan partitions (or makes lossy, or caps) links of nodes that share one address and the
    netns backend will make it (nftables tells nodes apart by address), or the plan delays
    links of nodes that do not serve the admin API (a delay line needs a namespace). Where it
    cannot work here the nodes start as they are, and the fault backend's line at the start
    says which backend the faults use and what it cannot apply (faults.fit): never a namespace
    per node for a backend that does not use it."""
    if options.netns:
        return "--netns"
    spec = options.fault_plan or opts.profile(options.profile).default_plan
    if not spec or spec == opts.NO_PLAN:
        return None
    network = check_network(options.network)
    plan = faults.load_plan(plan_path(spec))
    kinds = [faults.kinds.REGISTRY[f.kind] for f in plan.faults]
    shared = not network.node.per_node_address and any(k.by_address() for k in kinds)
    no_admin = admin_api_missing({"network": network.spec})
    delays = no_admin is not None and any(k.needs_namespaces for k in kinds)
    if not (shared or delays):
        return None
    try:
        netns_cuts = faults.choose_backend(plan.backend).name == NETNS
    except faults.BackendError:  # check_plan said so already; the fault stage says it again
        return None
    if not (netns_cuts and namespaces.available()[0]):
        return None
    if not shared:
        return (
            "one network namespace per node: the plan delays links (latency) and the nodes do "
            "not serve the admin API, so a delay line in each namespace makes it"
        )
    return (
        "one network namespace per node: the plan acts on links (partition, loss, bandwidth) "
        "of nodes that share one address"
    )


def needs_small_disks(options) -> int | None:
    """The size (MiB) of the small disk each data dir of the embedded network gets, or None:
    ``--disk-mb``, else when the plan fills a disk (disk_full) and small disks can be mounted
    here (root). Where they cannot, the nodes start as they are and the fault backend's line at
    the start says disk_full cannot be applied (faults.fit): the run ends INCONCLUSIVE, not NOT
    READY."""
    if getattr(options, "disk_mb", 0):
        return options.disk_mb
    spec = options.fault_plan or opts.profile(options.profile).default_plan
    if not spec or spec == opts.NO_PLAN:
        return None
    plan = faults.load_plan(plan_path(spec))
    if not any(faults.kinds.REGISTRY[f.kind].acts_on == DISK for f in plan.faults):
        return None
    return disks.DEFAULT_MB if disks.available()[0] else None


def check_disk_mb(options) -> None:
    """ValueError for a ``--disk-mb`` that cannot be had (out of range, not root, a cluster)."""
    mb = getattr(options, "disk_mb", 0)
    if not mb:
        return
    if options.cluster:
        raise ValueError("--disk-mb: the embedded network's disks; start --cluster with its own")
    try:
        disks.check_size(mb)
    except ValueError as exc:
        raise ValueError(f"--disk-mb: {exc}") from None
    ok, why = disks.available()
    if not ok:
        raise ValueError(f"--disk-mb: {why}")


def check_seconds(name: str, value: float, *, zero_ok: bool) -> None:
    low_ok = value >= 0 if zero_ok else value > 0
    if not (math.isfinite(value) and low_ok):
        what = "0 (the profile's) or a number of seconds > 0" if zero_ok else "a number > 0"
        raise ValueError(f"{name} must be {what}, not {value:g}")


def check_port_free(host: str | None, port: int) -> None:
    """Locust binds the web UI only after the cluster has started, and a taken port then ends
    in a gevent traceback: bind it here first, the way gevent will (SO_REUSEADDR)."""
    bind_host = "" if host in (None, "*") else host
    try:
        with socket.socket(socket.AF_INET6 if ":" in bind_host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((bind_host, port))
    except OSError as exc:
        where = f"{host or '*'}:{port}"
        raise ValueError(
            f"--web-port: cannot listen on {where} ({exc.strerror or exc}); "
            "another Locust running? choose another --web-port"
        ) from None


def check_options(options, *, web_ui: bool) -> RunFolders:
    """ValueError with a one-line message for the first bad option; the run's results folders
    (nothing created yet) when all are good."""
    profile = opts.profile(options.profile)
    network = check_network(options.network)
    check_size_and_topology(options, network)
    if not options.cluster:
        corpus.check_size(opts.node_count(options), opts.files_per_node(options))
    check_disk_mb(options)
    check_seconds("--step-time", options.step_time, zero_ok=True)
    check_seconds("--stress-p95-ms", options.stress_p95_ms, zero_ok=False)
    try:
        levels = opts.int_list(options.levels, opts.LEVELS)
    except ValueError as exc:
        raise ValueError(f"--levels: {exc}") from None
    if not levels:
        raise ValueError("--levels: at least one level, e.g. 5,10,20,25")
    try:
        opts.int_list(options.stress_levels, profile.stress_levels)
    except ValueError as exc:
        raise ValueError(f"--stress-levels: {exc}") from None
    check_plan(options.fault_plan or profile.default_plan)
    if not options.cluster:
        check_plan_fits(options.fault_plan or profile.default_plan, opts.node_count(options))
    thresholds(options)
    baseline(options)  # a --baseline folder that cannot be read fails here, not after the start
    run_folders = RunFolders(options.results_dir, options.overwrite)
    run_folders.check()
    if web_ui:
        check_port_free(options.web_host, options.web_port)
    return run_folders
