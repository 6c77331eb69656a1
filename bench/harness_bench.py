"""Is the Locust harness the bottleneck? Our users vs bare client loops, same node, same run.

    python bench/harness_bench.py [--seconds 8] [--clients 10]

Measures, against one real node of an embedded cluster:
- search: SearchUser's request path (NetworkClient: failover, answer checks, one Locust sample per
  operation) vs a bare geventhttpclient loop issuing the same GET;
- download: DownloadUser's gRPC streaming download (NetworkClient.download: stream iteration, sha256
  check, two Locust entries) vs a bare gRPC stub loop streaming the same file.
Each pair runs back to back in one process; the ratio is Locust / bare (target >= 0.8).
"""

from gevent import monkey

monkey.patch_all()

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent
import grpc
import grpc.experimental.gevent as grpc_gevent
from geventhttpclient import HTTPClient
from locust import constant, events, task
from locust.env import Environment

from locustfiles.client import search_facts
from locustfiles.runstate import RunState
from locustfiles.samples import SampleRecorder
from locustfiles.users import PeerUser
from networks.adapter import Hit
from networks.builtin import GRPC_OPTIONS
from networks.cluster import Cluster
from node import memory
from proto import p2p_pb2
from proto.chunks import download_call

TARGET_RATIO = 0.8
SEARCH_TERM, SEARCH_TTL = "alpha", 0
SEARCH_PATH = f"/search?q={SEARCH_TERM}&ttl={SEARCH_TTL}"


class SearchBench(PeerUser):
    wait_time = constant(0)

    @task
    def search(self):
        check = lambda node, answer: search_facts(SEARCH_TERM, SEARCH_TTL, answer)  # noqa: E731
        search = lambda node: self.net.search(node, SEARCH_TERM, SEARCH_TTL)  # noqa: E731
        self.client.call("search", search, check, self.run.reachable)


class DownloadBench(PeerUser):
    wait_time = constant(0)
    file: dict = {}

    @task
    def download(self):
        f = self.file
        hit = Hit(f["node"], f["name"], f["sha256"], f["size"], 0, f["grpc"])
        self.client.download(self.run.node(f["node"]), hit, f["sha256"])


def run_locust(user_class, state, clients: int, seconds: float) -> tuple[float, float]:
    """(operations/s, bytes/s) of ``user_class`` run by a real Locust runner."""
    env = Environment(user_classes=[user_class], events=events)
    env.peerload = state
    state.recorder = SampleRecorder(env, state)
    runner = env.create_local_runner()
    runner.start(clients, spawn_rate=clients * 10)
    gevent.sleep(1.0)  # warm-up: connections made, users all running
    name = "search" if user_class is SearchBench else "download"
    before = env.stats.get(name, "GET" if name == "search" else "grpc")
    count0, bytes0, t0 = before.num_requests, before.total_content_length, time.perf_counter()
    gevent.sleep(seconds)
    entry = env.stats.get(name, "GET" if name == "search" else "grpc")
    elapsed = time.perf_counter() - t0
    rate = (entry.num_requests - count0) / elapsed
    throughput = (entry.total_content_length - bytes0) / elapsed
    runner.quit()
    env.events.request.remove_listener(state.recorder.on_request)
    return rate, throughput


def bare_search(url: str, clients: int, seconds: float) -> float:
    host, port = url.split("//")[1].split(":")
    count = [0]
    stop_at = time.perf_counter() + 1.0 + seconds

    def loop(measure_from):
        client = HTTPClient(host, int(port), concurrency=1, network_timeout=5)
        while time.perf_counter() < stop_at:
            client.get(SEARCH_PATH).read()
            if time.perf_counter() >= measure_from:
                count[0] += 1
        client.close()

    start = time.perf_counter() + 1.0
    gevent.joinall([gevent.spawn(loop, start) for _ in range(clients)])
    return count[0] / seconds


def bare_download(file: dict, clients: int, seconds: float) -> float:
    total = [0]
    stop_at = time.perf_counter() + 1.0 + seconds
    measure_from = time.perf_counter() + 1.0

    def loop():
        channel = grpc.insecure_channel(file["grpc"], options=GRPC_OPTIONS)
        download = download_call(channel)
        while time.perf_counter() < stop_at:
            digest, size = hashlib.sha256(), 0
            for chunk in download(p2p_pb2.DownloadRequest(name=file["name"]), timeout=20):
                digest.update(chunk.data)
                size += len(chunk.data)
            assert digest.hexdigest() == file["sha256"]
            if time.perf_counter() >= measure_from:
                total[0] += size
        channel.close()

    gevent.joinall([gevent.spawn(loop) for _ in range(clients)])
    return total[0] / seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--clients", type=int, default=10)
    a = p.parse_args()
    if not 1 <= a.clients <= 200 or not 1 <= a.seconds <= 120:
        p.error("--clients 1..200, --seconds 1..120")
    grpc_gevent.init_gevent()
    memory.tune()  # as the builtin adapter does: the bare loop runs first, on the same heap
    gevent.get_hub().threadpool.maxsize = 512
    with Cluster(1, files_per_node=6) as cluster:
        node = cluster.nodes["n1"]
        state = RunState({"nodes": [{"name": "n1", "http": node.http, "grpc": node.grpc}]})
        biggest = max(node.files, key=lambda f: f["size"])
        DownloadBench.file = {**biggest, "grpc": node.grpc, "node": "n1"}
        rows = []
        bare = bare_search(node.http, a.clients, a.seconds)
        ours, _ = run_locust(SearchBench, state, a.clients, a.seconds)
        rows.append(("search req/s", ours, bare))
        bare = bare_download(DownloadBench.file, a.clients, a.seconds) / 1e6
        _, ours = run_locust(DownloadBench, state, a.clients, a.seconds)
        rows.append(("download MB/s", ours / 1e6, bare))
    print(
        f"harness overhead, {a.clients} clients, {a.seconds:.0f} s each, one node; "
        f"download file {biggest['size'] / 2**20:.1f} MiB"
    )
    print(f"{'metric':<16}{'locust user':>14}{'bare loop':>12}{'ratio':>8}{'target':>9}  met")
    for metric, ours, bare in rows:
        ratio = ours / bare if bare else float("nan")
        met = "yes" if ratio >= TARGET_RATIO else "no"
        print(f"{metric:<16}{ours:>14.1f}{bare:>12.1f}{ratio:>8.2f}{'>= 0.80':>9}  {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
