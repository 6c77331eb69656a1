"""End to end: a real defect in a real node is judged NOT READY by the criterion that fits.

The test patches a temporary copy of the tree with two of ``bench/mutations.py``'s defects
(never the working tree) and runs the real Locust suite on it with a shortened quick profile:
the same path a user takes, the same verdict. The full table of defects is the benchmark
``python bench/mutations.py``; here one correctness failure and one detection failure.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bench import mutations

#: The quick profile, shorter: two levels, the quick plan's faults back to back, no stress.
PLAN = mutations.REPO / "tests" / "plans" / "short.toml"
SHORT = ("--levels", "5,25", "--step-time", "3", "--stress-levels", "", "--fault-plan", str(PLAN))
TIMEOUT_S = 240.0


@pytest.mark.integration
def test_real_defects_are_judged_not_ready_each_by_the_fitting_criterion():
    # Two defects in one node, in different parts of it, so one run proves both (the suite
    # stays short): one is wrong data, the other a failure nobody notices.
    corrupt, deaf = mutations.BY_NAME["corrupt-chunk"], mutations.BY_NAME["detector-off"]
    row = mutations.run_one(corrupt, TIMEOUT_S, keep=True, locust_args=SHORT, also=(deaf,))
    try:
        assert row["problems"] == [], row
        assert row["label"] == "NOT READY" and row["exit_code"] == 1, row
        # Correctness decides the reason; the detection failure is in the table all the same.
        assert row["failed"][0].startswith("corrupt_data @"), row["failed"]
        results = Path(row["tmp"]) / "results" / mutations.RESULTS_JSON
        rows = json.loads(results.read_text())["criteria"]
        failed = {r["name"] for r in rows if r["verdict"] == "fail"}
        assert {"corrupt_data", "failure_detection"} <= failed, failed
    finally:
        shutil.rmtree(row["tmp"], ignore_errors=True)
