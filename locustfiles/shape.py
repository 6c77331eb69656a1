"""The Phase 4 load shape: a few idle seconds (the nodes' idle CPU), levels 5 -> 10 -> 20 -> 25,
a fault stage under steady load, then a stress ramp that doubles the users until a step breaks,
the ramp's cap, or the run time.

Locust does not enforce ``--run-time`` when a shape is used, so the shape ends itself there.
Every stage becomes a window (start, end, users) that the verdict is judged over. The second
half of each level is its *burst*: users skip their think time, so a level of N users really has
about N operations in flight (``simultaneous_ops`` judges that). A stress step holds when its
success and p95 meet the same thresholds the report judges (``reports.thresholds``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from locust import LoadTestShape

from reports import stress
from reports.samples import between, requests
from reports.thresholds import Thresholds

from .options import IDLE_S
from .samples import REPORT_LAG_S

#: Share of a level spent in its burst (the last part of the step).
BURST_SHARE = 0.5
STRESS_GROWTH = 2  # the ramp doubles the users after the listed steps
MIN_SPAWN_RATE = 10  # users started per second, at least (a stage's users, if more)
RUN_TIME_REACHED, STOPPED, ALL_DONE = "run time reached", "stopped", "all stages done"


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str  # idle | level | faults | stress
    users: int
    duration: float


def build_stages(
    levels,
    level_s,
    fault_users,
    fault_s,
    stress_levels,
    stress_s,
    stress_max_users: int = 0,
    idle_s: float = IDLE_S,
) -> list[Stage]:
    """The run's stages: the idle window, the levels, the fault stage, the stress ramp (which
    goes on from its last listed step, doubling, up to ``stress_max_users``)."""
    stages = [Stage("idle", "idle", 0, idle_s)] if idle_s > 0 else []
    stages += [Stage(f"level-{u}", "level", u, level_s) for u in levels]
    if fault_s > 0:
        stages.append(Stage("faults", "faults", fault_users, fault_s))
    ramp = list(stress_levels)
    while ramp and ramp[-1] * STRESS_GROWTH <= stress_max_users:
        ramp.append(ramp[-1] * STRESS_GROWTH)
    stages += [Stage(f"stress-{u}", "stress", u, stress_s) for u in ramp]
    return stages


class Phase4Shape(LoadTestShape):
    """Walks the stages; records windows; finds the stress breaking point."""

    stages: list[Stage] = []
    run_time_limit: float | None = None
    thresholds: Thresholds = Thresholds()

    def __init__(self) -> None:
        super().__init__()
        self._index = -1
        self._window: dict | None = None
        self._last: tuple[int, int] | None = None  # what the last tick returned
        self._held = False  # ticks were held while the initial verification ran

    def configure(
        self, stages: list[Stage], run_time_limit: float | None, thresholds: Thresholds
    ) -> None:
        self.stages, self.run_time_limit, self.thresholds = stages, run_time_limit, thresholds
        self.restart()

    def restart(self) -> None:
        """Forget the previous run (the web UI can run several; Locust only resets the time)."""
        self._index, self._window = -1, None

    def stop(self) -> None:
        """The run stopped (Stop pressed, or it ended): close the stage running now."""
        if self._window is not None:
            self._finish(STOPPED)

    @property
    def current_window(self) -> dict | None:
        """The window of the stage running now (its end still open)."""
        return self._window

    @property
    def state(self):
        return getattr(self.runner.environment, "peerload", None)

    def tick(self):
        if self.state is not None and self.state.verifying:
            # Locust restarts its spawner, test_start and so the verification with it, whenever
            # a tick changes the user count: hold still until the verification is over (100
            # nodes take longer than the idle stage), then start the stages' clock from there.
            self._held = True
            return self._last or (0, MIN_SPAWN_RATE)
        if self._held:
            self._held = False
            self.reset_time()
            self.restart()
        self._last = self._tick()
        return self._last

    def _tick(self):
        run_time = self.get_run_time()
        if self.run_time_limit and run_time >= self.run_time_limit:
            return self._finish(RUN_TIME_REACHED)
        elapsed, index = 0.0, None
        for i, stage in enumerate(self.stages):
            elapsed += stage.duration
            if run_time < elapsed:
                index = i
                break
        if index is None:
            return self._finish(ALL_DONE)
        if index != self._index:
            if not self._enter(index):
                return None
        stage = self.stages[index]
        self._set_burst(stage.kind == "level" and time.time() >= self._window["burst_start"])
        return stage.users, max(stage.users, MIN_SPAWN_RATE)

    def _set_burst(self, on: bool) -> None:
        state = self.state
        if state is not None and state.burst != on:
            state.burst = on
            for listener in state.burst_listeners:
                listener()

    def _enter(self, index: int) -> bool:
        """Close the current window, judge a finished stress stage, open the next window."""
        previous = self._close_window()
        if previous and previous["kind"] == "stress" and not self._stress_held(previous):
            return bool(self._finish(f"network broke at {previous['users']} users"))
        self._index = index
        stage = self.stages[index]
        start = time.time()
        self._window = {
            "name": stage.name,
            "kind": stage.kind,
            "start": start,
            "end": None,
            "users": stage.users,
            "fault_id": None,
            "fault_kind": None,
            "target": None,
        }
        if stage.kind == "level":
            self._window["burst_start"] = start + stage.duration * (1 - BURST_SHARE)
        if stage.kind == "faults" and self.state is not None:
            self.state.fault_stage_started(start)
        return True

    def _close_window(self) -> dict | None:
        window, self._window = self._window, None
        if window is not None and self.state is not None:
            window["end"] = time.time()
            self.state.windows.append(window)
        return window

    def _stress_held(self, window: dict) -> bool:
        """The step against the report's own rule (``reports.stress``); records the breaking
        point as the ramp saw it (the report judges the complete samples again)."""
        # Workers ship samples every few seconds: judge distributed runs on what has arrived.
        end = window["end"] - (REPORT_LAG_S if self.state.distributed else 0.0)
        samples = requests(between(self.state.samples, window["start"], end))
        why = stress.why_broke(samples, self.thresholds)
        if not why:
            self.state.highest_held = window["users"]
        elif self.state.broke_at is None:
            self.state.broke_at = window["users"]
            self.state.broke_why = why + stress.generator_note(
                self.state.series, window, self.thresholds
            )
        return not why

    def _finish(self, reason: str):
        window = self._close_window() if self._window is not None else None
        if window is not None and window["kind"] == "stress":
            self._stress_held(window)
        state = self.state
        if state is not None and state.stopped_reason is None:
            state.stopped_reason = reason
            state.cut_short = self._cut_short(reason, window)
            if reason == ALL_DONE and state.broke_at is None and state.highest_held:
                state.broke_why = "the ramp's cap was reached without a break"
            elif reason == RUN_TIME_REACHED and state.broke_at is None and state.highest_held:
                state.broke_why = "the run time ended the ramp before a break"
        self._set_burst(False)
        return None

    def _cut_short(self, reason: str, window: dict | None) -> str | None:
        """Why the run ended before its stages gave their evidence, or None: stopped or out of
        time before the levels and the fault stage ran, or before a stress step completed."""
        if reason not in (RUN_TIME_REACHED, STOPPED):
            return None
        done = {w["name"] for w in self.state.windows if w is not window}
        missing = [s.name for s in self.stages if s.kind != "stress" and s.name not in done]
        stress = [s for s in self.stages if s.kind == "stress"]
        no_step = self.state.highest_held is None and self.state.broke_at is None
        if not missing and stress and no_step:
            missing = [stress[0].name]
        if not missing:
            return None
        during = f" during {window['name']}" if window is not None else ""
        return f"{reason}{during}; never completed: {', '.join(missing)}"
