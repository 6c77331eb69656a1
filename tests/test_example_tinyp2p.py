"""The example network (examples/tinyp2p) on real processes, and its adapter against it."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip(
    "aiohttp", reason="the example network needs the 'examples' extra: pip install -e '.[examples]'"
)

import grpc

from examples.tinyp2p import codegen, tinyp2p_pb2, tinyp2p_pb2_grpc
from examples.tinyp2p.adapter import TinyAdapter
from examples.tinyp2p.node import MAX_HOPS, PEER_TIMEOUT_S
from networks import adapter as pl
from networks.definition import load_network
from tests.conftest import wait_for
from tests.http import call

ROOT = Path(__file__).resolve().parent.parent
UP_TIMEOUT_S = 10.0
LOGIN_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
MULTI_CHUNK = 200 * 1024 + 7  # several 64 KiB pieces and a short last one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Network:
    """tinyp2p nodes as real processes; ``stop`` ends every one it started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[str, subprocess.Popen] = {}
        self.info: dict[str, pl.NodeInfo] = {}

    def start(self, name: str, *peers: str) -> pl.NodeInfo:
        """Start ``name``, logging in to ``peers`` (node names), and wait until its logins are
        done: it answers its status before they are, so wait until it and every running node
        list each other (a login chain makes a full mesh)."""
        port, grpc_port, data = free_port(), free_port(), self.root / name
        argv = [sys.executable, "-m", "examples.tinyp2p", "--name", name, "--port", str(port)]
        argv += ["--grpc-port", str(grpc_port), "--data-dir", str(data)]
        for peer in peers:
            argv += ["--peer", self.info[peer].http]
        log = open(self.root / f"{name}.log", "wb")  # the child keeps its own copy
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log)
        log.close()
        node = pl.NodeInfo(
            name, f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", data_dir=str(data),
            shared_dir=str(data / "shared"), pid=self.procs[name].pid,
        )  # fmt: skip
        self.info[name] = node
        wait_for(lambda: self.up(name), UP_TIMEOUT_S, interval=0.05)
        if peers:
            wait_for(lambda: self.meshed(name), LOGIN_TIMEOUT_S, interval=0.05)
        return node

    def meshed(self, name: str) -> bool:
        """``name`` and every other running node list each other."""
        others = {n for n, p in self.procs.items() if n != name and p.poll() is None}
        return self.neighbours(name) >= others and all(name in self.neighbours(o) for o in others)

    def up(self, name: str) -> bool:
        assert self.procs[name].poll() is None, (self.root / f"{name}.log").read_text()
        try:
            return call("GET", f"{self.info[name].http}/api/v1/status", timeout=1)[0] == 200
        except OSError:
            return False

    def get(self, name: str, path: str) -> dict:
        status, body = call("GET", f"{self.info[name].http}/api/v1/{path}")
        assert status == 200, body
        return body

    def neighbours(self, name: str) -> set[str]:
        return {p["name"] for p in self.get(name, "neighbours")["neighbours"]}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """n1 alone, n2 logs in to n1, n3 logs in to n2 (and so learns n1)."""
    network = Network(tmp_path_factory.mktemp("tinyp2p"))
    try:
        network.start("n1")
        network.start("n2", "n1")
        network.start("n3", "n2")
        yield network
    finally:
        network.stop()


@pytest.fixture(scope="module")
def adapter(net):
    adapter = TinyAdapter(list(net.info.values())[:3])
    yield adapter
    adapter.close()


def drop(net: Network, name: str, filename: str, data: bytes) -> None:
    """What a user of tinyp2p does: put the file in the node's folder, then reindex."""
    Path(net.info[name].shared_dir, filename).write_bytes(data)
    assert call("POST", f"{net.info[name].http}/api/v1/reindex", {})[0] == 200


def fetch(node: pl.NodeInfo, filename: str) -> bytes:
    with grpc.insecure_channel(node.grpc) as channel:
        stub = tinyp2p_pb2_grpc.TransferStub(channel)
        pieces = stub.Fetch(tinyp2p_pb2.FetchRequest(filename=filename), timeout=5)
        return b"".join(p.data for p in pieces)


def test_committed_stubs_are_what_the_proto_generates(tmp_path):
    pytest.importorskip("grpc_tools", reason="needs grpcio-tools")
    assert codegen.build(tmp_path) == 0
    for stub in ("tinyp2p_pb2.py", "tinyp2p_pb2_grpc.py"):
        fresh = (tmp_path / "examples" / "tinyp2p" / stub).read_text()
        assert fresh == (codegen.HERE / stub).read_text(), f"{stub} stale: run codegen.py"


def test_the_definition_loads_and_names_the_adapter():
    definition = load_network(ROOT / "examples" / "tinyp2p" / "network.toml")
    assert definition.adapter_class is TinyAdapter
    assert load_network("examples.tinyp2p.adapter:TinyAdapter").name == "tinyp2p"


def test_the_adapter_declares_only_what_tinyp2p_has():
    assert TinyAdapter.capabilities == {pl.SEARCH, pl.INDEX, pl.DOWNLOAD, pl.PEERS, pl.FILES}
    node = pl.NodeInfo("n1")
    with pytest.raises(NotImplementedError):
        TinyAdapter([node]).node_download(node, "f", "0" * 64, node)


@pytest.mark.integration
def test_a_login_chain_makes_a_full_mesh(net):
    assert net.neighbours("n1") == {"n2", "n3"}
    assert net.neighbours("n2") == {"n1", "n3"}
    assert net.neighbours("n3") == {"n1", "n2"}


