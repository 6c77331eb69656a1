"""Lost workers, by name: Locust's most reported distributed failure is a worker whose heartbeat
goes missing (usually a CPU so busy it cannot send one; the master marks it ``missing``, and
drops it a minute later). Locust only logs it; the run record keeps it.

On the master a greenlet looks at the workers every ``POLL_S`` while the load runs and notes
each one marked missing with why (``RunState.workers_lost``, worker id -> why: Locust's id is
``hostname_hex``, so it names the host too); the drain at the end notes a worker that did not
hand over its last samples. The ``workers`` harness check names them (reports/harness.py): a
lost worker makes the run INCONCLUSIVE, never a verdict on the network.
"""

from __future__ import annotations

import gevent
from locust import events
from locust.runners import STATE_MISSING, MasterRunner

from .console import say

POLL_S = 1.0
MISSING = "its heartbeat went missing (Locust marked it missing: usually a saturated CPU)"
SILENT = "did not hand over its last samples at the end"


def note(state, worker: str, why: str) -> None:
    """Record a lost worker once, with why, and say it."""
    if state is None or worker in state.workers_lost:
        return
    state.workers_lost[worker] = why
    state.worker_died = True
    say(f"worker {worker} lost: {why}")


def note_missing(environment) -> None:
    """Every worker the master holds as missing now."""
    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    state = getattr(environment, "peerload", None)
    for client in list(runner.clients.values()):
        if client.state == STATE_MISSING:
            note(state, client.id, MISSING)


def _watch(environment) -> None:
    while True:
        note_missing(environment)
        gevent.sleep(POLL_S)


@events.test_start.add_listener
def on_test_start(environment, **_) -> None:
    if isinstance(environment.runner, MasterRunner):
        old = getattr(environment, "peerload_heartbeats", None)
        if old is not None:
            old.kill(block=False)
        environment.peerload_heartbeats = gevent.spawn(_watch, environment)


@events.quitting.add_listener
def on_quitting(environment, **_) -> None:
    watcher = getattr(environment, "peerload_heartbeats", None)
    if watcher is not None:
        watcher.kill(block=False)


def note_hosts(state) -> None:
    """Hosts the nodes run on (``networks.cluster --hosts``) that stopped answering the
    launcher, from its control API: the ``hosts`` check makes the run INCONCLUSIVE on them."""
    if state is None or not (state.descriptor or {}).get("hosts"):
        return
    from faults.backends.control import ControlClient  # noqa: PLC0415 - only for runs on hosts

    try:
        state.hosts_lost = ControlClient(state.descriptor).hosts_lost()
    except Exception as exc:  # noqa: BLE001 - a control API that does not answer says as much
        state.hosts_lost = {"the launcher": f"its control API did not answer ({exc})"}
    for host, why in state.hosts_lost.items():
        say(f"host {host} lost: {why}")
