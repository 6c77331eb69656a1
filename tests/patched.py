"""Our node with one defect, as a network of its own: the builtin definition whose node runs
``code`` (which patches the node's modules) before the node's own ``__main__``. How the
conformance checks are shown to fail on a node that has the defect they are for."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from networks.adapter import Adapter, NodeInfo
from networks.definition import NetworkDefinition, load_file
from networks.launcher import Launcher
from networks.verify import Check

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "networks" / "builtin.toml"
RUN_NODE = "sys.argv[0] = 'node'; runpy.run_module('node', run_name='__main__')"


def patched_definition(tmp_path: Path, name: str, code: str) -> NetworkDefinition:
    """The builtin definition, named ``name``, its node started after ``code`` (one line of
    Python with single quotes only; ``runpy`` and ``sys`` are imported)."""
    program = f"import runpy, sys; {code}; {RUN_NODE}"
    text = BUILTIN.read_text().replace(
        '"{python}", "-m", "node"', f'"{{python}}", "-c", "{program}"'
    )
    text = text.replace('cwd = ".."', f'cwd = "{ROOT}"').replace("{here}/..", str(ROOT))
    text = re.sub(r"^preload = .*\n", "", text, flags=re.M)  # -c: an interpreter, not forked
    text = text.replace('name = "builtin"', f'name = "{name}"')
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return load_file(path)


@contextmanager
def two_nodes(
    network: str | NetworkDefinition, tmp_path: Path, **options
) -> Iterator[tuple[Launcher, Adapter, list[NodeInfo]]]:
    """Two nodes of ``network`` with two seeded files each (``options``: the launcher's), and
    an adapter to them."""
    with Launcher(network, 2, files_per_node=2, workdir=tmp_path / "run", **options) as launcher:
        nodes = launcher.node_infos()
        net = launcher.network.adapter_class(nodes)
        try:
            yield launcher, net, nodes
        finally:
            net.close()


def check_on_two(network: str | NetworkDefinition, tmp_path: Path, check: Callable) -> Check:
    """``check(adapter, nodes)`` on two nodes of ``network`` with two seeded files each."""
    with two_nodes(network, tmp_path) as (_, net, nodes):
        return check(net, nodes)