@pytest.mark.integration
def test_a_dropped_file_is_found_from_another_node_and_downloads_intact(net):
    data = os.urandom(MULTI_CHUNK)
    drop(net, "n3", "report-q3.bin", data)
    assert net.get("n3", "files")["files"] == [{"filename": "report-q3.bin", "bytes": len(data)}]
    for ttl in (1, 2):
        matches = net.get("n1", f"query?keyword=REPORT&hops={ttl}")["matches"]
        assert [(m["owner"], m["filename"], m["bytes"]) for m in matches] == [
            ("n3", "report-q3.bin", len(data))
        ]
        assert matches[0]["hops"] <= ttl
        assert matches[0]["endpoint"] == net.info["n3"].grpc
    assert net.get("n1", "query?keyword=report&hops=0")["matches"] == []
    assert fetch(net.info["n3"], "report-q3.bin") == data


@pytest.mark.integration
@pytest.mark.parametrize(
    "path",
    ["query?keyword=&hops=1", f"query?keyword=x&hops={MAX_HOPS + 1}", "query?keyword=x&hops=-1",
     "query?keyword=x&hops=two", "query?keyword=" + "x" * 101],
)  # fmt: skip
def test_bad_queries_get_400(net, path):
    status, body = call("GET", f"{net.info['n1'].http}/api/v1/{path}")
    assert status == 400 and "error" in body


@pytest.mark.integration
@pytest.mark.parametrize(
    "body", [{}, {"name": "x", "url": "ftp://h", "grpc": "h:1"}, {"name": "", "url": "http://h"}]
)
def test_bad_logins_get_400(net, body):
    assert call("POST", f"{net.info['n1'].http}/api/v1/login", body)[0] == 400


@pytest.mark.integration
@pytest.mark.parametrize("filename", ["nothing-here", "../n1.log", ""])
def test_fetching_what_is_not_indexed_is_not_found(net, filename):
    with pytest.raises(grpc.RpcError) as err:
        fetch(net.info["n1"], filename)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.integration
def test_the_adapter_against_the_live_network(net, adapter):
    n1, n2 = adapter.node("n1"), adapter.node("n2")
    assert adapter.health(n1)["name"] == "n1"
    data = os.urandom(MULTI_CHUNK)
    assert adapter.index(n2, "adapter-drop.dat", data) is None
    assert adapter.files(n2) == {"adapter-drop.dat": None}
    answer = adapter.search(n1, "adapter-drop", 1)
    assert [(h.node, h.name, h.sha256, h.size) for h in answer.hits] == [
        ("n2", "adapter-drop.dat", None, len(data))
    ]
    assert answer.partial is None and answer.messages is None
    got = b"".join(adapter.download(n2, answer.hits[0], timeout=5))
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert adapter.search(n1, "adapter-drop", 0).hits == ()
    assert adapter.peers(n1) == {"n2": pl.ALIVE, "n3": pl.ALIVE}


@pytest.mark.integration
def test_the_adapter_tells_unavailable_from_refused(net, adapter):
    gone = pl.NodeInfo("gone", f"http://127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}")
    with pytest.raises(pl.Unavailable):
        adapter.health(gone)
    with pytest.raises(pl.Unavailable):
        list(adapter.download(gone, pl.Hit("gone", "f"), timeout=2))
    with pytest.raises(pl.Refused):
        adapter.search(adapter.node("n1"), "x" * 101, 1)
    with pytest.raises(pl.Refused):
        list(adapter.download(adapter.node("n1"), pl.Hit("n1", "no-such-file"), timeout=2))


@pytest.mark.integration
def test_a_killed_node_is_dropped_and_sigterm_exits_cleanly(net, adapter):
    """n4 and n5 join through n1; n4 is SIGKILLed, n5 is SIGTERMed."""
    net.start("n4", "n1")
    net.start("n5", "n1")
    wait_for(lambda: all({"n4", "n5"} <= net.neighbours(n) for n in ("n1", "n2", "n3")), 5)
    net.procs["n4"].send_signal(signal.SIGKILL)
    net.procs["n5"].send_signal(signal.SIGTERM)
    assert net.procs["n5"].wait(STOP_TIMEOUT_S) == 0
    started = time.monotonic()
    wait_for(lambda: not any(net.neighbours(n) & {"n4", "n5"} for n in ("n1", "n2", "n3")), 8)
    assert time.monotonic() - started < PEER_TIMEOUT_S + 3
    every = TinyAdapter(list(net.info.values()))
    assert every.peers(every.node("n1")) == {
        "n2": pl.ALIVE, "n3": pl.ALIVE, "n4": pl.DEAD, "n5": pl.DEAD
    }  # fmt: skip


class ListedAdapter(TinyAdapter):
    """tinyp2p said honestly as a membership list without liveness: each peer ``listed``."""

    capabilities = (TinyAdapter.capabilities - {pl.PEERS}) | {pl.MEMBERS}

    def peers(self, node: pl.NodeInfo) -> dict[str, str]:
        return {p["name"]: pl.LISTED for p in self._call(node, "neighbours")["neighbours"]}


@pytest.mark.integration
def test_a_membership_list_without_liveness_is_judged_as_listed(net):
    from networks.verify import FAIL, PASS, check_joined

    three = [net.info[n] for n in ("n1", "n2", "n3")]
    listed = ListedAdapter(three)
    joined = check_joined(listed, three)
    assert (joined.outcome, joined.detail) == (
        PASS, "every node lists all; unverified: whether they are alive"
    )  # fmt: skip
    stranger = pl.NodeInfo("n9", f"http://127.0.0.1:{free_port()}")
    joined = check_joined(ListedAdapter([*three, stranger]), [*three[:1], stranger])
    assert joined.outcome == FAIL and "n1 does not see n9 listed" in joined.detail
