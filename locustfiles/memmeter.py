"""A node's memory and handles, read by the monitor at every row: RSS, USS, open file
descriptors, threads (the evidence ``reports.resources`` judges leaks by).

USS (memory only this process holds: what it would give back if it exited) is the figure that
grows when a node leaks; RSS also counts shared libraries and pages shared with its parent.
psutil reads USS from ``/proc/PID/smaps``: about 0.35 ms a node (RSS, FDs, threads together
about 0.03 ms; measured on a node of ours, 2 cores). Up to ``USS_NODES_PER_ROW`` nodes it is
read at every row; in a larger network each node's USS is read every few rows, in turn, so the
monitor's row stays within a few milliseconds whatever the size.
"""

from __future__ import annotations

import math

import psutil

#: USS readings per monitor row at most (about 0.35 ms each).
USS_NODES_PER_ROW = 10
MB = 2**20


class ProcessMemory:
    """Reads one process's memory and handles; USS at every row or in turn (module doc)."""

    KEYS = ("uss_mb", "fds", "threads")

    def __init__(self, nodes: int) -> None:
        #: Each node's USS is read every ``every`` rows.
        self.every = max(1, math.ceil(nodes / USS_NODES_PER_ROW))

    def read(self, proc: psutil.Process, row: int) -> dict[str, float | int | None]:
        """``rss_mb``, ``uss_mb`` (None on the rows this process's USS is not due), ``fds``,
        ``threads``; psutil.Error when the process is gone."""
        with proc.oneshot():
            rss = proc.memory_info().rss
            fds = proc.num_fds() if hasattr(proc, "num_fds") else None
            threads = proc.num_threads()
        uss = None
        if (row + proc.pid) % self.every == 0:
            try:
                uss = proc.memory_full_info().uss
            except psutil.AccessDenied:
                uss = None  # another user's process: RSS only
        return {
            "rss_mb": rss / MB,
            "uss_mb": None if uss is None else round(uss / MB, 1),
            "fds": fds,
            "threads": threads,
        }
