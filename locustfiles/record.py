"""The end of a run: judge it with ``reports`` and say the verdict.

Everything the suite knows about how the run went (the verification probes before and after,
the integrity check, an interrupt, a run cut short, a worker lost) goes into the run record as
its ``status``, and ``reports`` turns it into criteria rows like any other evidence. One
decision (``reports.verdict.decide``) then gives the label, the reason and the exit code that
the report, the JSON, the web UI and the console all show.
"""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import reports
from networks import BUILTIN
from networks.adapter import INDEX, NODE_DOWNLOAD
from networks.definition import load_network
from reports.regression import FULL_MESH, check_setup, load_baseline
from reports.results import ResultsError
from reports.samples import OPERATIONS
from reports.statuses import as_record as statuses_record
from reports.thresholds import Thresholds, load_overrides
from reports.verdict import EXIT_CODES, INCONCLUSIVE

from . import options as opts
from .results import concurrency_results
from .runstate import parse_cluster

VERSIONED = ("peerload", "locust", "grpcio", "gevent", "bottle", "psutil")


def with_held(topology: dict | None, held: set) -> dict | None:
    """The recorded topology plus ``held``: links the nodes held at a verification."""
    if not topology or not held:
        return topology
    return {**topology, "held": [list(pair) for pair in sorted(held)]}


def versions() -> dict:
    found = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def thresholds(options) -> dict:
    """Overrides from ``--stress-p95-ms``, then ``--thresholds FILE``, then ``--threshold
    NAME=VALUE,…`` (validated: unknown names and bad values fail here, before the run)."""
    merged = {"stress_p95_ms": options.stress_p95_ms} if options.stress_p95_ms else {}
    merged.update(load_overrides(Path(options.thresholds)) if options.thresholds else {})
    merged.update(opts.threshold_overrides(options.threshold))
    Thresholds.from_dict(merged)
    return merged


def resolved_thresholds(options) -> Thresholds:
    """The thresholds every part of the run reads: the shape, the fault stage, the report."""
    return Thresholds.from_dict(thresholds(options))


def run_setup(options, descriptor: dict | None = None) -> dict:
    """What a baseline must share with this run (``reports.regression.SETUP``), known before
    anything starts. ``descriptor``: the cluster's; None for the embedded one the options ask."""
    profile = opts.profile(options.profile)
    faults = opts.plan_spec(options)
    if descriptor is None:
        network, nodes = options.network, opts.node_count(options)
        topology = opts.topology_spec(options)
        catalog = opts.files_per_node(options)
    else:
        network, nodes = descriptor.get("network"), len(descriptor["nodes"])
        topology = (descriptor.get("topology") or {}).get("spec") or FULL_MESH
        catalog = descriptor.get("files_per_node")  # a cluster given as URLs: unrecorded
        if not (descriptor.get("control") and descriptor.get("token")):
            faults = opts.NO_PLAN  # nothing to break it with: the run goes without faults
    stress = opts.int_list(options.stress_levels, profile.stress_levels)
    return {
        "network": load_network(network or BUILTIN).name,
        "nodes": nodes,
        "topology": topology,
        "profile": options.profile or opts.PROFILES[0],
        "levels": ",".join(map(str, opts.int_list(options.levels, opts.LEVELS))),
        "step_time": options.step_time or profile.level_s,
        "stress_start": ",".join(map(str, stress)),
        "faults": faults,
        "files_per_node": catalog,
    }


def baseline(options) -> dict | None:
    """``--baseline DIR``: a previous run's figures; ValueError if the folder is unusable, or
    of another setup without ``--baseline-any-setup``."""
    if not getattr(options, "baseline", ""):
        return None
    try:
        base = load_baseline(options.baseline, resolved_thresholds(options))
    except (ResultsError, OSError) as exc:
        raise ValueError(f"--baseline: {exc}") from None
    try:  # the cluster's network and size; a bad one fails here as it would at the start
        setup = run_setup(options, parse_cluster(options.cluster) if options.cluster else None)
    except (OSError, ValueError) as exc:
        raise ValueError(f"--cluster: {exc}") from None
    check_setup(base, setup, any_setup=getattr(options, "baseline_any_setup", False))
    return base


