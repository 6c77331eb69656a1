"""The fault stage of a run: the fault controller driven from Locust, on the master only.

When the shape reaches the fault stage the plan starts (its offsets count from that moment).
Faults started by hand from the web UI's Cluster page go through a second runner with the same
journal, hooks and windows, so they are judged like scheduled ones.
Each fault opens a window, and so does the recovery after it; while a fault is active its
target is "unreachable", so users do not count a file on it as missed. Per fault we measure the
time until the survivors mark the target dead, the time until the cluster is back to N/N alive
(the time until searches are as good as before is reports/service.py's).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import gevent

import faults
from networks import verify
from networks.adapter import DEAD, PEERS
from reports.thresholds import Thresholds

from . import console, faultrecords
from .reachwatch import peers_view, watch_reach

SHIPPED_PLANS = Path(faults.__file__).resolve().parent / "plans"
TAIL_S = 4.0  # after the last heal, so the last recovery window has load in it
UNREACHABLE_GRACE_S = 2.0  # a healed node needs a moment before peers re-admit it
PROBE_KILL_S = 2.0
DETECT_TIMEOUT_S = 30.0  # a probe never outlives its fault by much: it stops at the heal
PROBE_SLACK_S = 10.0  # a probe's last poll may wait on a node that does not answer
POLL_S = 0.1
JOURNAL_FILE = "fault_journal.jsonl"
RESULTS_FILE = "fault_tolerance_results.json"


def buttons() -> list[dict]:
    """The Cluster page's buttons, from the fault kinds' own facts: each kind offered by hand
    (``label``, ``danger`` when it takes the node down) and each healing action."""
    kinds = faults.manual_kinds()
    starts = [{"label": f.manual.label, "kind": f.name, "danger": f.takes_down} for f in kinds]
    heals = sorted({f.manual.heal_label for f in kinds})
    return starts + [{"label": label, "kind": None, "danger": False} for label in heals]


def cut_pairs(step) -> list[tuple[str, str]]:
    """The links a partition step cuts, each direction a pair (observer, peer it must lose);
    empty for faults that take the target itself down."""
    grudge = (step.params or {}).get("grudge") or {}
    pairs = {(a, b) for a, peers in grudge.items() for b in peers}
    return sorted(pairs | {(b, a) for a, b in pairs})


def routed(cut: list[tuple[str, str]], held: dict[str, set[str]]) -> list[tuple[str, str]]:
    """The cut pairs that carry queries: those whose observer holds a link to the peer, where
    the network says which links its nodes hold (``held``, filled by the peers views). A
    search is routed over links only, and an isolated node of a 100-node network would need
    a probe per member (SWIM) to see every other node go; its neighbours are what it must
    stop asking. All pairs when the nodes hold none of the cut links (nothing to narrow to)."""
    linked = [(a, b) for a, b in cut if a in held and b in held[a]]
    return linked or cut


def held_down(open_faults: list[dict], entry: dict) -> set[str]:
    """The nodes the open faults other than ``entry`` hold down now."""
    return {
        n
        for f in open_faults
        if f is not entry and f["takes_down"]
        for n in f.get("nodes") or [f["target"]]
    }


def plan_path(spec: str) -> Path:
    """A plan file, or the name of a shipped plan (``quick``, ``phase4``)."""
    shipped = SHIPPED_PLANS / f"{spec}.toml"
    return shipped if "/" not in spec and shipped.exists() else Path(spec)


def elapsed(since: float) -> float:
    """Seconds since the monotonic instant ``since``, to the millisecond."""
    return round(time.monotonic() - since, 3)


class FaultStage:
    """Loads and validates a plan up front; runs it when the fault stage starts."""

    def __init__(
        self,
        spec: str | None,
        state,
        results_dir: Path,
        seed: int | None,
        notify=lambda: None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.state = state
        self.thresholds = thresholds or Thresholds()
        self.notify = notify  # called when the set of unreachable nodes changes
        self.results_dir = results_dir
        self.timeline = None
        self.fit: faults.Fit | None = None  # the backend said at the start, and used
        if spec:
            plan = faults.load_plan(plan_path(spec))
            layout = faults.Layout.of(state.descriptor.get("topology"))
            names = [n.name for n in state.nodes]
            self.timeline = faults.resolve(plan, names, seed=seed, layout=layout)
            state.plan = self.timeline.to_dict()
            self.fit = faults.fit_for(self.timeline, state.descriptor)
        self.runner = None
        self._manual = None
        self._manual_ids = itertools.count(1)
        self.started_wall: float | None = None
        self._open: dict[str, dict] = {}
        self.faults: list[dict] = []
        self._probes: list[gevent.Greenlet] = []

    def reset(self) -> None:
        """Forget a previous run (the web UI can start several): its faults, its manual
        runner (healed first) and its journal file."""
        self.close()
        self.runner, self.started_wall = None, None
        self._open, self.faults, self._probes = {}, [], []
        (self.results_dir / JOURNAL_FILE).unlink(missing_ok=True)

    @property
    def seconds(self) -> float:
        return self.timeline.end_s + TAIL_S if self.timeline else 0.0

    def _runner(self, timeline, t0: float | None) -> faults.Runner:
        runner = faults.Runner(
            timeline,
            self.state.descriptor,
            backend=self.fit.backend if self.fit else None,
            journal=faults.Journal(self.results_dir / JOURNAL_FILE),
            t0=t0,
        )
        runner.events.step_started.add_listener(self.on_step_started)
        runner.events.fault_started.add_listener(self.on_fault_started)
        runner.events.fault_healed.add_listener(self.on_fault_healed)
        return runner

    def start(self, wall_time: float) -> None:
        if self.timeline is None:
            return
        self.started_wall = wall_time
        self.runner = self._runner(self.timeline, time.monotonic())
        self.runner.start()
        console.say(f"fault stage started ({self.runner.network.name} backend)")

    # -- by hand -------------------------------------------------------------------------
    def act(self, action: str, node: str) -> dict:
        """A Cluster page button (``buttons()``): a kind's label starts that fault on ``node``,
        a healing label heals every fault aimed at it. The journal record(s)."""
        if self._manual is None:
            names = tuple(n.name for n in self.state.nodes)
            empty = faults.Timeline(seed=0, nodes=names, backend="auto", steps=())
            self._manual = self._runner(empty, time.monotonic())
        kind = next((b["kind"] for b in buttons() if b["label"] == action), None)
        if kind is None:  # a healing action: heal every fault aimed at the node
            healed = self._manual.heal_now(node)
            if not healed and self.runner is not None:
                healed = self.runner.heal_now(node)
            return {"healed": healed, "note": None if healed else "nothing to heal"}
        fault_id = f"manual-{next(self._manual_ids)}"  # each a window of its own
        record = self._manual.apply(kind, node, fault_id=fault_id)
        return {"outcome": record["outcome"], "error": record["error"], "key": f"{fault_id}:{node}"}

    def active(self) -> list[str]:
        return [s.key for r in (self.runner, self._manual) if r is not None for s in r.active]

    def on_step_started(self, step, **_) -> None:
        """Before a fault acts, its target stops counting as reachable (no race with users)."""
        if step.phase == "start" and step.target in self.state.descriptor_names:
            self.state.unreachable.add(step.target)
            self.notify()

    def _reachable_again(self, target: str) -> None:
        if not any(f["target"] == target for f in self._open.values()):
            self.state.unreachable.discard(target)
            self.notify()

    def on_fault_started(self, step, record, **_) -> None:
        if step.key in self._open:  # a refused second start of an active fault
            return
        started = time.monotonic()
        entry = {
            "fault_id": step.fault_id,
            "kind": step.kind,
            "target": step.target,
            "nodes": list(step.nodes),
            **faults.kind_facts(step.kind).record_fields(),
            "cut": cut_pairs(step),
            "wipes": faults.kinds.REGISTRY[step.kind].wipes_data(step.params),
            "key": step.key,
            "start": record["wall"],
            "end": None,
            "outcome": record.get("outcome"),
            "detected_s": None,
            "recovered_s": None,
            "recovery_watched_s": None,
        }
        self._open[step.key] = entry
        self.faults.append(entry)
        if entry["wipes"] and record.get("outcome") == "ok":
            for node in step.nodes:  # its seeded files are gone: users stop asking for them
                self.state.forget_corpus(node)
        self.state.faults_active.append(step.key)
        one_node = step.target in self.state.descriptor_names
        if entry["takes_down"] and (one_node or entry["cut"]):  # a node, or a split's sides
            self._probes.append(gevent.spawn(self._detect, entry, started))
        if entry["keeps_reach"]:
            self._probes.append(gevent.spawn(watch_reach, self.state, entry))

    def on_fault_healed(self, step, record, **_) -> None:
        entry = self._open.pop(step.key, None)
        if entry is None:
            return
        entry["end"] = record.get("wall_end") or record["wall"]
        if step.key in self.state.faults_active:
            self.state.faults_active.remove(step.key)
        gevent.spawn_later(UNREACHABLE_GRACE_S, self._reachable_again, step.target)
        reason = (record.get("detail") or {}).get("reason") or ""
        if reason.startswith(faults.runner.FINAL_HEAL):
            # Still broken when the run ended: the controller's cleanup is not a recovery.
            entry["end"], entry["healed_by"] = record["wall"], reason
            return
        # Recovery counts from the moment the heal began (a restart included), not its end.
        heal_began = time.monotonic() - max(0.0, time.time() - record["wall"])
        self._probes.append(gevent.spawn(self._recover, entry, heal_began))

    def _view(self, net, observer: str) -> dict[str, str] | None:
        return peers_view(net, self.state.node(observer))

    def _detect(self, entry: dict, since: float) -> None:
        """Seconds until every survivor stopped routing queries to the target (marked it dead,
        not merely suspect) — for a partition, until both ends of every cut link did (``routed``);
        polled
        until the fault heals, so a fault never noticed inside its window stays None. A network
        without a peers view cannot be asked: ``detected_s`` is then left out (not measured)."""
        net = self.state.adapter()
        if not net.has(PEERS):
            del entry["detected_s"]
            return
        seen: set[tuple[str, str]] = set()
        try:
            while entry["end"] is None and time.monotonic() - since < DETECT_TIMEOUT_S:
                if self._noticed(net, entry, seen):
                    entry["detected_s"] = elapsed(since)
                    return
                gevent.sleep(POLL_S)
        finally:
            net.close()

    def _noticed(self, net, entry: dict, seen: set[tuple[str, str]]) -> bool:
        """Whether every survivor has marked the target dead (``seen``: the pairs seen so, at
        any poll of this fault). The survivors not seen so yet are asked all at once: asked
        one after another, 99 of them under load took longer than a 3 s outage, and a sweep
        had to find all of them dead at once, before the target came back."""
        cut = entry["cut"] or [
            (n.name, entry["target"]) for n in self.state.nodes if n.name != entry["target"]
        ]
        if entry["cut"]:  # narrowed by the links the last poll saw: only their ends are asked
            cut = routed(cut, net.links)
        asked = {a for a, b in cut if (a, b) not in seen}
        jobs = {a: gevent.spawn(self._view, net, a) for a in asked}
        gevent.joinall(list(jobs.values()))
        views = {a: job.value if job.successful() else None for a, job in jobs.items()}
        if entry["cut"]:
            cut = routed(cut, net.links)
        seen.update((a, b) for a, b in cut if (views.get(a) or {}).get(b) == DEAD)
        # A survivor that does not answer (another fault) cannot route queries anywhere.
        answered = [(a, b) for a, b in cut if (a, b) in seen or views.get(a) is not None]
        return bool(answered) and all(pair in seen for pair in answered)

    def _recover(self, entry: dict, since: float) -> None:
        """Seconds from the heal until every node answers and (where the network shows its
        peers) sees every other alive, watched for ``Thresholds.recovery_watch_s``. How long it
        was really watched is recorded: a probe ended early (the run stopped) proves less than
        its window; one that failed records nothing and its fault counts as never back."""
        watch = self.thresholds.recovery_watch_s()
        net = self.state.adapter()
        try:
            while time.monotonic() - since < watch:
                if self._whole(net, entry):
                    entry["recovered_s"] = entry["recovery_watched_s"] = elapsed(since)
                    return
                gevent.sleep(POLL_S)
            entry["recovery_watched_s"] = elapsed(since)
        except gevent.GreenletExit:
            entry["recovery_watched_s"] = elapsed(since)
            raise
        finally:
            net.close()

    def _whole(self, net, entry: dict) -> bool:
        """The conformance checks' ``up`` and ``joined`` (where the network shows its peers),
        over the nodes no other fault holds down now: churn's next departure, due before this
        one's rejoin is seen everywhere, is that fault's outage, not this one's recovery."""
        away = held_down(list(self._open.values()), entry)
        nodes = [n for n in self.state.nodes if n.name not in away]
        if verify.check_up(net, nodes).outcome != verify.PASS:
            return False
        return verify.check_joined(net, nodes).outcome != verify.FAIL

    def stop(self, *, watch: bool = True) -> None:
        """Stop the plan (healing whatever is active) and finish the measurements; without
        ``watch`` (an interrupted run, which must end within seconds) recovery is not waited
        for: the probes record what they saw so far."""
        if self.runner is not None:
            self.runner.stop(wait=60)
        if self._manual is not None:
            self._manual.heal_now()
        self.state.journal[:] = self.journal_records()
        wait_s = self.thresholds.recovery_watch_s() if watch else 0.0
        # Healed on schedule, and its probe has not recorded how long it watched yet.
        recovering = [
            f["key"]
            for f in self.faults
            if f["end"] and not f.get("healed_by") and f["recovery_watched_s"] is None
        ]
        if recovering and wait_s:
            console.say(
                f"waiting up to {wait_s:.0f} s after the heal for the network to recover from "
                + ", ".join(recovering)
            )
            gevent.joinall(self._probes, timeout=wait_s + PROBE_SLACK_S)
        # A probe still polling proves only what it saw so far: ended, it records that.
        gevent.killall(self._probes, timeout=PROBE_KILL_S)

    def journal_records(self) -> list[dict]:
        """Applied steps of the plan and of the buttons, in time order."""
        runners = [r for r in (self.runner, self._manual) if r is not None]
        records = [rec for r in runners for rec in faults.step_records(r.journal.records)]
        return sorted(records, key=lambda r: r["wall"])

    def close(self) -> None:
        """At exit: heal what was started by hand, release the network backend, and end the
        detection/recovery probes still polling (a stopped run has joined them already)."""
        if self._manual is not None:
            self._manual.heal_now()
            self._manual.network.close()
            self._manual = None
        gevent.killall(self._probes, timeout=PROBE_KILL_S)
        self._probes = []

    # -- after the run -------------------------------------------------------------------
    def windows(self) -> list[dict]:
        """A window per fault, and a recovery window after each (until the next fault)."""
        return faultrecords.windows(self.faults)

    def results(self) -> list[dict]:
        """Per fault: requests during it by operation, detection and recovery times."""
        return faultrecords.results(self.faults, self.state.samples)
