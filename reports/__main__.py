"""``python -m reports RESULTS_DIR [--thresholds FILE] [--threshold NAME=VALUE,...] [--baseline OLD
[--baseline-any-setup]]``: re-judge and re-render every report from the JSON.

Exit codes: the verdict's (0 READY, 1 NOT READY, 3 REGRESSION, 4 INCONCLUSIVE); 2 when the
directory, the thresholds or the baseline could not be used, or the baseline is of another setup
(one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from locustfiles.options import threshold_overrides
from reports import rerender
from reports.regression import ANY_SETUP
from reports.results import ResultsError

PROG = "python -m reports"
EXIT_UNUSABLE = 2


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, re-render, print the verdict line; return the exit code."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Re-render the Phase 4 reports from a results directory.",
        allow_abbrev=False,  # --threshold must never be taken for --thresholds
    )
    parser.add_argument("results_dir", type=Path, help="directory holding the JSON results")
    parser.add_argument(
        "--thresholds", type=Path, help="TOML or JSON file overriding the stored thresholds"
    )
    parser.add_argument(
        "--threshold",
        default="",
        help="threshold overrides, e.g. success_pct=90,p95_ms=800 (after --thresholds)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a previous run's results directory to compare with (REGRESSION beyond tolerance)",
    )
    parser.add_argument(
        ANY_SETUP,
        action="store_true",
        help="compare with a baseline of another setup anyway (every regression row says so)",
    )
    args = parser.parse_args(argv)
    try:
        verdict = rerender(
            args.results_dir,
            args.thresholds,
            args.baseline,
            any_setup=args.baseline_any_setup,
            overrides=threshold_overrides(args.threshold),
        )
    except (ResultsError, ValueError, OSError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(verdict.reason)
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
