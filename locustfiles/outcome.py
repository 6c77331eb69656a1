"""How a run's end reaches the person: the verdict as the last line, and in the web UI as soon
as a run ends.

Locust prints its stats tables, percentiles and error report *after* the ``quitting`` event
(where the exit code is set), then fires ``quit``: our final lines (report path, then
``peerload: <verdict>``) are printed there, so they are the last lines of the output. In the web
UI a run ends long before the process quits: its verdict is printed at ``test_stop`` and shown
on the Cluster page and the Criteria tab.
"""

from __future__ import annotations

from reports.results import HTML, MARKDOWN

from . import console
from .record import exit_code
from .resultsdir import folders


def report_line(state) -> str | None:
    folder = getattr(state, "results_dir", None)
    if folder is None or state.verdict is None:
        return None
    return f"report: {folder / MARKDOWN} and {folder / HTML}"


NO_RUN = "no run was started: nothing judged, nothing written"


def run_started(state) -> bool:
    return getattr(state, "results_dir", None) is not None


def final_lines(state) -> list[str]:
    """What the console ends with: the report's path (when one was written), the verdict."""
    if not run_started(state):  # a web-UI session that never ran load
        return [NO_RUN]
    report = report_line(state)
    return ([report] if report else []) + [exit_code(state)[1]]


def _master_state(environment):
    from locust.runners import WorkerRunner  # in Locust only: importing it patches the process

    if isinstance(environment.runner, WorkerRunner):
        return None
    return getattr(environment, "peerload", None)


def on_run_end(environment, **_) -> None:
    """``test_stop``, after the lifecycle wrote the reports: the folder to serve from now on,
    and in the web UI the verdict of the run that just ended."""
    state = _master_state(environment)
    if state is None or not run_started(state):  # Locust fires test_stop at quit regardless
        return
    run_folders = folders(environment)
    if run_folders is not None and state.verdict is not None:
        run_folders.finished = state.results_dir
    if environment.web_ui is not None:
        console.say(f"run ended: {exit_code(state)[1]}")


def on_quit(environment) -> None:
    """``quit``: after Locust's tables, so our verdict is the last line."""
    state = _master_state(environment)
    if state is None:
        return
    for line in final_lines(state):
        console.say(line)
