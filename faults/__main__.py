"""``python -m faults PLAN ...`` is the same as ``python -m faults.schedule PLAN ...``."""

import sys

from .schedule import main

sys.exit(main())
