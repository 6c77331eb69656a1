"""Node limits from the machine (networks/capacity.py): memory, descriptors and ports each bound
the node count, and a request over one is refused naming it and by how much."""

from __future__ import annotations

import resource

import pytest

from networks import capacity
from networks.definition import load_network


def test_the_limits_are_this_machines():
    found = {limit.resource: limit for limit in capacity.limits(2)}
    assert set(found) == {"memory", "file descriptors", "ports"}
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        assert found["file descriptors"].most == (hard - capacity.FDS_BASE) // 64
    low, high = capacity.port_range()
    assert found["ports"].most == (high - low + 1) // 2
    assert capacity.most_nodes(2).most == min(x.most for x in found.values())


def test_too_many_nodes_name_the_resource_and_by_how_much():
    memory = next(x for x in capacity.limits(2, memory_mb=10_000_000) if x.resource == "memory")
    with pytest.raises(ValueError, match=r"memory allows \d+ \(\d+ too many; .* MB per node\)"):
        capacity.check(memory.most + 3, 2, memory_mb=10_000_000)
    capacity.check(1, 2)  # one node fits any machine that runs this test


def test_a_definition_declares_its_memory_and_the_launcher_checks_it(tmp_path):
    builtin = load_network("builtin")
    assert builtin.memory_mb == capacity.NODE_MEMORY_MB
    builtin.check_size(3)
    with pytest.raises(ValueError, match="--nodes must be 1..243"):
        builtin.check_size(244)
    text = (
        (builtin.here / "builtin.toml")
        .read_text()
        .replace('name = "builtin"', 'name = "hungry"\nmemory_mb = 60000\nmax_nodes = 5')
    )
    (tmp_path / "hungry.toml").write_text(text.replace('cwd = ".."', f'cwd = "{builtin.here}/.."'))
    hungry = load_network(str(tmp_path / "hungry.toml"))
    with pytest.raises(ValueError, match="--nodes must be 1..5 for network hungry"):
        hungry.check_size(6)
    if capacity.most_nodes(2, 60000).most < 5:
        with pytest.raises(ValueError, match="memory allows"):
            hungry.check_size(5)


def test_the_soft_descriptor_limit_is_raised_to_the_hard_one_when_needed():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        assert capacity.raise_fd_limit(2) == min(1024, hard)  # enough: left alone
        now = capacity.raise_fd_limit(100)
        assert now == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert now == (hard if hard != resource.RLIM_INFINITY else now)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
