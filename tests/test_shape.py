"""The stage walker (locustfiles/shape.py) against the initial verification's timing, in a
Python of its own (importing the shape imports Locust, which monkey-patches the process)."""

from __future__ import annotations

import subprocess
import sys

from tests.locust_run import ROOT

#: 100 nodes take longer to verify than the idle stage lasts: had the clock run on, the next
#: tick would change the user count and Locust would restart its spawner (and test_start, the
#: verification with it): every stage skipped, the verification run again and again.
HELD = """
from types import SimpleNamespace
from locustfiles.runstate import RunState
from locustfiles.shape import Phase4Shape, build_stages
from reports.thresholds import Thresholds

state = RunState({"nodes": [{"name": "n1", "http": "http://127.0.0.1:1"}]})
shape = Phase4Shape()
shape.configure(build_stages((5, 10), 6, 10, 0, (), 6, idle_s=5), None, Thresholds())
shape.runner = SimpleNamespace(environment=SimpleNamespace(peerload=state))
shape.reset_time()
assert shape.tick() == (0, 10)  # the idle stage: Locust fires test_start, which verifies
state.verifying = True
shape.start_time -= 60  # a minute of verification
assert shape.tick() == (0, 10) and shape.tick() == (0, 10)
state.verifying = False
assert shape.tick() == (0, 10)  # the idle stage again, from its start
assert shape.get_run_time() < 1 and shape.current_window["name"] == "idle"
shape.start_time -= 5.5
assert shape.tick() == (5, 10)
assert [w["name"] for w in state.windows] == ["idle"], state.windows  # the held one dropped
print("ok")
"""


def test_the_stages_wait_for_a_long_initial_verification_then_start_from_zero():
    done = subprocess.run(
        [sys.executable, "-c", HELD], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
