"""The Phase 4 load shape: levels 5 -> 10 -> 20 -> 25, a fault stage under steady load, then a
stress ramp that stops at the run time or when the network breaks.

Locust does not enforce ``--run-time`` when a shape is used, so the shape ends itself there.
Every stage becomes a window (start, end, users) that the verdict is judged over.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from locust import LoadTestShape

from .samples import REPORT_LAG_S
from .stats import summarize

STRESS_MIN_SUCCESS = 0.70


@dataclass(frozen=True)
class Stage:
    name: str
    kind: str  # level | faults | stress
    users: int
    duration: float


def build_stages(levels, level_s, fault_users, fault_s, stress_levels, stress_s) -> list[Stage]:
    stages = [Stage(f"level-{u}", "level", u, level_s) for u in levels]
    if fault_s > 0:
        stages.append(Stage("faults", "faults", fault_users, fault_s))
    stages += [Stage(f"stress-{u}", "stress", u, stress_s) for u in stress_levels]
    return stages


class Phase4Shape(LoadTestShape):
    """Walks the stages; records windows; finds the stress breaking point."""

    stages: list[Stage] = []
    run_time_limit: float | None = None
    stress_p95_ms: float = 2000.0

    def __init__(self) -> None:
        super().__init__()
        self._index = -1
        self._window: dict | None = None

    def configure(self, stages: list[Stage], run_time_limit: float | None, p95_ms: float) -> None:
        self.stages, self.run_time_limit, self.stress_p95_ms = stages, run_time_limit, p95_ms
        self.restart()

    def restart(self) -> None:
        """Forget the previous run (the web UI can run several; Locust only resets the time)."""
        self._index, self._window = -1, None

    def stop(self) -> None:
        """The run stopped (Stop pressed, or it ended): close the stage running now."""
        if self._window is not None:
            self._finish("stopped")

    @property
    def current_window(self) -> dict | None:
        """The window of the stage running now (its end still open)."""
        return self._window

    @property
    def state(self):
        return getattr(self.runner.environment, "peerload", None)

    def tick(self):
        run_time = self.get_run_time()
        if self.run_time_limit and run_time >= self.run_time_limit:
            return self._finish("run time reached")
        elapsed, index = 0.0, None
        for i, stage in enumerate(self.stages):
            elapsed += stage.duration
            if run_time < elapsed:
                index = i
                break
        if index is None:
            return self._finish("all stages done")
        if index != self._index:
            if not self._enter(index):
                return None
        stage = self.stages[index]
        return stage.users, max(stage.users, 10)

    def _enter(self, index: int) -> bool:
        """Close the current window, judge a finished stress stage, open the next window."""
        previous = self._close_window()
        if previous and previous["kind"] == "stress" and not self._stress_held(previous):
            return bool(self._finish(f"network broke at {previous['users']} users"))
        self._index = index
        stage = self.stages[index]
        self._window = {
            "name": stage.name,
            "kind": stage.kind,
            "start": time.time(),
            "end": None,
            "users": stage.users,
            "fault_id": None,
            "fault_kind": None,
            "target": None,
        }
        if stage.kind == "faults" and self.state is not None:
            self.state.fault_stage_started(self._window["start"])
        return True

    def _close_window(self) -> dict | None:
        window, self._window = self._window, None
        if window is not None and self.state is not None:
            window["end"] = time.time()
            self.state.windows.append(window)
        return window

    def _stress_held(self, window: dict) -> bool:
        # Workers ship samples every few seconds: judge distributed runs on what has arrived.
        end = window["end"] - (REPORT_LAG_S if self.state.distributed else 0.0)
        samples = [s for s in self.state.samples if window["start"] <= s["t"] < end]
        summary = summarize(samples, end - window["start"])
        held = (
            summary["requests"] > 0
            and summary["success_rate"] >= STRESS_MIN_SUCCESS
            and (summary["p95_ms"] is None or summary["p95_ms"] <= self.stress_p95_ms)
        )
        if held:
            self.state.highest_held = window["users"]
        elif self.state.broke_at is None:
            self.state.broke_at = window["users"]
        return held

    def _finish(self, reason: str):
        if self._window is not None:
            window = self._close_window()
            if window["kind"] == "stress":
                self._stress_held(window)
        if self.state is not None and self.state.stopped_reason is None:
            self.state.stopped_reason = reason
        return None
