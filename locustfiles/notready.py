"""A network that never became ready is judged, not refused: NOT READY with what each node saw
and the node logs in the results folder.

Two ways there. The embedded network's nodes never all answered their ready probe
(``networks.readiness.NotReady``): no load can run, so the run is judged at once, before Locust
starts one: the report says NOT READY (``initial_verification``: which node did not answer and
what each of the others saw), the node logs go to ``logs/``, and the exit code is the verdict's
(1). Or every node answered but they did not all join: the run goes on to its initial
verification, whose ``joined`` check judges it; the node logs are copied when the run ends.
Bad options stay exit 2 (checked before anything starts).
"""

from __future__ import annotations

import time
from typing import NoReturn

from networks.crashes import scan
from networks.readiness import NotReady, write_logs

from .console import say
from .record import judge
from .runstate import RunState


def judge_unready(environment, options, cluster, exc: NotReady) -> NoReturn:
    """Write the report of a run whose network never became ready; exit with its verdict."""
    now = time.time()
    folder = environment.peerload_results.start_run(options.results_dir, now)
    write_logs(exc.logs, folder)
    state = RunState(cluster.descriptor, started=now)
    state.crashes = scan(exc.logs)
    state.results_dir = folder
    seen = f"; joined: {'; '.join(exc.views)}" if exc.views else ""
    state.initial_problems = [f"ready: {exc}{seen}"]
    state.stopped_reason = "the network never became ready: no load was run"
    say(f"the network never became ready: {exc}{seen}")
    verdict = judge(state, options, folder)
    say(f"node logs: {folder / 'logs'}")
    say(f"report: {folder / 'PHASE4_FINAL_REPORT.md'} and {folder / 'report.html'}")
    say(verdict.reason)
    raise SystemExit(verdict.exit_code)
