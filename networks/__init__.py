"""Networks under test: how peerload starts, talks to and breaks a P2P network.

- ``networks.adapter``: the interface (``Adapter``, ``NodeInfo``, ``Hit``, ``SearchAnswer``);
- ``networks.builtin``: peerload's own node, the default network;
- ``networks.definition`` / ``networks.launcher``: a network's definition file and the
  process control that starts any binary from it;
- ``networks.verify``: conformance checks before load (``python -m networks.verify``).
"""

from __future__ import annotations

from .adapter import Adapter

BUILTIN = "builtin"


def adapter_class(spec: str | None) -> type[Adapter]:
    """The adapter of a network: ``None``/``builtin`` (peerload's node), ``module:Class``, or
    a network definition (a shipped name or a file) naming its adapter. ``ValueError`` if it
    cannot be found or is not an ``Adapter``."""
    if spec in (None, "", BUILTIN):
        from .builtin import BuiltinAdapter

        return BuiltinAdapter
    from .definition import load_network  # a shipped name, a definition file, module:Class

    return load_network(spec).adapter_class
