"""The soak profile: steady moderate load with the default faults for as long as ``-t`` allows
(20 min without), the profile that catches slow leaks. Its stages, never a run of it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from locustfiles import options as opts
from tests.locust_run import ROOT

LEVELS_S = len(opts.LEVELS) * opts.SOAK.level_s
#: The stages a soak of 15 min builds, in a Python of its own (importing the shape imports
#: Locust, which monkey-patches the process it is imported in).
STAGES = """
import json
from locustfiles import options as opts
from locustfiles.shape import build_stages
p = opts.profile("soak")
fault_s = opts.fault_stage_s(p, 60.0, 900.0, len(opts.LEVELS) * p.level_s)
stages = build_stages(opts.LEVELS, p.level_s, p.fault_users, fault_s, p.stress_levels, p.stress_s,
                      p.stress_max_users)
print(json.dumps([[s.name, s.kind, s.users, s.duration] for s in stages]))
"""


def test_the_soak_fills_the_run_time_with_its_fault_stage():
    soak = opts.profile("soak")
    assert soak.default_plan == "phase4" and soak.fault_users == 10
    stage = opts.fault_stage_s(soak, 60.0, 900.0, LEVELS_S)
    rest = opts.IDLE_S + LEVELS_S + soak.stress_s * len(soak.stress_levels)
    assert stage + rest == 900.0 - opts.SOAK_MARGIN_S  # ends its stages just before -t
    assert opts.fault_stage_s(soak, 60.0, None, LEVELS_S) == 20 * 60.0  # no -t: 20 min
    assert opts.fault_stage_s(soak, 1000.0, 900.0, LEVELS_S) == 1000.0  # never under the plan


def test_other_profiles_keep_the_plans_length():
    for name in ("quick", "full"):
        assert opts.fault_stage_s(opts.profile(name), 29.0, 900.0, LEVELS_S) == 29.0


@pytest.mark.integration  # a Python of its own with Locust in it
def test_the_soak_stages_are_idle_levels_a_long_steady_fault_stage_and_one_stress_step():
    done = subprocess.run(
        [sys.executable, "-c", STAGES], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    stages = json.loads(done.stdout)
    kinds = ["idle", "level", "level", "level", "level", "faults", "stress"]
    assert [s[1] for s in stages] == kinds
    assert stages[0][2] == 0 and stages[5][2] == 10 and stages[5][3] > 10 * 60
    assert sum(s[3] for s in stages) == 900.0 - opts.SOAK_MARGIN_S
