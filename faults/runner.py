"""Run a resolved timeline against a live cluster, in real time, and always heal at the end.

One path executes every step (``_execute``): journal the step before it acts, act, journal the
outcome in ``finally``, fire the hooks. The run ends as completed, failed (a step went wrong),
aborted (``stop()``) or interrupted (Ctrl-C); whichever, every fault still active is healed,
last started first, and the network backend releases what it holds (chaoslib's rollbacks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .backends import BackendChoice, ClusterContext, ControlClient, NetworkBackend, select_backend
from .events import Events
from .journal import ERROR, OK, PLAN, RUN, STEP, Journal, step_record
from .kinds import REGISTRY, kind_facts, manual_kinds
from .timeline import Timeline
from .types import END, START, Step

log = logging.getLogger("faults")

IDLE, RUNNING = "idle", "running"
COMPLETED, FAILED, ABORTED, INTERRUPTED = "completed", "failed", "aborted", "interrupted"
LATE_NOTE_S = 0.05  # a step that starts later than this behind schedule says by how much
FINAL_HEAL = "final heal"
MANUAL = "manual"


@dataclass
class RunResult:
    """How a run ended, for the CLI's exit code and the reports."""

    status: str
    steps_ok: int
    steps_failed: int
    errors: list[str] = field(default_factory=list)
    backend: str = ""
    backend_reason: str = ""
    started_wall: float = 0.0
    ended_wall: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def step_error(step: Step, error: str) -> str:
    """How a failed step reads in ``RunResult.errors``."""
    return f"{step.key} {step.phase}: {error}"


def touched(step: Step) -> set[str]:
    """Every node a fault affects, both sides of a partition included."""
    grudge = step.params.get("grudge", {})
    return set(step.nodes) | set(grudge) | {n for drops in grudge.values() for n in drops}


