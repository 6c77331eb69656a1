"""``python -m faults PLAN ...`` is the same as ``python -m faults.schedule PLAN ...``."""

import sys

from .cli import main

sys.exit(main())
