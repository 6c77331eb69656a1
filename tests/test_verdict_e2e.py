"""End to end: a real defect in a real node is judged NOT READY by the criterion that fits.

Each test patches a temporary copy of the tree with one of ``bench/mutations.py``'s defects
(never the working tree) and runs the real Locust suite on it with a shortened quick profile:
the same path a user takes, the same verdict. The full table of defects is the benchmark
``python bench/mutations.py``; here one correctness failure and one detection failure.
"""

from __future__ import annotations

import pytest

from bench import mutations

#: The quick profile, shorter: two levels, the quick fault plan, one stress step.
SHORT = ("--levels", "5,25", "--step-time", "4", "--stress-levels", "40")
TIMEOUT_S = 240.0


@pytest.mark.integration
@pytest.mark.parametrize(
    ("defect", "criterion"),
    [
        ("corrupt-chunk", "corrupt_data"),  # correctness: wrong bytes reached users
        ("detector-off", "failure_detection"),  # a crashed peer never marked dead
    ],
)
def test_a_real_defect_is_judged_not_ready_by_the_fitting_criterion(defect, criterion):
    row = mutations.run_one(mutations.BY_NAME[defect], TIMEOUT_S, keep=False, locust_args=SHORT)
    assert row["problems"] == [], row
    assert row["label"] == "NOT READY" and row["exit_code"] == 1, row
    assert any(f.startswith(f"{criterion} @") for f in row["failed"]), row["failed"]
