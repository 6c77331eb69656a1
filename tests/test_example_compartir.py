"""The second example network (examples/compartir) started by peerload's launcher: a Flask API
in Spanish, nodes named ``ip:port``, one-way registration, an index built by an after-start
call, its own interpreter through ``{env:COMPARTIR_PYTHON:-{python}}`` — and the flaws a first
implementation has, as ``python -m networks.verify`` and the adapter see them."""

from __future__ import annotations

import hashlib
import os
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import psutil
import pytest

pytest.importorskip("flask", reason="compartir needs Flask (pip install -e '.[examples]')")

from examples.compartir import codegen
from networks import adapter as pl
from networks.corpus import CLUTTER
from networks.definition import load_network
from networks.launcher import Launcher
from networks.procs import free_port
from networks.verify import FAIL, NOT_MEASURABLE, PASS
from tests.conftest import wait_for
from tests.http import call

ROOT = Path(__file__).resolve().parent.parent
NETWORK = ROOT / "examples" / "compartir" / "network.toml"
VENV_VARIABLE = "COMPARTIR_PYTHON"
FILES_PER_NODE = 6
UP_TIMEOUT_S = 10.0
MULTI_CHUNK = 2 * 1024 * 1024 + 11  # two 1 MiB pieces and a short last one


@pytest.fixture(scope="module")
def launched():
    """n1, then n2 and n3, each given n1 as its seed (the definition's join.peers = "first")."""
    with Launcher(str(NETWORK), 3, files_per_node=FILES_PER_NODE) as launcher:
        yield launcher


@pytest.fixture(scope="module")
def net(launched):
    adapter = launched.network.adapter_class(launched.node_infos())
    yield adapter
    adapter.close()


def digest(chunks) -> str:
    return hashlib.sha256(b"".join(chunks)).hexdigest()


def test_committed_stubs_are_what_the_proto_generates(tmp_path):
    pytest.importorskip("grpc_tools", reason="needs grpcio-tools")
    assert codegen.build(tmp_path) == 0
    for stub in ("compartir_pb2.py", "compartir_pb2_grpc.py"):
        fresh = (tmp_path / "examples" / "compartir" / stub).read_text()
        assert fresh == (codegen.HERE / stub).read_text(), f"{stub} stale: run codegen.py"


def test_the_adapter_beside_the_definition_declares_what_compartir_has():
    cls = load_network(NETWORK).adapter_class
    assert Path(sys.modules[cls.__module__].__file__) == NETWORK.parent / "adapter.py"
    assert cls.capabilities == {pl.SEARCH, pl.INDEX, pl.DOWNLOAD, pl.MEMBERS, pl.FILES}
    assert load_network("examples.compartir.adapter:CompartirAdapter").name == "compartir"


def test_the_interpreter_is_the_variable_s_else_peerload_s(monkeypatch):
    definition = load_network(NETWORK)
    run = {"python": sys.executable, "workdir": "/w", "token": "t", "parent_pid": 1}
    node = {"name": "n1", "index": 1, "host": "127.0.0.1", "data_dir": "/w/n1"}
    values = definition.node_values(run, {**node, "http_port": 1, "grpc_port": 2})
    for value, python in [(None, sys.executable), ("", sys.executable), ("/v/bin/py", "/v/bin/py")]:
        if value is None:
            monkeypatch.delenv(VENV_VARIABLE, raising=False)
        else:
            monkeypatch.setenv(VENV_VARIABLE, value)
        assert definition.command(values, [])[:3] == [python, "-m", "examples.compartir"]


