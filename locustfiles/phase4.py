"""Phase 4 evaluation of the peer-to-peer network: ``locust -f locustfiles/phase4.py``.

Users search (REST), index (REST) and download (gRPC streaming, and node-to-node); the shape
steps 5 -> 10 -> 20 -> 25 users, runs the fault stage, then ramps stress. With no ``--cluster``
an embedded cluster is started for the run. Options: ``locust -f locustfiles/phase4.py --help``.
"""

import os
import sys
from pathlib import Path

# The embedded cluster restarts crashed nodes with fork+exec while gRPC threads run; gRPC's
# fork handlers would only log that they skipped. Channels are made after Locust's own forks.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a plain checkout

from locustfiles import lifecycle, options  # noqa: E402,F401  (event listeners)
from locustfiles.shape import Phase4Shape  # noqa: E402,F401
from locustfiles.users import DownloadUser, IndexUser, SearchUser  # noqa: E402,F401
