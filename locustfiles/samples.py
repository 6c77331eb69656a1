"""Raw per-request samples, kept because per-window verdicts need them (Locust's history rows
are 5 s sliding windows). Workers ship theirs to the master with every stats report.
"""

from __future__ import annotations

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

REPORT_KEY = "peerload_samples"
ACKED_KEY = "peerload_acked"
MAX_ERROR_CHARS = 200
REPORT_LAG_S = 3.5  # workers report every 3 s: their samples arrive up to this late
#: Facts a request may add to its sample: the correctness violation it showed, and for a search
#: the peer messages it cost, whether it said ``partial``, whether a hit was expected.
SAMPLE_FACTS = ("violation", "messages", "partial", "expects_hit")


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
        events = environment.events
        events.request.add_listener(self.on_request)
        if isinstance(environment.runner, WorkerRunner):
            events.report_to_master.add_listener(self.on_report_to_master)
        elif isinstance(environment.runner, MasterRunner):
            events.worker_report.add_listener(self.on_worker_report)

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

    def on_report_to_master(self, client_id, data: dict) -> None:
        data[REPORT_KEY], self._outbox = self._outbox, []
        data[ACKED_KEY], self._acked_outbox = self._acked_outbox, []

    def on_worker_report(self, client_id, data: dict) -> None:
        self.state.samples.extend(data.get(REPORT_KEY, []))
        self.state.acked.extend(data.get(ACKED_KEY, []))
