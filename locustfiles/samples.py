"""Raw per-request samples, kept because per-window verdicts need them (Locust's history rows
are 5 s sliding windows). Workers ship theirs to the master with every stats report.

At the end of a distributed run the master **drains** the workers before it checks the network:
a headless Locust master fires ``test_stop`` without stopping its workers (it sends them
``quit`` only once every ``test_stop`` listener has returned), so their users would go on
uploading while the integrity check reads each node's file list, and every upload acknowledged
after that read would look lost. The drain stops each worker's users and waits for what they
had not yet reported (samples and acknowledged uploads), so the checks see a quiet network and
the whole record.
"""

from __future__ import annotations

import time

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

REPORT_KEY = "peerload_samples"
ACKED_KEY = "peerload_acked"
DRAIN_MESSAGE = "peerload_drain"  # master -> worker: stop your users, send what is left
DRAINED_MESSAGE = "peerload_drained"  # worker -> master: the rest of its samples and acks
DRAIN_TIMEOUT_S = 5.0  # a live worker answers in well under a second
DRAIN_POLL_S = 0.05
MAX_ERROR_CHARS = 200
REPORT_LAG_S = 3.5  # workers report every 3 s: their samples arrive up to this late
#: Facts a request may add to its sample, raw, for ``reports.checker`` to judge: a download's
#: ``violation`` (corrupt bytes); a search's ``term`` and ``ttl`` and its answer (``hits`` as
#: compact lists, ``reached``, ``partial``, ``messages``, the node's own ``elapsed_ms``); the
#: file ``name`` an upload or a pull put on its node; the ``file`` a download asked for and what
#: its stream ``stated`` of it (``reports.stated``); the ``status`` a node failed a call with.
SAMPLE_FACTS = (
    "violation",
    "term",
    "ttl",
    "hits",
    "reached",
    "partial",
    "messages",
    "elapsed_ms",
    "name",
    "of",
    "file",
    "stated",
    "status",
)


def sample_from_request(
    request_type: str, name: str, response_time, response_length, exception, context, start_time
) -> dict:
    context = context or {}
    return {
        "t": start_time,
        "op": name,
        "proto": request_type,  # the adapter says which protocol the operation used
        "node": context.get("node"),
        "home": context.get("home"),
        "latency_ms": round(float(response_time or 0), 3),
        "bytes": int(response_length or 0),
        "ok": exception is None,
        "error": None if exception is None else str(exception)[:MAX_ERROR_CHARS],
        "failover": bool(context.get("failover")),
        # Correctness evidence (reports.correctness): set only where it applies.
        **{k: context[k] for k in SAMPLE_FACTS if context.get(k) is not None},
    }


class SampleRecorder:
    """Collects samples (and acked uploads) where they happen and where they are judged."""

    def __init__(self, environment: Environment, state) -> None:
        self.environment = environment
        self.state = state
        self._outbox: list[dict] = []
        self._acked_outbox: list[dict] = []
        self._reporters: set[str] = set()  # workers that ever reported (master)
        self._drained: set[str] = set()
        events = environment.events
        events.request.add_listener(self.on_request)
        if isinstance(environment.runner, WorkerRunner):
            events.report_to_master.add_listener(self.on_report_to_master)
        elif isinstance(environment.runner, MasterRunner):
            events.worker_report.add_listener(self.on_worker_report)
            environment.runner.register_message(DRAINED_MESSAGE, self.on_drained)

    @property
    def _local(self) -> bool:
        return not isinstance(self.environment.runner, WorkerRunner)

    def on_request(
        self,
        request_type,
        name,
        response_time,
        response_length,
        exception=None,
        context=None,
        start_time=None,
        **_,
    ) -> None:
        sample = sample_from_request(
            request_type, name, response_time, response_length, exception, context, start_time
        )
        (self.state.samples if self._local else self._outbox).append(sample)

    def ack(self, upload: dict) -> None:
        """An upload the network acknowledged: it must survive the run."""
        (self.state.acked if self._local else self._acked_outbox).append(upload)

    def flush(self) -> dict:
        """What this worker has not yet sent to the master (and forget it)."""
        data = {REPORT_KEY: self._outbox, ACKED_KEY: self._acked_outbox}
        self._outbox, self._acked_outbox = [], []
        return data

    def on_report_to_master(self, client_id, data: dict) -> None:
        data.update(self.flush())

    def on_worker_report(self, client_id, data: dict) -> None:
        self._reporters.add(client_id)
        self.state.samples.extend(data.get(REPORT_KEY, []))
        self.state.acked.extend(data.get(ACKED_KEY, []))

    def on_drained(self, environment, msg, **_) -> None:
        self.on_worker_report(msg.node_id, msg.data or {})
        self._drained.add(msg.node_id)

    def drain(self, timeout: float = DRAIN_TIMEOUT_S) -> list[str]:
        """Master: stop every live worker's users and collect what they had not reported; the
        workers that did not answer in ``timeout`` (their last samples are missing)."""
        runner = self.environment.runner
        missing = {cid for cid, c in runner.clients.items() if c.state == STATE_MISSING}
        # Workers the master already stopped drop out of ``clients`` until they say ready again.
        asked = (set(runner.clients) | self._reporters) - missing
        self._drained.clear()
        for client_id in asked:
            runner.send_message(DRAIN_MESSAGE, None, client_id)
        deadline = time.monotonic() + timeout
        while not asked <= self._drained and time.monotonic() < deadline:
            gevent.sleep(DRAIN_POLL_S)
        return sorted(asked - self._drained)


def on_drain(environment):
    """Worker: the handler of the master's drain request."""

    def handler(msg, **_) -> None:
        runner = environment.runner
        if runner.user_count:  # users still running: a headless master never stopped them
            runner.stop()
        state = getattr(environment, "peerload", None)
        recorder = getattr(state, "recorder", None)
        runner.send_message(DRAINED_MESSAGE, recorder.flush() if recorder else {})

    return handler
