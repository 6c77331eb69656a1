"""Bad input gets a 4xx JSON error and writes nothing; admin and control need the token."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from networks.cluster import Cluster
from node import wire
from tests.http import call, get

pytestmark = pytest.mark.integration

MAX_UPLOAD = 1024


@pytest.fixture(scope="module")
def one():
    with Cluster(1, files_per_node=2, node_args=("--max-upload", str(MAX_UPLOAD))) as c:
        yield c


def raw(url: str, method: str, path: str, body: bytes = b"", headers=None) -> tuple[int, dict]:
    """Send a path exactly as given (no client-side normalisation of ``..``)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    answer = conn.getresponse()
    status, data = answer.status, answer.read()
    conn.close()
    return status, json.loads(data)


def shared_files(cluster: Cluster) -> list[str]:
    return sorted(p.name for p in (cluster.nodes["n1"].data_dir / "shared").iterdir())


@pytest.mark.parametrize(
    "path",
    [
        "/files/%2e%2e",
        "/files/..%2fescape",
        "/files/%2fetc%2fpasswd",
        "/files/nul%00byte",
        "/files/" + "x" * 256,
        "/files/.hidden",
        "/files/../../escape",
    ],
)
def test_bad_names_are_refused_and_write_nothing(one, path):
    before = shared_files(one)
    status, body = raw(one.nodes["n1"].http, "PUT", path, b"data")
    assert 400 <= status < 500 and "error" in body
    assert shared_files(one) == before


def test_upload_over_limit_is_413_and_writes_nothing(one):
    before = shared_files(one)
    status, body = call("PUT", f"{one.nodes['n1'].http}/files/big.bin", b"x" * (MAX_UPLOAD + 1))
    assert status == 413 and "limit" in body["error"]
    assert shared_files(one) == before
    assert call("PUT", f"{one.nodes['n1'].http}/files/ok.bin", b"x" * MAX_UPLOAD)[0] == 201


@pytest.mark.parametrize("ttl", ["-1", "abc", "8", "99999999999999", "1.5"])
def test_bad_ttl_is_400(one, ttl):
    status, body = call("GET", f"{one.nodes['n1'].http}/search?q=alpha&ttl={ttl}")
    assert status == 400 and "ttl" in body["error"]


@pytest.mark.parametrize("query", ["", "q=", "q=" + "a" * 201])
def test_bad_query_is_400(one, query):
    status, body = call("GET", f"{one.nodes['n1'].http}/search?{query}")
    assert status == 400 and "q must" in body["error"]


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"name": "a", "sha256": "zz", "from": "n2"}',
        b'{"name": "../a", "sha256": "' + b"a" * 64 + b'", "from": "n2"}',
        b'{"name": "a", "sha256": "' + b"a" * 64 + b'"}',
    ],
)
def test_malformed_download_requests_are_400(one, body):
    status, answer = raw(
        one.nodes["n1"].http, "POST", "/download", body, {"Content-Type": "application/json"}
    )
    assert status == 400 and "error" in answer


def test_unknown_file_and_route_are_404(one):
    assert call("GET", f"{one.nodes['n1'].http}/files/missing.txt")[0] == 404
    status, body = call("GET", f"{one.nodes['n1'].http}/nope")
    assert status == 404 and "error" in body


