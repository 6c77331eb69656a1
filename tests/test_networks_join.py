"""Joining (networks/join.py): each node joins its earlier neighbours in the topology (every
link made once, by the later node), all its neighbours on a restart; a network that joins by
``earlier`` or ``first`` runs only as a full mesh; the bootstrap arguments render per peer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from networks import join
from networks.definition import load_network
from networks.topology import build
from tests.test_networks_definition import MINIMAL, load_text

ROOT = Path(__file__).resolve().parent.parent
NAMES = [f"n{i + 1}" for i in range(6)]
JOIN = 'join = { args = ["--peer", "{peer_http}"] }'


def network(tmp_path, peers: str | None = None):
    """tests/test_networks_definition.py's minimal network, joining by ``peers`` (default:
    the definition's default, ``topology``)."""
    extra = JOIN.replace(" }", f', peers = "{peers}" }}') if peers else JOIN
    return load_text(MINIMAL.replace(JOIN, extra), tmp_path)


@pytest.mark.parametrize("spec", ["full", "line", "ring", "random:d=3", "twotier:ultra=2,leaf=2"])
def test_every_link_is_made_once_by_the_later_node(tmp_path, spec):
    net = network(tmp_path)  # join.peers defaults to "topology"
    topo = build(spec, NAMES, seed=4)
    made = [(p, n) for n in NAMES for p in join.peers(net, topo, n, restart=False)]
    assert sorted(made) == sorted(topo.edges) and len(set(made)) == len(made)
    for node in NAMES:
        assert join.peers(net, topo, node, restart=True) == topo.neighbours(node)


def test_the_bootstrap_renders_to_the_earlier_neighbours(tmp_path):
    net = network(tmp_path)
    topo = build("ring", NAMES)
    run = {"python": "py", "workdir": "/w", "token": "t", "parent_pid": 1}

    def values(name):
        i = NAMES.index(name) + 1  # node i listens on port i
        own = {"name": name, "index": i, "host": "h", "data_dir": "/d", "http_port": i}
        return net.node_values(run, {**own, "grpc_port": 0})

    peers = [values(p) for p in join.peers(net, topo, "n6", restart=False)]
    assert net.command(values("n6"), peers) == [
        "run", "--port", "6", "--peer", "http://h:1", "--peer", "http://h:5",
    ]  # fmt: skip
    assert net.command(values("n1"), []) == ["run", "--port", "1"]


def test_earlier_and_first_keep_their_own_joins_and_run_only_as_full(tmp_path):
    full = build("full", NAMES)
    earlier, first = network(tmp_path, "earlier"), network(tmp_path / "..", "first")
    assert join.peers(earlier, full, "n4", restart=False) == ["n1", "n2", "n3"]
    assert join.peers(earlier, full, "n4", restart=True) == ["n1", "n2", "n3", "n5", "n6"]
    assert join.peers(first, full, "n4", restart=False) == ["n1"]
    assert join.peers(first, full, "n1", restart=False) == []
    assert join.peers(first, full, "n1", restart=True) == ["n2"]
    assert join.topology_for(earlier, "full", NAMES, 1).is_full
    with pytest.raises(ValueError, match="joins by 'first' .* only as 'full', not 'ring'"):
        join.topology_for(first, "ring", NAMES, 1)
    with pytest.raises(ValueError, match="not this run's nodes"):
        join.topology_for(earlier, build("full", NAMES[:3]), NAMES, 1)


def test_the_shipped_networks_join_by_topology():
    assert load_network("builtin").joins_by_topology


@pytest.mark.parametrize("module", ["networks.cluster", "networks.verify"])
def test_a_bad_topology_is_one_line_and_exit_2_before_any_node_starts(module):
    run = subprocess.run(
        [sys.executable, "-m", module, "--nodes", "5", "--topology", "random:d=9"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stderr.strip().endswith(
        "'random:d=9' on 5 nodes: d must be 2..4 (below the node count)"
    )
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr
