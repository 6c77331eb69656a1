"""The state of one run, shared by users, shape, monitor and lifecycle hooks.

It lives on ``environment.peerload`` so every part reaches it through the environment, the way
Locust's own parts reach the runner and stats.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from networks import adapter_class
from networks.adapter import Adapter, NodeInfo
from networks.verify import descriptor_topology


def parse_cluster(spec: str) -> dict:
    """A descriptor from a file path, or a minimal one from comma-separated node URLs."""
    if spec.strip().startswith("{"):
        return json.loads(spec)
    if "://" in spec:
        urls = [u.strip().rstrip("/") for u in spec.split(",") if u.strip()]
        return {"nodes": [{"name": f"n{i + 1}", "http": u, "grpc": ""} for i, u in enumerate(urls)]}
    data = json.loads(Path(spec).read_text())
    nodes = data.get("nodes") if isinstance(data, dict) else None
    if not nodes or not isinstance(nodes, list):
        raise ValueError(f"{spec}: not a cluster descriptor (no nodes)")
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not all(
            isinstance(node.get(k), str) and node.get(k) for k in ("name", "http")
        ):
            raise ValueError(f"{spec}: nodes[{i}] needs a name and an http URL")
    try:
        descriptor_topology(data)
    except ValueError as exc:
        raise ValueError(f"{spec}: {exc}") from None
    return data


@dataclass
class RunState:
    """Everything the run learns: nodes, liveness, samples, windows, acked uploads."""

    descriptor: dict
    started: float = field(default_factory=time.time)
    alive: set[str] = field(default_factory=set)
    unreachable: set[str] = field(default_factory=set)
    samples: list[dict] = field(default_factory=list)
    windows: list[dict] = field(default_factory=list)
    series: list[dict] = field(default_factory=list)
    acked: list[dict] = field(default_factory=list)
    journal: list[dict] = field(default_factory=list)
    faults_active: list[str] = field(default_factory=list)
    broke_at: int | None = None
    highest_held: int | None = None
    recorder: object = None
    plan: dict | None = None
    fault_windows: list[dict] = field(default_factory=list)
    fault_results: list[dict] | None = None
    integrity: dict | None = None
    final_problems: list[str] | None = None  # the steady-state probe after it; None: not run
    #: Crashes the node logs told of at the end (networks/crashes.py); None: no log read.
    crashes: dict | None = None
    rogue: dict | None = None  # the ``rogue`` check at the very end ({"outcome", "detail"})
    minimal: dict | None = None  # the ``minimal`` check, just before it
    verdict: object = None
    ending: bool = False  # the end of the run is being judged (Locust may fire test_stop twice)
    node_view: list[dict] = field(default_factory=list)
    fault_stage_listeners: list = field(default_factory=list)
    stopped_reason: str | None = None
    worker_died: bool = False
    workers_lost: dict[str, str] = field(default_factory=dict)  # worker id -> why (heartbeats.py)
    hosts_lost: dict[str, str] | None = None  # host -> why; None: the nodes run on no hosts
    distributed: bool = False  # samples arrive from workers, up to a report interval late
    results_dir: Path | None = None  # this run's folder, chosen when it starts (resultsdir.py)
    burst: bool = False  # a level's burst: users skip their think time
    burst_listeners: list = field(default_factory=list)  # told when ``burst`` changes
    cut_short: str | None = None  # why the run ended before its stages gave their evidence
    broke_why: str | None = None  # why the stress step that broke did
    interrupted: str | None = None  # the signal that interrupted the run, if one did
    initial_problems: list[str] | None = None  # the steady-state probe before the load
    verifying: bool = False  # that probe is running: the stages wait (shape.py)
    #: Links the nodes held at a verification (initial, final): the model's too, for links
    #: made between monitor rows (around a dead neighbour) that no row saw.
    links_seen: set = field(default_factory=set)
    #: Nodes whose data a fault wiped (churn with data = "wipe"): their seeded files are gone.
    wiped: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.nodes = [NodeInfo.from_dict(n) for n in self.descriptor["nodes"]]
        self.alive = {n.name for n in self.nodes}
        self.adapter_class = adapter_class(self.descriptor.get("network"))
        #: Every seeded file with its node, listed once: users draw one on most tasks, and a
        #: real catalog has thousands (the nodes never change during a run).
        self.corpus = [{**f, "node": n.name} for n in self.nodes for f in n.files]

    def forget_corpus(self, node: str) -> None:
        """``node`` lost its seeded files (its data was wiped): users stop drawing them."""
        self.wiped.add(node)
        self.corpus = [f for f in self.corpus if f["node"] not in self.wiped]

    def verified_nodes(self) -> list[NodeInfo]:
        """The nodes as a verification checks them: a wiped node's seeded files are gone."""
        return [replace(n, files=()) if n.name in self.wiped else n for n in self.nodes]

    def adapter(self) -> Adapter:
        """A new adapter for this network (one per caller: it keeps its own connections)."""
        return self.adapter_class(self.nodes)

    @property
    def descriptor_names(self) -> set[str]:
        return {n.name for n in self.nodes}

    def node(self, name: str) -> NodeInfo | None:
        return next((n for n in self.nodes if n.name == name), None)

    def reachable(self, name: str) -> bool:
        return name in self.alive and name not in self.unreachable

    def fault_stage_started(self, wall_time: float) -> None:
        """The shape reached the fault stage: whoever runs faults starts now."""
        for listener in self.fault_stage_listeners:
            listener(wall_time)


DESCRIPTOR_OPTION = "peerload_descriptor"
#: Users start in greenlets of their own, and building the state can yield (the adapter's
#: module is imported then): without the lock two first users each built one, and the uploads
#: one of them acknowledged went to a recorder whose report the other overwrote.
_BUILDING = threading.Lock()


def run_state(environment) -> RunState:
    """The run's state (one per process); on a worker it is built from the descriptor the
    master forwarded."""
    with _BUILDING:
        state = getattr(environment, "peerload", None)
        if state is None:
            raw = getattr(environment.parsed_options, DESCRIPTOR_OPTION, None)
            if not raw:
                raise RuntimeError("no cluster descriptor: the master did not forward one")
            from .samples import SampleRecorder

            state = RunState(json.loads(raw))
            state.recorder = SampleRecorder(environment, state)
            environment.peerload = state
    return state
