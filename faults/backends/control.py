"""The portable backend: the cluster control API for processes, the nodes' admin API for links.

Both take the descriptor's token as ``Authorization: Bearer``. Partitions here are made by the
nodes themselves (each drops the named peers, both directions), and so is loss (each drops that
share of its peer messages, both directions); that works anywhere the cluster runs, at the cost
of being a simulation rather than real packet loss: a whole message is lost, never retransmitted.
A bandwidth cap cannot be made this way: it needs the netns backend. Only peerload's own node
serves that admin API: on any other network (the descriptor's ``network``) an admin call is
refused here, saying why, and never sent to a node that would answer 404 or something else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..httpjson import DEFAULT_TIMEOUT_S, HttpError, request_json

START_TIMEOUT_S = 60.0  # /start returns once the node answers /health
STOP_TIMEOUT_S = 30.0  # /stop waits for the process to exit
CONFLICT = 409
#: The descriptor ``network`` values whose nodes serve peerload's /admin API: peerload's own node
#: (``networks.BUILTIN``; a descriptor without ``network`` was written before other networks).
ADMIN_API_NETWORKS = frozenset({None, "builtin"})
ALREADY_THERE = {"start": "already running", "resume": "not paused"}


class DescriptorError(ValueError):
    """A cluster descriptor that cannot be used."""


class NotApplied(HttpError):
    """A fault this cluster cannot have: refused before any call was made (nothing to undo)."""


class NoAdminApi(NotApplied):
    """The network's nodes do not serve peerload's /admin API: the call was not made."""


def admin_api_missing(descriptor: Mapping[str, Any]) -> str | None:
    """Why the nodes of this descriptor cannot be asked through /admin, or None if they can."""
    network = descriptor.get("network")
    if network in ADMIN_API_NETWORKS:
        return None
    return f"the {network} network does not serve peerload's node /admin API"


def small_disks_missing(descriptor: Mapping[str, Any]) -> str | None:
    """Why the nodes' data dirs cannot be filled (disk_full), or None if they can: each must be
    a small filesystem of its own, which the launcher mounts when asked (``disk_mb``)."""
    if descriptor.get("disk_mb"):
        return None
    return (
        "the nodes' data dirs are not small filesystems of their own (start the cluster with "
        "networks.cluster --disk-mb N, root only; the Locust suite does it for a plan with "
        "disk_full)"
    )


def load_descriptor(path: str | Path) -> dict[str, Any]:
    """Read and check a cluster descriptor written by ``networks.cluster``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise DescriptorError(
            f"{path}: cannot read cluster descriptor: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:
        raise DescriptorError(f"{path}: cluster descriptor is not JSON: {exc}") from None
    check_descriptor(data, str(path))
    return data


def check_descriptor(data: Any, source: str = "descriptor") -> None:
    if not isinstance(data, Mapping):
        raise DescriptorError(f"{source}: expected a JSON object")
    for key in ("control", "token", "nodes"):
        if key not in data:
            raise DescriptorError(f'{source}: missing "{key}"')
    nodes = data["nodes"]
    if not isinstance(nodes, list) or not nodes:
        raise DescriptorError(f'{source}: "nodes" must be a non-empty list')
    for i, node in enumerate(nodes):
        if not isinstance(node, Mapping) or not {"name", "http"} <= set(node):
            raise DescriptorError(f'{source}: nodes[{i}] needs at least "name" and "http"')


def each_node(nodes: Sequence[str], action: Any) -> dict[str, Any]:
    """Apply ``action(node)`` to every node even if some fail; then raise one combined error."""
    results: dict[str, Any] = {}
    errors = []
    for node in nodes:
        try:
            results[node] = action(node)
        except HttpError as exc:
            errors.append(f"{node}: {exc}")
    if errors:
        raise HttpError("; ".join(errors))
    return results


class ControlClient:
    """Calls to the control API (node processes) and to each node's admin API (its links)."""

    def __init__(self, descriptor: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT_S):
        check_descriptor(descriptor)
        self.control = str(descriptor["control"]).rstrip("/")
        self.token = str(descriptor["token"])
        self.nodes = {n["name"]: dict(n) for n in descriptor["nodes"]}
        self.timeout = timeout
        self.no_admin_api = admin_api_missing(descriptor)
        self.no_small_disks = small_disks_missing(descriptor)

    def node_names(self) -> list[str]:
        return list(self.nodes)

    def node_action(self, name: str, action: str) -> dict[str, Any]:
        """POST /nodes/NAME/ACTION (kill, stop, start, pause, resume, fill_disk, free_disk).

        Starting a running node or resuming one that is not paused answers 409; that is the
        state a heal wants, so it counts as success and says so.
        """
        timeout = {"start": START_TIMEOUT_S, "stop": STOP_TIMEOUT_S}.get(action, self.timeout)
        url = f"{self.control}/nodes/{name}/{action}"
        try:
            return request_json("POST", url, token=self.token, timeout=timeout)
        except HttpError as exc:
            if exc.status == CONFLICT and action in ALREADY_THERE:
                return {"name": name, "note": ALREADY_THERE[action]}
            raise

    def fill_disk(self, name: str) -> dict[str, Any]:
        """Fill ``name``'s small disk (networks.diskcheck.SmallDisks, as the launcher does)."""
        return self.node_action(name, "fill_disk")

    def free_disk(self, name: str) -> dict[str, Any]:
        return self.node_action(name, "free_disk")

    def node_states(self) -> dict[str, str]:
        """GET /nodes -> {name: state}."""
        url = f"{self.control}/nodes"
        answer = request_json("GET", url, token=self.token, timeout=self.timeout)
        return {n["name"]: n.get("state", "?") for n in answer.get("nodes", [])}

    def hosts_lost(self) -> dict[str, str]:
        """GET /nodes -> {host: why} for the hosts (``networks.cluster --hosts``) that stopped
        answering the launcher; empty on one machine."""
        url = f"{self.control}/nodes"
        answer = request_json("GET", url, token=self.token, timeout=self.timeout)
        nodes = answer.get("nodes", [])
        return {n.get("ssh", n["name"]): n["host_lost"] for n in nodes if n.get("host_lost")}

    def check_answers(self, source: str = "descriptor") -> None:
        """One GET /nodes before anything runs: a cluster that is gone (a stale descriptor) or
        refuses the token is a DescriptorError in one line, not a run of failed steps."""
        try:
            self.node_states()
        except HttpError as exc:
            raise DescriptorError(
                f"{source}: the cluster does not answer ({exc}); is networks.cluster still running?"
            ) from None

    def require_admin_api(self, what: str) -> None:
        """NoAdminApi naming ``what`` needed it, unless the nodes serve peerload's /admin API."""
        if self.no_admin_api:
            raise NoAdminApi(f"{self.no_admin_api}, which {what} needs")

    def require_small_disks(self, what: str) -> None:
        """NotApplied naming ``what`` needed it, unless the data dirs are small filesystems."""
        if self.no_small_disks:
            raise NotApplied(f"{what}: {self.no_small_disks}")

    def admin(self, name: str, what: str, body: Any = None) -> dict[str, Any]:
        """POST to a node's /admin/WHAT (partition, latency, loss, heal)."""
        self.require_admin_api(what)
        url = f"{self.nodes[name]['http'].rstrip('/')}/admin/{what}"
        return request_json("POST", url, body, token=self.token, timeout=self.timeout)

    def fault_state(self, name: str) -> dict[str, Any]:
        """GET a node's /admin/faults -> {"drop": [...], "latency_ms": N, "loss_pct": N}."""
        self.require_admin_api("faults")
        url = f"{self.nodes[name]['http'].rstrip('/')}/admin/faults"
        return request_json("GET", url, token=self.token, timeout=self.timeout)


class ControlNetwork:
    """Partitions, loss and delays through the nodes' admin API."""

    name = "control"

    def __init__(self, control: ControlClient) -> None:
        self.control = control

    def _require_admin_api(self) -> None:
        self.control.require_admin_api(f"a partition with the {self.name} backend")

    def partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        self._require_admin_api()

        def cut(node: str) -> Any:
            return self.control.admin(node, "partition", {"drop": list(grudge[node])})

        return {"backend": self.name, "nodes": each_node(list(grudge), cut)}

    def heal_partition(self, key: str, grudge: Mapping[str, Sequence[str]]) -> dict[str, Any]:
        self._require_admin_api()

        def mend(node: str) -> Any:
            return self.control.admin(node, "partition", {"drop": []})

        return {"backend": self.name, "nodes": each_node(list(grudge), mend)}

    def loss(self, key: str, nodes: Sequence[str], percent: int) -> dict[str, Any]:
        """Each of ``nodes`` drops ``percent`` % of the peer messages it sends and receives."""
        return self._set_loss(nodes, percent)

    def heal_loss(self, key: str, nodes: Sequence[str]) -> dict[str, Any]:
        return self._set_loss(nodes, 0)

    def _set_loss(self, nodes: Sequence[str], percent: int) -> dict[str, Any]:
        self.control.require_admin_api(f"loss with the {self.name} backend")

        def apply(node: str) -> Any:
            return self.control.admin(node, "loss", {"pct": percent})

        return {"backend": self.name, "nodes": each_node(list(nodes), apply)}

    def slow(self, key: str, nodes: Sequence[str], ms: int) -> dict[str, Any]:
        """Each of ``nodes`` delays every peer message it sends by ``ms`` (in the node: this
        kernel has no netem to delay packets)."""
        return self._set_latency(nodes, ms)

    def fast(self, key: str, nodes: Sequence[str]) -> dict[str, Any]:
        return self._set_latency(nodes, 0)

    def _set_latency(self, nodes: Sequence[str], ms: int) -> dict[str, Any]:
        self.control.require_admin_api("latency")

        def apply(node: str) -> Any:
            return self.control.admin(node, "latency", {"ms": ms})

        return {"backend": self.name, "nodes": each_node(list(nodes), apply)}

    def bandwidth(self, key: str, nodes: Sequence[str], kbit: int) -> dict[str, Any]:
        """Never called: the bandwidth kind needs netns (``FaultKind.needs_backend``)."""
        raise NotApplied(f"a bandwidth cap needs the netns backend, not {self.name}")

    def heal_bandwidth(self, key: str, nodes: Sequence[str]) -> dict[str, Any]:
        return {"backend": self.name, "note": "no cap to remove"}

    def reset(self, nodes: Sequence[str]) -> dict[str, Any]:
        """Best effort: clear drops, latency and loss on every node that answers."""
        healed, skipped = [], {}
        for node in nodes:
            try:
                self.control.admin(node, "heal")
                healed.append(node)
            except HttpError as exc:
                skipped[node] = str(exc)
        return {"healed": healed, "skipped": skipped}

    def close(self) -> None:
        """Nothing is held outside the nodes."""
