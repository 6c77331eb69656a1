"""Loopback address blocks: every launcher on a machine gets node addresses no other one uses.

A node with its own address binds ``127.0.B.(11+i)``. Partitions cut links by address (nftables
rules, faults/backends/netns.py), so two networks running side by side on one machine (two CI
jobs, a test suite run in parallel, ``networks.cluster`` in one terminal and a Locust run in
another) must never share an address, or cutting a link in one would cut the other. Each
launcher claims a block ``B`` by binding a Linux *abstract* unix socket named for it: one name
space per network namespace, exactly like the addresses it guards, whatever ``$TMPDIR`` or user;
no file to clean, and the kernel frees the name when the process ends, however it ends.
"""

from __future__ import annotations

import socket
import sys

NAME = "peerload-loopback"
BLOCKS = 256  # 127.0.0.x … 127.0.255.x: all of 127.0/16 is loopback on Linux
FIRST_HOST, LAST_HOST = 11, 253  # node i binds 127.0.B.(FIRST_HOST + i)
#: The most nodes one block holds.
HOSTS = LAST_HOST - FIRST_HOST + 1


class Block:
    """One claimed ``127.0.B.`` prefix, held until ``release`` (or the process's end)."""

    def __init__(self, index: int, held: socket.socket | None) -> None:
        self.index = index
        self.prefix = f"127.0.{index}."
        self._held = held

    def host(self, last: int) -> str:
        return f"{self.prefix}{last}"

    def release(self) -> None:
        if self._held is not None:
            self._held.close()  # frees the name
            self._held = None


def claim(name: str = NAME) -> Block:
    """The lowest block no live process holds. RuntimeError when all are taken.

    Elsewhere than Linux there is no nftables backend to cut links, and 127.0.0.1 is the only
    loopback address unless aliases are added: block 0, unclaimed."""
    if not sys.platform.startswith("linux"):
        return Block(0, None)
    for index in range(BLOCKS):
        held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            held.bind(f"\0{name}-{index}")
        except OSError:  # EADDRINUSE: another live process holds this block
            held.close()
            continue
        return Block(index, held)
    raise RuntimeError(f"all {BLOCKS} loopback blocks (127.0.0-255.x) are in use on this machine")