def wire_call(url: str, op: str, body: dict) -> dict:
    """One request on the peer wire protocol; the framed answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(wire.MAGIC + wire.encode({"op": op, "from": "tester", "body": body}))
        return wire.read_frame(sock.makefile("rb"))


def test_malformed_flood_message_is_400_over_rest_and_the_wire_alike(one):
    n1 = one.nodes["n1"].http
    bad = {"id": "x", "ttl": -1}
    status, body = call("POST", f"{n1}/flood", bad)
    assert status == 400 and body["error"] == "malformed flood message"
    assert wire_call(n1, "flood", bad) == {"status": 400, "error": "malformed flood message"}


def test_peer_operations_answer_the_same_over_rest_and_the_wire(one):
    n1 = one.nodes["n1"].http
    anonymous = {"self": None, "news": []}
    for op, path in (("join", "/peers/join"), ("ping", "/peers/ping")):
        status, body = call("POST", n1 + path, anonymous)
        assert status == 200 and body["self"]["name"] == "n1" and body["self"]["state"] == "alive"
        assert wire_call(n1, op, anonymous) == {"status": 200, "body": body}
    status, body = call("POST", f"{n1}/peers/ping-req", {"target": "nobody"})
    assert (status, body) == (200, {"ok": False})
    assert wire_call(n1, "ping_req", {"target": 7})["status"] == 400
    message = {"id": "ab12", "q": "alpha", "ttl": 0, "hops": 1, "budget_ms": 500}
    status, first = call("POST", f"{n1}/flood", message)
    assert status == 200 and first["nodes"] == ["n1"] and first["results"]
    again = wire_call(n1, "flood", {**message, "hops": 0})  # the same id: a duplicate
    assert again["status"] == 200 and again["body"]["duplicate"] is True
    assert again["body"]["hops_to"] == {"n1": 0}


def test_admin_needs_the_token(one):
    n1 = one.nodes["n1"].http
    for method, path, body in (
        ("GET", "/admin/faults", None),
        ("POST", "/admin/partition", {"drop": ["n2"]}),
        ("POST", "/admin/heal", {}),
    ):
        assert call(method, n1 + path, body)[0] == 401
        assert call(method, n1 + path, body, token="wrong")[0] == 401
    status, state = call("POST", f"{n1}/admin/partition", {"drop": ["n9"]}, token=one.token)
    assert status == 200 and state["drop"] == ["n9"]
    assert call("POST", f"{n1}/admin/heal", {}, token=one.token)[1]["drop"] == []
    assert call("POST", f"{n1}/admin/latency", {"ms": -5}, token=one.token)[0] == 400


def test_control_api_needs_the_token(one):
    control = one.control.url
    assert call("GET", f"{control}/nodes")[0] == 401
    assert call("POST", f"{control}/nodes/n1/kill", {})[0] == 401
    assert call("POST", f"{control}/nodes/n1/kill", {}, token="nope")[0] == 401
    nodes = get(f"{control}/nodes", token=one.token)["nodes"]
    assert [n["state"] for n in nodes] == ["running"]
    assert call("POST", f"{control}/nodes/n9/kill", {}, token=one.token)[0] == 404
    assert call("POST", f"{control}/nodes/n1/start", {}, token=one.token)[0] == 409


def test_bad_peer_info_is_ignored_and_search_keeps_working(one):
    n1 = one.nodes["n1"].http
    for bad in (
        {"node_id": "e", "name": "evil", "http": "http://127.0.0.1:99999", "grpc": "x:1"},
        {"node_id": "e", "name": "evil", "http": "ftp://127.0.0.1:80", "grpc": "x:1"},
        {"node_id": "e", "name": "ev il", "http": "http://127.0.0.1:80", "grpc": "x:1"},
        {"node_id": "e", "name": "evil", "http": "http://127.0.0.1:80", "grpc": "nohost"},
    ):
        assert call("POST", f"{n1}/peers/join", {"self": bad})[0] == 200
    assert get(f"{n1}/peers")["peers"] == []
    assert call("GET", f"{n1}/search?q=alpha&ttl=2")[0] == 200


def test_absurdly_nested_json_is_400_not_500(one):
    body = b"[" * 60_000
    for path in ("/download", "/peers/join", "/flood"):
        status, answer = raw(one.nodes["n1"].http, "POST", path, body, {"Content-Type": "x"})
        assert status == 400, (path, answer)


def test_lone_surrogate_name_and_unknown_source_are_400(one):
    n1 = one.nodes["n1"].http
    sha = "a" * 64
    bad_name = {"name": "a\udc80b", "sha256": sha, "from": "n1"}
    status, _ = raw(n1, "POST", "/download", json.dumps(bad_name).encode())
    assert status == 400
    status, answer = call(
        "POST", f"{n1}/download", {"name": "x", "sha256": sha, "from": "10.1.2.3:80"}
    )
    assert status == 400 and "unknown node" in answer["error"]


def test_node_with_an_unusable_data_dir_fails_with_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("not a directory")
    run = subprocess.run(
        [sys.executable, "-m", "node", "--name", "x", "--data-dir", str(afile / "sub")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
