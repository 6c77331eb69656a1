"""The fault backend is chosen once, said at the start and used; what it cannot apply to this
network is named up front, and its steps fail in the journal without touching the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import BackendError, Runner, fit_for, load_plan, parse_plan, resolve, step_records
from faults.backends import netns
from faults.testing import FakeCluster
from locustfiles import validate
from networks import netns as namespaces
from tests.test_run_output import options

TINY = "examples/tinyp2p/network.toml"
COMPARTIR = "examples/compartir/network.toml"
LATENCY_ONLY = """[[fault]]
id = "slow"
kind = "latency"
ms = 50
target = "n2"
at = "0s"
duration = "0.2s"
"""
NODES = ("n1", "n2", "n3")
NO_NFT = "no nft binary on PATH"
PLAN = """
version = 1
backend = "{backend}"
[[fault]]
id = "isolate"
kind = "partition"
target = "n3"
at = "0s"
duration = "0.2s"
[[fault]]
id = "crash"
kind = "crash"
target = "n1"
at = "0.3s"
duration = "0.2s"
[[fault]]
id = "slow"
kind = "latency"
ms = 50
target = "n2"
at = "0.6s"
duration = "0.2s"
"""


def timeline(backend: str = "auto"):
    return resolve(parse_plan(PLAN.format(backend=backend)), NODES)


def descriptor(network: str | None = None, shared: bool = True, spaces: bool = False) -> dict:
    hosts = {n: "127.0.0.1" if shared else f"10.213.0.{11 + i}" for i, n in enumerate(NODES)}
    nodes = [{"name": n, "http": f"http://{h}:9", "host": h} for n, h in hosts.items()]
    if spaces:  # a namespace per node (--netns), as the launcher's descriptor says
        nodes = [{**n, "netns": f"pl-1-{n['name']}"} for n in nodes]
    return {"network": network, "control": "http://127.0.0.1:9", "token": "t", "nodes": nodes}


@pytest.fixture
def no_nft(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns, "available", lambda d=None: (False, NO_NFT))


@pytest.fixture
def nft(monkeypatch: pytest.MonkeyPatch) -> None:
    def available(d=None):
        return (True, "root, nft") if d is None or netns.node_hosts(d) else (False, "shared")

    monkeypatch.setattr(netns, "available", available)
    monkeypatch.setattr(namespaces, "available", lambda: (True, "root and ip"))


# -- what is said ----------------------------------------------------------------------------
def test_our_node_can_have_every_fault_with_either_backend(no_nft):
    fit = fit_for(timeline(), descriptor("builtin"))
    assert fit.backend.name == "control" and fit.not_applied == ()
    assert fit.lines() == [
        f"faults: control backend, auto picked it (netns not available: {NO_NFT})"
    ]


def test_the_control_backend_on_another_network_names_what_it_cannot_apply(no_nft):
    fit = fit_for(timeline(), descriptor(TINY))
    assert fit.not_applied == ("isolate:n3 (partition)", "slow:n2 (latency)")
    said, warning = fit.lines()
    assert said.startswith("faults: control backend, auto picked it (netns not available")
    assert warning == (
        "faults: WARNING: 2 faults will not be applied to this network: isolate:n3 (partition), "
        f"slow:n2 (latency): the {TINY} network does not serve peerload's node /admin API, which "
        "latency and partition need with the control backend; the run goes on and ends "
        "INCONCLUSIVE (a fault that never happened is not the network's failure)"
    )


def test_netns_cuts_another_network_given_an_address_per_node(nft):
    fit = fit_for(timeline(), descriptor(TINY, shared=False))
    assert fit.backend.name == "netns" and fit.not_applied == ("slow:n2 (latency)",)
    assert "which latency needs with the netns backend" in fit.lines()[1]


def test_netns_delays_another_network_in_its_nodes_namespaces(nft):
    fit = fit_for(timeline(), descriptor(TINY, shared=False, spaces=True))
    assert fit.backend.name == "netns" and fit.not_applied == ()  # a delay line per namespace


def test_a_delay_line_without_a_tun_device_is_named_before_the_run(nft, monkeypatch):
    from faults.kinds import latency

    monkeypatch.setattr(latency, "TUN_PATH", "/dev/net/no-such-tun")  # a machine without tun
    fit = fit_for(timeline(), descriptor(TINY, shared=False, spaces=True))
    assert fit.not_applied == ("slow:n2 (latency)",)
    assert "latency: the delay line needs /dev/net/no-such-tun" in fit.lines()[1]
    fit = fit_for(timeline(), descriptor("builtin"))  # set in the node: no TUN needed
    assert fit.not_applied == ()


LINKS = str(Path(__file__).resolve().parent / "plans" / "links.toml")


def test_a_bandwidth_cap_is_named_up_front_where_the_backend_is_not_netns(no_nft):
    links = resolve(load_plan(LINKS), NODES)
    fit = fit_for(links, descriptor("builtin"))  # loss goes through our node's /admin API
    assert fit.backend.name == "control"
    assert fit.not_applied == ("narrow:n2 (bandwidth)",)  # n2: the seeded minority of three
    assert "bandwidth: needs the netns backend, and this run's is control" in fit.lines()[1]
    fit = fit_for(links, descriptor(TINY))  # another network: neither can be made
    assert [k.split(" ")[1] for k in fit.not_applied] == ["(loss)"] * 3 + ["(bandwidth)"]


def test_netns_makes_loss_and_bandwidth_on_any_network_given_an_address_per_node(nft):
    fit = fit_for(resolve(load_plan(LINKS), NODES), descriptor(TINY, shared=False))
    assert fit.backend.name == "netns" and fit.not_applied == ()


def test_a_plan_asking_for_netns_where_it_cannot_work_is_refused_before_the_run(no_nft):
    with pytest.raises(BackendError, match=f"netns backend not available: {NO_NFT}"):
        fit_for(timeline("netns"), descriptor("builtin", shared=False))


# -- namespaces only for the backend that uses them --------------------------------------------
def plan_file(tmp_path, backend: str) -> str:
    path = tmp_path / f"{backend}.toml"
    path.write_text(PLAN.format(backend=backend))
    return str(path)


def test_a_namespace_per_node_only_when_netns_will_cut_the_partitions(tmp_path, monkeypatch):
    tiny = options(network=TINY, fault_plan=plan_file(tmp_path, "auto"))
    monkeypatch.setattr(netns, "available", lambda d=None: (False, NO_NFT))
    assert validate.needs_netns(tiny) is None  # nft missing: control, said at the start
    monkeypatch.setattr(netns, "available", lambda d=None: (True, "root, nft"))
    monkeypatch.setattr(namespaces, "available", lambda: (True, "root and ip"))
    assert validate.needs_netns(tiny).startswith("one network namespace per node")
    assert validate.needs_netns(options(fault_plan=plan_file(tmp_path, "auto"))) is None
    control = options(network=TINY, fault_plan=plan_file(tmp_path, "control"))
    assert validate.needs_netns(control) is None
    assert validate.needs_netns(options(network=TINY, fault_plan="none", netns=True)) == "--netns"
    links = options(network=TINY, fault_plan=LINKS)  # loss and bandwidth: by address too
    assert validate.needs_netns(links).startswith("one network namespace per node")


def test_a_delay_on_a_network_without_the_admin_api_asks_for_a_namespace_per_node(tmp_path, nft):
    slow = tmp_path / "slow.toml"
    slow.write_text(PLAN.format(backend="auto").split("[[fault]]", 1)[0] + LATENCY_ONLY)
    compartir = options(network=COMPARTIR, fault_plan=str(slow))  # an address per node
    assert "delays links (latency)" in validate.needs_netns(compartir)
    assert validate.needs_netns(options(fault_plan=str(slow))) is None  # ours: in the node


def test_a_plan_asking_for_netns_where_it_cannot_work_is_a_bad_option(tmp_path, no_nft):
    with pytest.raises(ValueError, match=f"--fault-plan: netns backend not available: {NO_NFT}"):
        validate.check_plan(plan_file(tmp_path, "netns"))


# -- what happens ----------------------------------------------------------------------------
def test_a_fault_the_backend_cannot_apply_fails_in_the_journal_without_touching_the_network():
    with FakeCluster(3) as cluster:
        tiny = {**cluster.descriptor, "network": TINY}
        runner = Runner(timeline("control"), tiny)
        result = runner.run()
    records = step_records(runner.journal.records)
    steps = {(r["fault_id"], r["phase"], r["detail"].get("reason")): r for r in records}
    assert {k: r["outcome"] for k, r in steps.items()} == {
        ("isolate", "start", None): "error",
        ("isolate", "end", None): "ok",  # nothing took effect: nothing to heal, no final heal
        ("crash", "start", None): "ok",
        ("crash", "end", None): "ok",
        ("slow", "start", None): "error",
        ("slow", "end", None): "ok",
    }
    assert steps[("isolate", "end", None)]["detail"]["note"] == "nothing to heal"
    assert steps[("isolate", "start", None)]["error"] == (
        f"NoAdminApi: the {TINY} network does not serve peerload's node /admin API, which a "
        "partition with the control backend needs"
    )
    assert result.status == "failed" and result.steps_failed == 2
    assert not [c for c in cluster.calls if "/admin/" in c[1]]  # nothing sent to the nodes
    assert [c[1] for c in cluster.calls] == ["/nodes/n1/kill", "/nodes/n1/start"]
