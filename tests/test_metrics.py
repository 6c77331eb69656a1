"""Prometheus metrics: the node's ``GET /metrics`` on a real cluster (node/metrics.py), the
definition field that names it (networks/definition.py), and the monitor that reads a node's
CPU, memory and handles from it, or from psutil where a node has none (locustfiles/monitor.py,
locustfiles/metricsmeter.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from wsgiref.util import setup_testing_defaults

import bottle
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from locustfiles.cpumeter import MIN_SPAN_S
from locustfiles.metricsmeter import AT, CPU, RSS, START, WANTED, ScrapedResources, parse, scrape
from networks.adapter import NodeInfo
from networks.cluster import Cluster
from networks.definition import load_network, metrics_url
from networks.definition import parse as parse_definition
from node import metrics as node_metrics
from tests.conftest import wait_for
from tests.http import call, get

ROOT = Path(__file__).resolve().parents[1]


def scraped(url: str, query: str = "") -> tuple[str, dict[tuple[str, tuple], float]]:
    """The content type and every sample of a scrape, read by prometheus-client's own parser
    (so the text is valid exposition format): (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"{url}/metrics{query}", timeout=5) as answer:
        content_type, text = answer.headers["Content-Type"], answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return content_type, samples


def value(samples: dict, metric: str, **labels: str) -> float | None:
    return samples.get((metric, tuple(sorted(labels.items()))))


@pytest.fixture(scope="module")
def line():
    """n1 - n2 - n3: a search from n1 reaches n3 only through n2, which relays it."""
    with Cluster(3, topology="line", files_per_node=3) as c:
        yield c


@pytest.mark.integration
def test_metrics_count_a_search_a_relay_and_a_download(line):
    n1, n2, n3 = (line.nodes[n].http for n in ("n1", "n2", "n3"))
    wanted = line.nodes["n3"].files[0]  # its own file, on no other node
    answer = get(f"{n1}/search?q={wanted['name']}&ttl=2")
    assert [(h["node"], h["name"]) for h in answer["results"]] == [("n3", wanted["name"])]
    wait_for(lambda: any(p["name"] == "n3" for p in get(f"{n1}/peers")["peers"]), 10)
    body = {"name": wanted["name"], "sha256": wanted["sha256"], "from": "n3"}
    assert call("POST", f"{n1}/download", body)[0] == 200
    assert call("GET", f"{n1}/files/no-such-file")[0] == 404
    assert call("GET", f"{n1}/no/such/route")[0] == 404

    content_type, origin = scraped(n1)
    assert content_type == node_metrics.CONTENT_TYPE
    assert value(origin, "peerload_searches_total") == 1
    assert value(origin, "peerload_peer_messages_sent_total", op="flood", outcome="ok") == 1
    assert value(origin, "peerload_downloads_total", direction="in", outcome="ok") == 1
    assert value(origin, "peerload_download_bytes_total", direction="in") == wanted["size"]
    # requests by route template and status, never by raw path
    assert value(
        origin, "peerload_http_requests_total", method="GET", route="/search", status="200"
    )
    files = value(
        origin, "peerload_http_requests_total", method="GET", route="/files/<name>", status="404"
    )
    assert files == 1
    unmatched = value(
        origin, "peerload_http_requests_total", method="unmatched", route="unmatched", status="404"
    )
    assert unmatched == 1
    assert not [k for k in origin if "no-such-file" in str(k) or "/no/such" in str(k)]
    assert (
        value(
            origin, "peerload_http_request_duration_seconds_count", method="POST", route="/download"
        )
        == 1
    )
    assert value(origin, "peerload_peers", state="alive") == 2
    assert value(origin, "peerload_neighbours") == 1  # a line: n1's only link is n2
    assert value(origin, "peerload_node_info", name="n1") == 1
    for name in ("process_cpu_seconds_total", "process_open_fds", "process_threads"):
        assert value(origin, name) > 0
    assert (
        value(origin, "process_resident_memory_bytes")
        > value(origin, "peerload_process_uss_bytes")
        > 1e6
    )

    _, relay = scraped(n2)
    assert value(relay, "peerload_relays_total", copy="new") == 1
    assert value(relay, "peerload_peer_messages_received_total", op="flood") == 1
    assert value(relay, "peerload_peer_messages_sent_total", op="flood", outcome="ok") == 1
    assert value(relay, "peerload_searches_total") == 0  # it originated none

    # The holder counts a served download once its stream has ended on its side, which may be
    # a moment after the puller has the last chunk.
    served = wait_for(
        lambda: value(scraped(n3)[1], "peerload_downloads_total", direction="out", outcome="ok"),
        5,
        interval=0.1,
    )
    assert served == 1
    _, holder = scraped(n3)
    assert value(holder, "peerload_relays_total", copy="new") == 1
    assert value(holder, "peerload_download_bytes_total", direction="out") == wanted["size"]


