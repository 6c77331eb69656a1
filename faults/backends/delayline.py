"""A delay line in a node's namespace: every packet the node sends to its peers waits ``ms``.

This kernel has neither netem nor nftables' ``queue``, so a delay that does not need the
node's help is made in user space, the way a TUN-based WAN emulator does it. Run inside the
node's namespace (``ip netns exec NS python -m faults.backends.delayline --ms N``), it

- opens a TUN device (``pld0``) and routes the node's traffic to its peers (the subnet it reaches
  through its gateway) into it, through a policy rule that every *unmarked* packet meets first:
  TCP connections already open take the new route at once (a rule change invalidates their
  cached route), so a delay reaches links in flight, not only new ones;
- holds each packet ``ms`` milliseconds and sends it on, unchanged, through a raw socket whose
  packets carry a mark the rule lets by, out of the namespace's own interface: the host's
  nftables rules (partitions, loss, caps) still see them, so faults compose;
- leaves the gateway (clients on the host: Locust's users, the monitor) undelayed: only links
  between nodes are slowed, as the other link faults do.

It runs while its standard input is open: the backend holds the pipe, so a backend that dies,
even by SIGKILL, ends it; its TUN device goes with the process and the routes through it with
the device, so nothing of it outlives the process but an empty rule, which it removes itself
when it can. One line on stdout says it is ready (or why not, exit 2).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from proto.admin import MAX_LATENCY_MS  # the latency fault's limit, defined once

TUN_NAME = "pld0"
TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
MARK = 0x70D  # the delay line's own packets: the rule lets them by to the normal routes
TABLE = 7013  # the routing table the node's unmarked packets meet first
RULE_PREF = 90
SO_MARK = getattr(socket, "SO_MARK", 36)
MAX_PACKET = 65_535
IPV4_HEADER = 20
MAX_QUEUED = 20_000  # packets held at once: beyond it the line drops, as a full queue would
READ_BATCH = 256  # packets read from the TUN per wake-up, so sending is never starved
IP_TIMEOUT_S = 10.0
READY = "ready"
PROJECT_ROOT = Path(__file__).resolve().parents[2]  # where ``-m faults…`` imports from
HOW = (
    "a delay line in each node's namespace (TUN + policy route; no netem on this kernel): "
    "every packet it sends to its peers waits, one way"
)


class IpError(RuntimeError):
    """An ``ip`` command failed; the message carries its complaint."""


class DelayLineError(IpError):
    """The namespace could not be rerouted; the message says which step failed."""


def ip(*args: str, check: bool = True, error: type[IpError] = DelayLineError) -> str:
    """One ``ip`` command (iproute2), its stdout; ``error`` with its stderr when ``check`` and
    it fails (networks/netns.py runs its commands through this too)."""
    try:
        done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"ip {' '.join(args)}: {exc}") from None
    if check and done.returncode != 0:
        raise error(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout


def peer_route() -> dict:
    """The namespace's route to its peers: the one through a gateway (networks/netns.py makes
    ``SUBNET/24 via GATEWAY src ADDRESS``)."""
    routes = json.loads(ip("-j", "-4", "route", "show") or "[]")
    for route in routes:
        if route.get("gateway") and route.get("dst") not in (None, "default"):
            return route
    raise DelayLineError("no route through a gateway in this namespace (not a node's namespace?)")


def open_tun(name: str = TUN_NAME) -> int:
    """A TUN device that lives as long as the returned descriptor (non-blocking)."""
    fd = os.open(TUN_PATH, os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        raise DelayLineError(f"TUN device {name}: {exc}") from None
    return fd


def reroute(route: dict, name: str = TUN_NAME) -> None:
    """Unmarked packets to the peers go into the TUN; the gateway stays direct."""
    dev, gateway, src = route["dev"], route["gateway"], route.get("prefsrc")
    ip("link", "set", name, "up")
    ip("route", "replace", gateway, "dev", dev, "scope", "link", "table", str(TABLE))
    via_tun = ["route", "replace", route["dst"], "dev", name, "table", str(TABLE)]
    ip(*via_tun, *(["src", src] if src else []))
    ip("rule", "add", "pref", str(RULE_PREF), "not", "fwmark", hex(MARK), "table", str(TABLE))


def restore() -> None:
    """Undo ``reroute``; what is already gone is fine (the TUN's routes go with it)."""
    ip("rule", "del", "pref", str(RULE_PREF), check=False)
    ip("route", "flush", "table", str(TABLE), check=False)


def raw_sender() -> socket.socket:
    """Sends whole IPv4 packets as they are, marked so that they take the normal routes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sock.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
    return sock


def run(tun: int, delay_s: float, control: int) -> dict[str, int]:
    """Hold every packet read from ``tun`` for ``delay_s`` and send it on, until ``control``
    (the backend's pipe) reaches its end. Returns counts: forwarded, dropped, not_ipv4."""
    sender = raw_sender()
    held: deque[tuple[float, bytes]] = deque()
    counts = {"forwarded": 0, "dropped": 0, "not_ipv4": 0}
    while True:
        timeout = max(0.0, held[0][0] - time.monotonic()) if held else None
        ready, _, _ = select.select([tun, control], [], [], timeout)
        if control in ready and not os.read(control, 4096):
            break
        if tun in ready:
            due = time.monotonic() + delay_s
            for _ in range(READ_BATCH):
                try:
                    packet = os.read(tun, MAX_PACKET)
                except BlockingIOError:
                    break
                if len(packet) < IPV4_HEADER or packet[0] >> 4 != 4:
                    counts["not_ipv4"] += 1  # the device's own IPv6 chatter: nodes speak v4
                elif len(held) >= MAX_QUEUED:
                    counts["dropped"] += 1  # a full line drops, as a full queue would
                else:
                    held.append((due, packet))
        now = time.monotonic()
        while held and held[0][0] <= now:
            _, packet = held.popleft()
            try:
                sender.sendto(packet, (socket.inet_ntoa(packet[16:20]), 0))
                counts["forwarded"] += 1
            except OSError:  # a route gone, a full buffer: lost, as on a wire
                counts["dropped"] += 1
    sender.close()
    return counts


class DelayLines:
    """The backend's side: one delay line per slowed node, each a process in that node's
    namespace holding a pipe from us (closing it ends the line and undoes its routes)."""

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        """``namespaces``: node name -> its namespace (the cluster descriptor's ``netns``)."""
        self.namespaces = dict(namespaces)
        self.lines: dict[str, tuple[str, subprocess.Popen]] = {}  # node -> (fault key, process)

    def covers(self, nodes: Sequence[str]) -> bool:
        """Whether every one of ``nodes`` runs in a namespace of its own."""
        return bool(nodes) and all(self.namespaces.get(n) for n in nodes)

    def slow(self, key: str, nodes: Sequence[str], ms: int) -> dict[str, Any]:
        """Start a line for each node (replacing one it had), all at once; DelayLineError naming
        the node whose line did not start (the lines that did are ended again)."""
        self.fast(None, nodes)
        started = {n: self._spawn(n, ms) for n in nodes}
        failed = {}
        for node, proc in started.items():
            line = proc.stdout.readline().strip() if proc.stdout else ""
            if line != READY:
                failed[node] = line or f"exit {proc.wait(IP_TIMEOUT_S)}"
        for node, proc in started.items():
            self.lines[node] = (key, proc)
        if failed:
            self.fast(None, nodes)
            why = "; ".join(f"{n}: {line}" for n, line in sorted(failed.items()))
            raise DelayLineError(f"delay line not started: {why}")
        return {"delayed": sorted(nodes), "ms": ms, "how": HOW}

    def _spawn(self, node: str, ms: int) -> subprocess.Popen:
        cmd = ["ip", "netns", "exec", self.namespaces[node]]
        cmd += [sys.executable, "-m", __name__, "--ms", str(ms)]
        return subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=PROJECT_ROOT,
        )

    def fast(self, key: str | None, nodes: Sequence[str]) -> dict[str, Any]:
        """End the lines of ``nodes`` (those ``key`` started, or any with None)."""
        ended = {}
        for node in nodes:
            owner, proc = self.lines.get(node, (None, None))
            if proc is None or (key is not None and owner != key):
                continue
            del self.lines[node]
            ended[node] = _end(proc)
        return {"ended": sorted(ended), "packets": ended}

    def close(self) -> None:
        self.fast(None, list(self.lines))


def _end(proc: subprocess.Popen) -> dict[str, int]:
    """Close the line's pipe and read its counts; a line that hangs is killed."""
    try:
        out, _ = proc.communicate(timeout=IP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    try:
        return json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faults.backends.delayline",
        description="delay every packet this namespace's node sends to its peers (runs while "
        "stdin is open)",
    )
    parser.add_argument("--ms", type=int, required=True, help=f"the delay, 1..{MAX_LATENCY_MS}")
    args = parser.parse_args(argv)
    if not 1 <= args.ms <= MAX_LATENCY_MS:
        print(f"error: --ms: expected 1..{MAX_LATENCY_MS}, got {args.ms}", flush=True)
        return 2
    try:
        route = peer_route()
        tun = open_tun()
        reroute(route)
    except (DelayLineError, OSError) as exc:
        restore()
        print(f"error: {exc}", flush=True)
        return 2
    print(READY, flush=True)
    try:
        counts = run(tun, args.ms / 1000, sys.stdin.fileno())
    except KeyboardInterrupt:
        counts = {}
    finally:
        restore()
        os.close(tun)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