class Runner:
    """Executes one timeline once. ``run()`` blocks; ``start()`` runs it in a thread/greenlet.

    ``t0`` is the ``time.monotonic()`` the offsets count from (the test start, or the start of
    the fault stage); by default the moment ``run()`` begins. ``stop()`` ends it early, from
    any thread or greenlet, and the run still heals before it returns.
    """

    def __init__(
        self,
        timeline: Timeline,
        descriptor: Mapping[str, Any],
        *,
        backend: str | BackendChoice | None = None,
        network: NetworkBackend | None = None,
        journal: Journal | None = None,
        t0: float | None = None,
    ) -> None:
        self.timeline = timeline
        self.control = ControlClient(descriptor)
        unknown = sorted(set(timeline.nodes) - set(self.control.nodes))
        if unknown:
            raise ValueError(f"timeline names nodes the cluster does not have: {unknown}")
        if network is None:
            network, reason = select_backend(backend or timeline.backend, descriptor, self.control)
        else:
            reason = f"{network.name}: given by the caller"
        self.network = network
        self.backend_reason = reason
        self.ctx = ClusterContext(self.control, network, self._heal_touching)
        self.kinds = {name: cls(self.ctx) for name, cls in REGISTRY.items()}
        self.events = Events()
        self.journal = journal if journal is not None else Journal()
        self.t0 = t0
        self.status = IDLE
        self.errors: list[str] = []
        self.result: RunResult | None = None
        self._stop = threading.Event()
        self._stop_status = ABORTED
        self._thread: threading.Thread | None = None
        self._counts = {OK: 0, ERROR: 0}

    # -- control -------------------------------------------------------------------------
    def start(self) -> Runner:
        """Run in the background (a greenlet when gevent has patched threading)."""
        self._thread = threading.Thread(target=self._run_logged, name="faults-runner", daemon=True)
        self._thread.start()
        return self

    def stop(self, status: str = ABORTED, *, wait: float | None = None) -> None:
        """End early: the step in progress finishes, then everything active is healed."""
        self._stop_status = status
        self._stop.set()
        if wait is not None:
            self.join(wait)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a background run; True once it has finished (healing included)."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return self.result is not None

    def offset(self) -> float:
        """Seconds since t0, as the journal records them."""
        return time.monotonic() - (self.t0 if self.t0 is not None else time.monotonic())

    @property
    def active(self) -> list[Step]:
        """The faults started and not yet healed, in start order."""
        steps = [s for kind in self.kinds.values() for s in kind.active.values()]
        return sorted(steps, key=lambda s: (s.offset_s, s.index))

    # -- by hand (the web UI's Cluster page) -------------------------------------------------
    def apply(self, kind: str, target: str, *, fault_id: str = MANUAL) -> dict[str, Any]:
        """Start one fault on one node now, outside the timeline: journaled and hooked like a
        scheduled step, with the parameters of the kind's button (a partition isolates
        ``target``). ValueError for a kind that is not offered by hand, or an unknown node."""
        if kind not in REGISTRY or kind_facts(kind).manual is None:
            offered = ", ".join(f.name for f in manual_kinds())
            raise ValueError(f"unknown manual fault {kind!r}; one of {offered}")
        if target not in self.control.nodes:
            raise ValueError(f"unknown node {target!r}")
        params = REGISTRY[kind].manual_params(target, list(self.control.nodes))
        step = Step(self.offset(), fault_id, kind, START, target, (target,), params)
        return self._execute(step)

    def heal_now(self, node: str | None = None) -> list[str]:
        """Heal the active faults aimed at ``node`` (all when None), now; the keys healed."""
        steps = [s for s in self.active if node is None or node in s.nodes]
        return self._heal(steps, "healed by hand")

    # -- the run -------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Execute the timeline, then heal. Returns the result; Ctrl-C is re-raised after it."""
        if self.status != IDLE:
            raise RuntimeError("a Runner runs once; make a new one")
        self.status = RUNNING
        if self.t0 is None:
            self.t0 = time.monotonic()
        started = time.time()
        status = FAILED
        try:
            self.journal.write(
                {
                    "record": PLAN,
                    "wall": round(started, 6),
                    "offset": round(self.offset(), 6),
                    "backend": self.network.name,
                    "backend_reason": self.backend_reason,
                    "timeline": self.timeline.to_dict(),
                }
            )
            for step in self.timeline.steps:
                if self._wait_until(step.offset_s):
                    break
                self._execute(step)
            status = self._stop_status if self._stop.is_set() else COMPLETED
        except KeyboardInterrupt:
            status = INTERRUPTED
            raise
        except BaseException as exc:  # GreenletExit included: a killed run still heals
            status = ABORTED if type(exc).__name__ == "GreenletExit" else FAILED
            self.errors.append(f"runner: {exc!r}")
            raise
        finally:
            self._finish(status, started)
        return self.result

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:
            log.exception("fault run failed")

    def _wait_until(self, offset_s: float) -> bool:
        """Sleep until ``offset_s``; True if stop() came first."""
        remaining = self.t0 + offset_s - time.monotonic()
        if remaining > 0:
            return self._stop.wait(remaining)
        return self._stop.is_set()

    def _execute(self, step: Step, reason: str | None = None) -> dict[str, Any]:
        """Journal, act, journal the outcome, fire the hooks: the one path every step takes."""
        kind = self.kinds[step.kind]
        begin = step_record(step, offset=self.offset())
        self.journal.write(begin)
        self.events.step_started.fire(step=step, record=begin)
        clock = time.monotonic()
        outcome, error, detail = ERROR, "interrupted", {}
        try:
            detail = kind.start(step) if step.phase == START else kind.heal(step)
            outcome, error = OK, None
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            self.errors.append(step_error(step, error))
            log.warning("fault step %s %s failed: %s", step.key, step.phase, error)
        finally:
            detail = dict(detail)
            late = begin["offset"] - step.offset_s
            if reason:
                detail["reason"] = reason
            elif late > LATE_NOTE_S:
                detail["late_s"] = round(late, 3)
            done = dict(
                begin,
                record=STEP,
                outcome=outcome,
                error=error,
                duration_s=round(time.monotonic() - clock, 6),
                wall_end=round(time.time(), 6),
                detail=detail,
            )
            self._counts[outcome] += 1
            self.journal.write(done)
            self.events.step_finished.fire(step=step, record=done)
            if not kind.instant:
                started = step.phase == START
                hook = self.events.fault_started if started else self.events.fault_healed
                hook.fire(step=step, record=done)
        return done

    def _heal(self, steps: Sequence[Step], reason: str) -> list[str]:
        healed = []
        for started in reversed(steps):
            record = self._execute(replace(started, phase=END, offset_s=self.offset()), reason)
            if record["outcome"] == OK:
                healed.append(started.key)
        return healed

    def _heal_touching(self, nodes: Sequence[str], by: str) -> list[str]:
        """For the heal kind: heal every active fault that touches one of ``nodes``."""
        wanted = set(nodes)
        return self._heal([s for s in self.active if touched(s) & wanted], f"healed by {by}")

    def _finish(self, status: str, started: float) -> None:
        try:
            self._heal(self.active, f"{FINAL_HEAL} ({status})")
        finally:
            try:
                self.network.close()
            except Exception as exc:
                self.errors.append(f"closing the {self.network.name} backend: {exc}")
            if status == COMPLETED and self.errors:
                status = FAILED
            self.status = status
            self.result = RunResult(
                status=status,
                steps_ok=self._counts[OK],
                steps_failed=self._counts[ERROR],
                errors=list(self.errors),
                backend=self.network.name,
                backend_reason=self.backend_reason,
                started_wall=started,
                ended_wall=time.time(),
            )
            self.journal.write(
                {"record": RUN, "wall": round(time.time(), 6), "offset": round(self.offset(), 6)}
                | self.result.to_dict()
            )
            self.events.run_finished.fire(result=self.result)
