"""``python -m faults.schedule``: the documented name of the fault controller's command line,
which lives in ``faults/cli.py`` (kept so scripts and docs that run or import it still work)."""

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