def own_venv(folder: Path) -> Path:
    """A virtualenv of its own (no pip) that sees this interpreter's packages: what a team's
    venv with requirements.txt installed gives, made in a blink."""
    venv.create(folder, with_pip=False)
    packages = sysconfig.get_path("purelib", vars={"base": folder, "platbase": folder})
    paths = {*site.getsitepackages(), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    Path(packages, "peerload-env.pth").write_text("\n".join(sorted(paths)) + "\n")
    return folder / "bin" / "python"


@pytest.mark.integration
def test_a_node_runs_in_the_virtualenv_the_variable_names(tmp_path, monkeypatch):
    python = own_venv(tmp_path / "venv")
    monkeypatch.setenv(VENV_VARIABLE, str(python))
    with Launcher(str(NETWORK), 1, files_per_node=2, workdir=tmp_path / "run") as launcher:
        node = launcher.node_infos()[0]
        assert psutil.Process(node.pid).cmdline()[0] == str(python)
        net = launcher.network.adapter_class([node])
        # after_start indexed its seeded files, and shares the folder's clutter too
        assert net.health(node)["archivos"] == 2 + len(CLUTTER)
        net.close()


@pytest.mark.integration
def test_the_index_is_empty_until_indexar(tmp_path):
    """A node started by hand (not by the launcher, which calls /indexar as it starts)."""
    (tmp_path / "compartidos").mkdir()
    (tmp_path / "compartidos" / "notas-de-clase.txt").write_bytes(b"fase 1")
    taken: set[tuple[str, int]] = set()
    port, grpc_port = free_port("127.0.0.1", taken), free_port("127.0.0.1", taken)
    argv = [sys.executable, "-m", "examples.compartir", "--puerto", str(port)]
    argv += ["--puerto-grpc", str(grpc_port), "--carpeta", str(tmp_path / "compartidos")]
    log = open(tmp_path / "nodo.log", "wb")  # the child keeps its own copy
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=log)
    log.close()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(f"{url}/estado"), UP_TIMEOUT_S, interval=0.05)
        assert call("GET", f"{url}/archivos") == (200, {"archivos": []})
        assert call("GET", f"{url}/buscar?termino=notas&ttl=0")[1]["resultados"] == []
        assert call("POST", f"{url}/indexar", {}) == (200, {"archivos": 1})
        assert [r["nombre"] for r in call("GET", f"{url}/buscar?termino=NOTAS")[1]["resultados"]]
    finally:
        proc.terminate()
        proc.wait(10)


def _answers(url: str) -> bool:
    try:
        return call("GET", url, timeout=1)[0] == 200
    except OSError:
        return False


@pytest.mark.integration
def test_nodes_name_themselves_by_address_and_the_adapter_maps_it(launched, net):
    for node in launched.node_infos():
        health = net.health(node)
        assert health["nodo"] == f"{node.host}:{node.extra['ports']['http']}"
        assert health["grpc"] == node.grpc
        assert net.node_for(health["nodo"]) == node.name
    assert net.node_for("127.0.0.1:1") is None


@pytest.mark.integration
def test_registration_is_one_way_and_listed_without_liveness(launched, net):
    """Each node registers with n1 only and learns nobody from it: n2 and n3 never list each
    other (the launcher waited its ready timeout for it and says so)."""
    assert net.peers(net.node("n1")) == {"n2": pl.LISTED, "n3": pl.LISTED}
    assert net.peers(net.node("n2")) == {"n1": pl.LISTED}
    assert net.peers(net.node("n3")) == {"n1": pl.LISTED}
    assert "n2 sees n1, n2" in launched.join_gaps


@pytest.mark.integration
def test_a_search_floods_through_the_seed_within_its_ttl_and_downloads_intact(net):
    n2, n3 = net.node("n2"), net.node("n3")
    only_n3 = n3.files[0]  # a node's first seeded file is never replicated
    assert net.search(n2, only_n3["name"], 0).hits == ()
    # n2 knows only n1, which does not forward a TTL that reached 0: n3 is out of reach.
    assert net.search(n2, only_n3["name"], 1).hits == ()
    answer = net.search(n2, only_n3["name"].upper(), 2)  # matching ignores case
    assert [(h.node, h.name, h.sha256, h.size, h.hops, h.source) for h in answer.hits] == [
        ("n3", only_n3["name"], None, only_n3["size"], 2, n3.grpc)
    ]
    assert (answer.reached, answer.partial, answer.messages) == (None, None, None)
    assert digest(net.download(n2, answer.hits[0], timeout=5)) == only_n3["sha256"]


@pytest.mark.integration
def test_an_upload_is_indexed_found_from_another_node_and_streams_back(net):
    n1, n3 = net.node("n1"), net.node("n3")
    data = os.urandom(MULTI_CHUNK)
    assert net.index(n3, "subida-de-prueba.bin", data) is None  # no checksum acknowledged
    assert net.files(n3)["subida-de-prueba.bin"] is None
    [hit] = net.search(n1, "subida-de-prueba", 1).hits
    assert (hit.node, hit.size, hit.hops) == ("n3", len(data), 1)
    assert digest(net.download(n1, hit, timeout=5)) == hashlib.sha256(data).hexdigest()
    # werkzeug's secure_filename renames what it does not like: the adapter says so.
    with pytest.raises(pl.Refused, match="'mis notas.txt' stored as 'mis_notas.txt'"):
        net.index(n3, "mis notas.txt", b"x")