@pytest.mark.integration
def test_a_scrape_can_ask_for_some_samples_only_and_needs_no_token(line):
    url = line.nodes["n2"].http
    _, some = scraped(url, "?name[]=process_open_fds&name[]=peerload_peers")
    assert {name for name, _ in some} == {"process_open_fds", "peerload_peers"}
    status, _ = call("GET", f"{url}/metrics?" + "&".join(["name[]=x"] * 65))
    assert status == 400


@pytest.mark.integration
def test_the_monitors_parser_reads_a_real_nodes_scrape(line):
    node = line.nodes["n1"]
    with urllib.request.urlopen(f"{node.http}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    mine = parse(text)
    theirs = {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in WANTED and not s.labels
    }
    assert mine == theirs and set(mine) == set(WANTED)

    first = scrape(f"{node.http}/metrics")  # what the monitor does, filtered by name[]
    assert set(first) == {*WANTED, AT}
    proc = psutil.Process(node.proc.pid)
    assert abs(first[RSS] - proc.memory_info().rss) < 20e6
    assert abs(first[START] - proc.create_time()) < 1.5
    meter = ScrapedResources()
    # the first reading is over the process's life so far: none while it is younger than the
    # shortest span measured (a test run first after the nodes start, on a busy machine)
    time.sleep(max(0.0, MIN_SPAN_S + 0.1 - (time.time() - proc.create_time())))
    cpu, memory = meter.read("n1", first)
    assert cpu is not None and cpu >= 0
    assert set(memory) == {"rss_mb", "uss_mb", "fds", "threads"}
    assert memory["fds"] == proc.num_fds() or abs(memory["fds"] - proc.num_fds()) <= 3
    for _ in range(30):  # a little work for the node, then CPU since the previous scrape
        get(f"{node.http}/search?q=alpha&ttl=2")
    time.sleep(max(0.0, MIN_SPAN_S + 0.1 - (time.monotonic() - first[AT])))
    later = scrape(f"{node.http}/metrics")
    assert later[CPU] >= first[CPU]
    assert meter.read("n1", later)[0] is not None


def test_a_failed_scrape_is_a_gap_not_a_zero():
    assert scrape("http://127.0.0.1:1/metrics", timeout=0.2) is None  # nothing listens there
    meter = ScrapedResources()
    assert meter.read("n1", None) == (None, {})
    first = {CPU: 2.0, START: 1.0, RSS: 50 * 2**20, AT: 100.0}
    meter.read("n1", first)
    assert meter.read("n1", None) == (None, {})
    cpu, memory = meter.read("n1", {**first, CPU: 3.0, AT: 102.0})  # over both intervals
    assert cpu == 50.0 and memory == {"rss_mb": 50.0}
    restarted = {CPU: 0.1, START: 1e12, RSS: 1.0, AT: 104.0}  # started in the future: too young
    assert meter.read("n1", restarted)[0] is None


def test_the_parser_takes_unlabelled_finite_samples_in_either_text_format():
    text = "\n".join(
        [
            "# HELP process_open_fds Number of open file descriptors.",
            "# TYPE process_open_fds gauge",
            "process_open_fds 12.0",
            'process_cpu_seconds_total{mode="user"} 3',  # labelled: not the process total
            "process_cpu_seconds_total 1.5e+00 1700000000000",  # with a timestamp
            "process_resident_memory_bytes NaN",
            "process_threads{} 7",
            "# EOF",
        ]
    )
    assert parse(text) == {"process_open_fds": 12.0, CPU: 1.5, "process_threads": 7.0}


def test_route_labels_stay_bounded_whatever_the_paths():
    metrics = node_metrics.NodeMetrics()
    app = bottle.Bottle()
    app.route("/files/<name>", "GET", lambda name: {"name": name})
    served = metrics.wsgi(app)
    for i in range(50):
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/files/f{i}"}
        setup_testing_defaults(environ)
        b"".join(served(environ, lambda *_: None))
    text = metrics.exposition(["peerload_http_requests_total"]).decode()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == [
        'peerload_http_requests_total{method="GET",route="/files/<name>",status="200"} 50.0'
    ]
    assert node_metrics.Off().wsgi(app) is app  # counting off: the app itself


# -- the definition field and where the monitor scrapes ---------------------------------
def definition(**node) -> dict:
    base = {"command": ["{python}", "x"], "ready": {"http_get": "/health"}}
    return {"name": "x", "adapter": "networks.builtin:BuiltinAdapter", "node": {**base, **node}}


def load(**node):
    return parse_definition(definition(**node), spec="x", here=ROOT, source="x.toml")


def test_a_definition_names_its_metrics_path_and_port():
    assert load().node.metrics_path is None
    spec = load(metrics="/metrics").node
    assert (spec.metrics_path, spec.metrics_port) == ("/metrics", "http")
    spec = load(metrics={"path": "/m", "port": "prom"}, ports=["http", "prom"]).node
    assert (spec.metrics_path, spec.metrics_port) == ("/m", "prom")
    for bad, why in [
        ("metrics", "node.metrics.path: must be a path starting with /"),
        ("/metrics/{name}", "node.metrics.path: must be a path starting with /"),
        ({"path": "/m", "port": "prom"}, "node.metrics.port: 'prom' is not in node.ports"),
        ({"path": "/m", "every": 5}, "node.metrics.every: unknown key"),
        (5, "node.metrics: must be a path"),
    ]:
        with pytest.raises(ValueError, match=why.replace("{", r"\{").replace("[", r"\[")):
            load(metrics=bad)
    assert load_network("builtin").node.metrics_path == "/metrics"


def test_where_the_monitor_scrapes_each_node():
    builtin = load_network("builtin")
    launched = NodeInfo.from_dict(
        {"name": "n1", "http": "http://127.0.0.11:8001", "metrics": "http://127.0.0.11:8001/m"}
    )
    assert metrics_url(launched, builtin) == "http://127.0.0.11:8001/m"  # the descriptor's own
    none = NodeInfo.from_dict({"name": "n1", "http": "http://127.0.0.11:8001", "metrics": None})
    assert metrics_url(none, builtin) is None  # the launcher said: nowhere (psutil, if local)
    remote = NodeInfo.from_dict({"name": "n1", "http": "http://10.0.0.5:8001/"})
    assert metrics_url(remote, builtin) == "http://10.0.0.5:8001/metrics"  # from the definition
    ported = NodeInfo.from_dict(
        {"name": "n1", "host": "10.0.0.5", "http": "http://10.0.0.5:1", "ports": {"prom": 9}}
    )
    own_port = load(metrics={"path": "/m", "port": "prom"}, ports=["http", "prom"])
    assert metrics_url(ported, own_port) == "http://10.0.0.5:9/m"
    assert metrics_url(remote, load()) is None and metrics_url(remote, None) is None


@pytest.mark.integration
def test_the_launcher_writes_each_nodes_metrics_url_in_the_descriptor(line):
    entries = json.loads(line.descriptor_path.read_text())["nodes"]
    assert [e["metrics"] for e in entries] == [
        f"{line.nodes[e['name']].http}/metrics" for e in entries
    ]


#: A monitor (Locust's gevent in a Python of its own) ticked once over the descriptor given.
MONITOR_TICK = """
import io, json, sys
import gevent
from locust.env import Environment
from locustfiles.monitor import Monitor
from locustfiles.runstate import RunState
env = Environment(user_classes=[])
env.create_local_runner()
monitor = Monitor(env, RunState(json.loads(sys.argv[1])), out=io.StringIO())
gevent.sleep(1.0)  # the priming scrapes answer; the row then measures CPU over this second
row = monitor.tick()
print(json.dumps({"row": row, "scraped": sorted(monitor._metrics)}))
env.runner.quit()
"""


@pytest.mark.integration
def test_the_monitor_reads_scrapes_and_falls_back_to_psutil_for_a_node_without(line):
    descriptor = json.loads(line.descriptor_path.read_text())
    n1, n2, n3 = descriptor["nodes"]
    n2["metrics"] = None  # as a network without metrics: its local process, by psutil
    n3["metrics"] = "http://127.0.0.1:1/metrics"  # a scrape that fails: a gap
    done = subprocess.run(
        [sys.executable, "-c", MONITOR_TICK, json.dumps(descriptor)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.splitlines()[-1])
    row = out["row"]
    assert out["scraped"] == ["n1", "n3"]
    assert row["nodes_alive"] == 3  # n3 answers its health probe: only its scrape fails
    for key in ("cpu", "rss_mb", "fds", "threads"):
        assert set(row[key]) == {"n1", "n2"}, key  # n3: left out, never a zero
    assert "n1" in row["uss_mb"]  # the scrape carries it at every row
    rss = psutil.Process(line.nodes["n1"].proc.pid).memory_info().rss / 2**20
    assert abs(row["rss_mb"]["n1"] - rss) < 20
    assert row["cpu"]["n1"] >= 0 and row["cpu"]["n2"] >= 0
    # The links as the nodes hold them, for the model (a node re-links around a dead one).
    assert row["links"] == [["n1", "n2"], ["n2", "n3"]]
