"""Loopback address blocks: every launcher on a machine gets node addresses no other one uses.

A node with its own address binds ``127.0.B.(11+i)``. Partitions cut links by address (nftables
rules, faults/backends/netns.py), so two networks running side by side on one machine (two CI
jobs, a test suite run in parallel, ``node.cluster`` in one terminal and a Locust run in another)
must never share an address, or cutting a link in one would cut the other. Each launcher
claims a block ``B`` by holding an exclusive ``flock`` on a file named for it; the kernel
releases the lock when the process ends however it ends, so nothing stale is ever left to clean.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "peerload-loopback"
BLOCKS = 256  # 127.0.0.x … 127.0.255.x: all of 127.0/16 is loopback on Linux and macOS


class Block:
    """One claimed ``127.0.B.`` prefix, held until ``release`` (or the process's end)."""

    def __init__(self, index: int, fd: int) -> None:
        self.index = index
        self.prefix = f"127.0.{index}."
        self._fd: int | None = fd

    def host(self, last: int) -> str:
        return f"{self.prefix}{last}"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the lock
            self._fd = None


def claim(lock_dir: Path = LOCK_DIR) -> Block:
    """The lowest block no live process holds. RuntimeError when all are taken."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock_dir.chmod(0o1777)  # shared by every user of the machine, like /tmp
    except OSError:
        pass  # made by another user: they made it shared
    for index in range(BLOCKS):
        try:
            fd = os.open(lock_dir / f"{index}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            continue  # another user's file we may not open: that block is theirs
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return Block(index, fd)
    raise RuntimeError(f"all {BLOCKS} loopback blocks (127.0.0-255.x) are in use on this machine")