@pytest.mark.integration
def test_the_adapter_tells_unavailable_from_refused(net):
    gone = pl.NodeInfo(
        "gone", f"http://127.0.0.1:{free_port('127.0.0.1', set())}", "127.0.0.1:1"
    )  # fmt: skip
    with pytest.raises(pl.Unavailable):
        net.health(gone)
    with pytest.raises(pl.Unavailable):
        list(net.download(gone, pl.Hit("gone", "f"), timeout=2))
    n1 = net.node("n1")
    with pytest.raises(pl.Refused):  # 400: an empty term
        net.search(n1, " ", 1)
    with pytest.raises(pl.Refused):  # NOT_FOUND: not in its index
        list(net.download(n1, pl.Hit("n1", "no-existe.bin"), timeout=2))


def verify_checks(stdout: str) -> dict[str, tuple[str, str]]:
    """``python -m networks.verify``'s check lines (``Check.line``): name -> outcome, detail."""
    checks = {}
    for line in stdout.splitlines():
        head, said, detail = line.partition(": ")
        if said and not line.startswith("networks.verify"):
            checks[head[16:]] = (head[:15].strip(), detail)
    return checks


@pytest.mark.integration
def test_verify_runs_to_the_end_and_reports_the_real_flaws():
    run = subprocess.run(
        [sys.executable, "-m", "networks.verify", "--network", str(NETWORK)],
        capture_output=True, text=True, timeout=90, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    checks = verify_checks(run.stdout)
    outcome = {name: said for name, (said, _) in checks.items()}
    # joined: registration is one way and n2, n3 only ever register with n1, so they never
    # list each other (and nothing else tells them: no member list comes back, no gossip).
    assert outcome.pop("joined") == FAIL
    assert "n2 does not see n3 listed" in checks["joined"][1]
    assert "n3 does not see n2 listed" in checks["joined"][1]
    # ttl_depth: the launcher records a full mesh for a network that joins by "first", where
    # a TTL cannot show; flow: compartir has no node-to-node download to ask for; its
    # adapter has no malformed requests to send, no way to take a file away and no member
    # that serves wrong files, and its nodes report no totals of their own (nor count live
    # peers: they list members without saying which are alive).
    assert outcome.pop("ttl_depth") == outcome.pop("flow") == NOT_MEASURABLE
    assert outcome.pop("malformed") == outcome.pop("remove") == NOT_MEASURABLE
    assert outcome.pop("rogue") == outcome.pop("counts") == NOT_MEASURABLE
    # account: it lists members, none said alive; minimal: its adapter makes no such member
    assert outcome.pop("account") == outcome.pop("minimal") == NOT_MEASURABLE
    # Everything else passes, each saying what it could not verify: no sha256 anywhere.
    assert outcome == dict.fromkeys(
        ["up", "search", "ttl0", "ttl1", "download", "corpus", "index", "sizes", "parallel"]
        + ["concurrent"],
        PASS,
    ), run.stdout
    assert "by name only (no digest listed)" in checks["corpus"][1]
    assert run.stdout.rstrip().endswith("10 passed, 1 failed")


@pytest.mark.integration
def test_after_the_seed_restarts_it_knows_one_node_and_the_rest_is_out_of_reach(launched, net):
    """Last in this module: it leaves the network split. n1 comes back with an empty member
    list and registers with n2 only (the launcher's restart join for "first"); n3 still lists
    n1, but nobody forwards to n3 any more."""
    launched.stop("n1")
    launched.start("n1")
    n1, n2, n3 = (net.node(n) for n in ("n1", "n2", "n3"))
    assert net.health(n1)["archivos"] == FILES_PER_NODE + len(CLUTTER)  # indexed again
    assert net.peers(n1) == {"n2": pl.LISTED}
    assert net.peers(n3) == {"n1": pl.LISTED}
    only_n3 = n3.files[0]
    assert net.search(n2, only_n3["name"], 7).hits == ()
    assert [h.node for h in net.search(n3, n2.files[0]["name"], 2).hits] == ["n2"]
