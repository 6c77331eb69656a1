"""glibc heap tuning for a process that streams 1 MiB chunks.

By default glibc serves 1 MiB buffers with mmap and unmaps them on free, so every chunk of a
download is page-faulted in again: measured in bench/node_bench.py, downloads ran at about half
speed and twice the CPU. Keeping them in the heap fixes that; trimming the heap once the last
transfer ends gives the memory back, so an idle node stays small.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_ARENA_MAX = -1, -3, -8  # mallopt parameters (malloc.h)
ARENA_MAX = 2
MMAP_THRESHOLD = 4 * 1024 * 1024
TRIM_THRESHOLD = 32 * 1024 * 1024
TRIM_DELAY_S = 0.5


def _libc():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only
        libc.malloc_trim  # noqa: B018
        return libc
    except (OSError, AttributeError):
        return None  # not glibc: nothing to tune


LIBC = _libc()


@functools.cache  # once per process, however many clients call it
def tune() -> None:
    """Keep transfer-sized buffers in the heap, in at most two arenas (call once, at start).

    With glibc's default of one arena per thread (up to 8 per core), the threads that move
    chunks (the gRPC loop, gRPC core's pollers, pulls) each kept an arena that trimming could
    not shrink: after 8-32 concurrent downloads an idle node stayed at 66 MB (83 MB with four
    arenas); with two it went back to 52 MB. One arena slowed single downloads; two did not
    (A/B runs in the issue notes)."""
    if LIBC is not None:
        LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        LIBC.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        LIBC.mallopt(M_ARENA_MAX, ARENA_MAX)


class Transfers:
    """Counts transfers in flight; a moment after the last one ends, the heap is trimmed.

    The trim runs on a timer thread of its own: it takes milliseconds, and transfers are served
    by one event loop that must not stall; a burst of downloads is trimmed once, after it."""

    def __init__(self) -> None:
        self._active = 0
        self._trim_pending = False
        self._lock = threading.Lock()

    def __enter__(self) -> Transfers:
        with self._lock:
            self._active += 1
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._active -= 1
            schedule = self._active == 0 and not self._trim_pending and LIBC is not None
            self._trim_pending = self._trim_pending or schedule
        if schedule:
            timer = threading.Timer(TRIM_DELAY_S, self._trim_if_idle)
            timer.daemon = True
            timer.start()

    def _trim_if_idle(self) -> None:
        with self._lock:
            self._trim_pending = False
            idle = self._active == 0
        if idle:
            LIBC.malloc_trim(0)
