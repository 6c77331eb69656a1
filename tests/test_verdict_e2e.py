"""End to end: a real defect in a real node is judged NOT READY by the criterion that fits.

Each test patches a temporary copy of the tree with one of ``bench/mutations.py``'s defects
(never the working tree) and runs the real Locust suite on it with a shortened quick profile:
the same path a user takes, the same verdict. The full table of defects is the benchmark
``python bench/mutations.py``; here one correctness failure and one detection failure, each on
the shortest run that exercises it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import mutations

PLANS = mutations.REPO / "tests" / "plans"
#: The quick profile, shorter: two short levels, no stress, and only the faults a defect needs.
LEVELS = ("--levels", "5,25", "--step-time", "3", "--stress-levels", "")
NO_FAULTS = (*LEVELS, "--fault-plan", "none")
ONE_CRASH = (*LEVELS, "--fault-plan", str(PLANS / "crash_one.toml"))
TIMEOUT_S = 240.0


def failed_rows(row: dict) -> dict[str, str]:
    """Every failed criterion of the run (name -> detail), from its results JSON."""
    results = Path(row["tmp"]) / "results" / mutations.RESULTS_JSON
    rows = json.loads(results.read_text())["criteria"]
    return {r["name"]: r["detail"] for r in rows if r["verdict"] == "fail"}


@pytest.mark.integration
@pytest.mark.load
@pytest.mark.parametrize(
    ("defect", "args", "caught_by"),
    [
        # Wrong bytes reach users. The verification before the load downloads a file from each
        # node too, and catches it there when a corrupted chunk falls in one of those (the
        # defect flips ~5 % of chunks at random): either way a correctness row, on sha256.
        ("corrupt-chunk", NO_FAULTS, {"corrupt_data": "", "initial_verification": "wrong sha256"}),
        # A crashed peer never marked dead.
        ("detector-off", ONE_CRASH, {"failure_detection": "never detected"}),
    ],
)
def test_a_real_defect_is_judged_not_ready_by_the_fitting_criterion(defect, args, caught_by):
    row = mutations.run_one(mutations.BY_NAME[defect], TIMEOUT_S, keep=True, locust_args=args)
    try:
        assert row["problems"] == [], row
        assert row["label"] == "NOT READY" and row["exit_code"] == 1, row
        failed = failed_rows(row)
        assert any(name in failed and says in failed[name] for name, says in caught_by.items()), (
            failed
        )
    finally:
        shutil.rmtree(row["tmp"], ignore_errors=True)