def operations(capabilities) -> list[str]:
    """The operations the users run on a network with these capabilities (judged one by one)."""
    needs = {"index": INDEX, "node_download": NODE_DOWNLOAD}  # op -> the capability it needs
    return [op for op in OPERATIONS if op not in needs or needs[op] in capabilities]


def hints(spec: str | None) -> dict[str, str]:
    """Where to look in the network's code, per symptom (networks/hints.py); none when the
    descriptor names no network (nodes given by URL: their implementation is unknown)."""
    return dict(load_network(spec).hints) if spec else {}


def status(state, *, live: bool = False) -> dict:
    """How the run went, as ``reports`` reads it (docs/contracts.md, "Run status")."""
    network = state.adapter_class
    return {
        "nodes": len(state.nodes),
        "network": network.name,
        "capabilities": sorted(network.capabilities),
        "hints": hints(state.descriptor.get("network")),
        "operations": operations(network.capabilities),
        "in_progress": live,
        "ended": state.stopped_reason,
        "interrupted": state.interrupted,
        "cut_short": state.cut_short,
        "worker_died": state.worker_died,
        "workers_lost": dict(state.workers_lost),
        "hosts_lost": state.hosts_lost,
        "initial_problems": state.initial_problems,
        "final_problems": None if live else state.final_problems,
        "rogue": None if live else state.rogue,
        "minimal": None if live else state.minimal,
    }


CONFIG_KEYS = (
    "profile",
    "nodes",
    "cluster",
    "failover",
    "fault_plan",
    "levels",
    "step_time",
    "stress_levels",
    "seed",
    "run_time",
    "processes",
    "baseline",
    "baseline_any_setup",
    "keep_going",
)


def run_record(state, options, *, live: bool = False) -> dict:
    """The ``run`` dict ``reports`` judges: at the end of a run, and (``live``) for the web
    UI's criteria so far."""
    config = {k: getattr(options, k, None) for k in CONFIG_KEYS}
    config.update(getattr(state, "config_used", None) or {})
    config.update(run_setup(options, state.descriptor))
    if getattr(state, "baseline", None):
        config["baseline"] = state.baseline["source"]  # resolved: never results/latest
    return {
        "config": {k: ("" if v is None else v) for k, v in config.items()},
        "versions": versions(),
        "seed": options.seed,
        "plan": state.plan,
        "samples": state.samples,
        "windows": state.windows + state.fault_windows,
        "journal": state.journal,
        "series": state.series,
        "integrity": None if live else state.integrity,
        "concurrency": concurrency_results(state),
        # [] rather than None: never let reports pick up an older run's fault file
        "fault_results": state.fault_results or [],
        "thresholds": thresholds(options),
        "status": status(state, live=live),
        # the links the nodes were joined in ({"spec", "nodes", "edges"}); None: not recorded
        "topology": with_held(state.descriptor.get("topology"), state.links_seen),
        "baseline": getattr(state, "baseline", None),
        # what the checker's model knows the nodes held (reports.model): the seeded files and
        # every acknowledged upload with the time it was acknowledged
        "nodes": [{"name": n.name, "files": list(n.files)} for n in state.nodes],
        "acked": list(state.acked),
        # how the network matches a term to a name: the model must match as it does
        "network_match": state.adapter_class.match,
        "network_hops": state.adapter_class.hops,
        # the statuses its API documents for each operation's failures (reports.statuses)
        "network_statuses": statuses_record(state.adapter_class.statuses),
        # what the node logs told of crashes (networks/crashes.py); None: not read
        "crashes": None if live else state.crashes,
    }


def judge(state, options, results_dir: Path):
    """Write every result file and report; the verdict."""
    return reports.build(results_dir, run_record(state, options))


def exit_code(state) -> tuple[int, str]:
    """The verdict's exit code and its one-line reason: the same decision the report shows."""
    if state.verdict is None:
        return EXIT_CODES[INCONCLUSIVE], f"{INCONCLUSIVE}: the run ended before it was judged"
    return state.verdict.exit_code, state.verdict.reason
