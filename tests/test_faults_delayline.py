"""A delay without netem and without the node's help: a delay line in the node's namespace.

Real namespaces (networks/netns.py), a real TUN device, real TCP: an echo server in n2's
namespace, and the round trip measured from n1's, on a connection opened before the delay (a
delay reaches links in flight), from the host (clients are never delayed), after the heal, and
after the process holding the line dies by SIGKILL (nothing of it is left in the namespace).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.backends import delayline, netns
from networks import netns as namespaces

ROOT = Path(__file__).resolve().parents[1]
PORT = 9000
DELAY_MS = 60
SETTLE_S = 0.3
ECHO = """
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen()
def serve(c):
    while (d := c.recv(65536)):
        c.sendall(d)
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
"""
# Reads commands on stdin: "open" opens a connection, "rtt" prints the best of 5 round trips in
# ms on the open one, "bulk" echoes 1 MB through it and prints the seconds.
CLIENT = """
import socket, sys, time
c = None
for line in sys.stdin:
    if line.strip() == "open":
        c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        print("open", flush=True)
    elif line.strip() == "rtt":
        best = 1e9
        for _ in range(5):
            t = time.monotonic(); c.sendall(b"x" * 64); c.recv(64)
            best = min(best, (time.monotonic() - t) * 1000)
        print(round(best, 1), flush=True)
    elif line.strip() == "bulk":
        data, got, t = b"y" * 1_000_000, 0, time.monotonic()
        c.sendall(data)
        while got < len(data):
            got += len(c.recv(1 << 20))
        print(round(time.monotonic() - t, 3), flush=True)
"""


def _why_not() -> str | None:
    ok, why = namespaces.available()
    if not ok:
        return why
    if not os.path.exists(delayline.TUN_PATH):
        return f"no {delayline.TUN_PATH}"
    return None if shutil.which("nft") else "no nft binary (install the Debian package nftables)"


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=f"delay line: {_why_not()}")


class Client:
    """A process in a namespace that measures round trips to the echo server on request."""

    def __init__(self, prefix: list[str], address: str) -> None:
        cmd = [*prefix, sys.executable, "-c", CLIENT, address, str(PORT)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, what: str) -> str:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def rtt(self) -> float:
        return float(self.ask("rtt"))

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def lab() -> Iterator[tuple[namespaces.Namespaces, dict]]:
    spaces = namespaces.Namespaces(["n1", "n2"])
    spaces.create()
    procs: list[subprocess.Popen] = []
    try:
        nodes = [
            {"name": n, "host": spaces.address(n), "netns": spaces.netns(n), "http": "x"}
            for n in spaces.nodes
        ]
        echo = ["ip", "netns", "exec", spaces.netns("n2"), sys.executable, "-c", ECHO]
        procs.append(subprocess.Popen([*echo, spaces.address("n2"), str(PORT)]))
        time.sleep(SETTLE_S)
        yield spaces, {"nodes": nodes}
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        spaces.remove()


def test_a_delay_line_slows_what_a_node_sends_its_peers_in_flight_and_heals(lab) -> None:
    spaces, descriptor = lab
    peer = spaces.address("n2")
    inside = Client(["ip", "netns", "exec", spaces.netns("n1")], peer)
    outside = Client([], peer)  # the host: a client, as Locust's users are
    net = netns.NetnsNetwork(descriptor)
    try:
        assert inside.ask("open") == outside.ask("open") == "open"
        before, bulk_before = inside.rtt(), float(inside.ask("bulk"))
        detail = net.slow("lat:n1", ["n1"], DELAY_MS)
        assert detail["delayed"] == ["n1"] and detail["backend"] == "netns"
        slowed, host = inside.rtt(), outside.rtt()
        bulk_slowed = float(inside.ask("bulk"))
        ended = net.fast("lat:n1", ["n1"])
        after = inside.rtt()
    finally:
        net.close()
        inside.stop()
        outside.stop()
    assert before < DELAY_MS / 4
    assert DELAY_MS <= slowed < DELAY_MS * 3  # one way: the echo's replies are not held
    assert host < DELAY_MS / 4  # the host reaches n2 directly, and n2 is not slowed
    assert after < DELAY_MS / 4  # healed, on the same connection
    assert bulk_slowed > bulk_before  # a megabyte still flows, only later
    assert ended["ended"] == ["n1"] and ended["packets"]["n1"]["forwarded"] > 0
    assert ended["packets"]["n1"]["dropped"] == 0  # nothing lost on a quiet link
    print(
        json.dumps(
            {"rtt_ms": [before, slowed, after], "bulk_s": [bulk_before, bulk_slowed], **ended}
        )
    )


def rules(spaces: namespaces.Namespaces, node: str) -> str:
    return namespaces.ip("-n", spaces.netns(node), "rule", "show")


def test_a_line_ends_with_the_process_that_holds_it_and_leaves_nothing(lab) -> None:
    spaces, descriptor = lab
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, json.dumps(descriptor), str(DELAY_MS)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout and holder.stdout.readline().strip() == "slowed"
        assert f"lookup {delayline.TABLE}" in rules(spaces, "n1")
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        deadline = time.monotonic() + 5
        while f"lookup {delayline.TABLE}" in rules(spaces, "n1") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait()
    assert f"lookup {delayline.TABLE}" not in rules(spaces, "n1")
    links = namespaces.ip("-n", spaces.netns("n1"), "link", "show")
    assert delayline.TUN_NAME not in links
    inside = Client(["ip", "netns", "exec", spaces.netns("n1")], spaces.address("n2"))
    try:
        assert inside.ask("open") == "open" and inside.rtt() < DELAY_MS / 4
    finally:
        inside.stop()


HOLDER = """
import json, sys, time
from faults.backends import netns
net = netns.NetnsNetwork(json.loads(sys.argv[1]))
net.slow("lat:n1", ["n1"], int(sys.argv[2]))
print("slowed", flush=True)
time.sleep(60)
"""


def test_a_line_that_cannot_start_is_a_one_line_error(lab) -> None:
    spaces, _ = lab
    lines = delayline.DelayLines({"n1": spaces.netns("n1"), "n9": "pl-no-such-namespace"})
    with pytest.raises(delayline.DelayLineError, match="delay line not started: n9: "):
        lines.slow("lat", ["n1", "n9"], DELAY_MS)
    assert lines.lines == {}  # the line that did start was ended again
    assert f"lookup {delayline.TABLE}" not in rules(spaces, "n1")


def test_the_delay_is_range_checked() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "faults.backends.delayline", "--ms", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert done.returncode == 2 and done.stdout.startswith("error: --ms: expected 1..")
