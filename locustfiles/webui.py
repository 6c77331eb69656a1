"""The network in Locust's web UI: Cluster, Fault journal and Criteria tabs, and a Cluster page
with buttons that crash, restart, pause, resume, isolate and heal nodes.

Locust's React UI can only show extra *tables* (one per tab, fed through ``/stats/requests``),
so controls live on a page of our own served by the UI's Flask app, linked from the "Download
Data" tab. Every view honours ``--web-login``. Buttons go through the fault controller and are
journaled like scheduled faults.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from faults.types import START
from reports.evidence import FAULT
from reports.live import judge_so_far
from reports.results import HTML
from reports.samples import DERIVED_OPS

from .faultstage import buttons
from .monitor import Monitor
from .record import exit_code, run_record
from .resultsdir import folders
from .samples import REPORT_LAG_S

PAGE = Path(__file__).with_name("cluster.html")
BASE = "/peerload/cluster"
CRITERIA_CACHE_S = 2.0
NODE_REFRESH_S = 2.0
JOURNAL_ROWS = 50
FINISHED = "Verdict of the finished run"
LIVE_TITLE, FINAL_TITLE = "Criteria so far", "Final criteria"

IDLE_LABEL = "no run yet"
#: Locust's React header renders "Status" then the runner's state; an idle runner's is "ready".
IDLE_SCRIPT = (
    "(()=>{const fix=()=>{for(const el of document.querySelectorAll('p,span,h6')){"
    "const v=el.nextElementSibling;"
    "if(el.textContent==='Status'&&v&&v.textContent==='ready'){"
    f"v.textContent='{IDLE_LABEL}';"
    "v.title='Locust is idle: no test has run yet. The verdict comes when a run ends.';}}};"
    "new MutationObserver(fix).observe(document.body,"
    "{childList:true,subtree:true,characterData:true});fix();})();"
)

TABLES = {
    "peerload-cluster": (
        "Cluster",
        [
            ("node", "Node"),
            ("state", "State"),
            ("peers_alive", "Peers alive"),
            ("files", "Files"),
            ("cpu", "CPU"),
            ("rss", "RSS"),
            ("rtt", "RTT to peers"),
            ("served", "Requests served"),
            ("failed", "Requests failed"),
            ("host", "Host"),
            ("pid", "PID"),
        ],
    ),
    "peerload-faults": (
        "Fault journal",
        [
            ("time", "Offset (s)"),
            ("fault", "Fault"),
            ("kind", "Kind"),
            ("target", "Target"),
            ("phase", "Phase"),
            ("outcome", "Outcome"),
            ("detail", "Detail"),
        ],
    ),
    "peerload-criteria": (
        "Criteria",
        [
            ("criterion", "Criterion"),
            ("window", "Window"),
            ("value", "Value"),
            ("threshold", "Threshold"),
            ("verdict", "Verdict"),
            ("n", "Samples"),
        ],
    ),
}


class Served:
    """Requests each node served and failed in the run going on (or the last one finished),
    counted from the run's own samples as they arrive: right during a run and after it."""

    def __init__(self, state) -> None:
        self.state = state
        self._first: dict | None = None  # the run's first sample: a new run starts a new count
        self._seen = 0
        self.ok: Counter = Counter()
        self.failed: Counter = Counter()

    def update(self) -> None:
        samples = self.state.samples
        if not samples or samples[0] is not self._first or len(samples) < self._seen:
            self._first, self._seen = (samples[0] if samples else None), 0
            self.ok, self.failed = Counter(), Counter()
        for s in samples[self._seen :]:
            if s.get("op") not in DERIVED_OPS:  # whole operations, as the report counts them
                (self.ok if s.get("ok") else self.failed)[s.get("node")] += 1
        self._seen = len(samples)


class ClusterView:
    """Builds the tables from the run's state; judges the criteria at most every 2 s."""

    def __init__(self, environment, state) -> None:
        self.environment = environment
        self.state = state
        self._criteria: tuple[float, list[dict], str] = (0.0, [], "")
        self._idle_monitor = Monitor(environment, state)
        self._probed = 0.0
        self._served = Served(state)

    def nodes(self) -> list[dict]:
        """The node rows: the dashboard's while a run is on; between runs probed here (at
        most every ``NODE_REFRESH_S``), so a node crashed or restarted from the page shows it."""
        monitor = getattr(self.environment, "peerload_monitor", None)
        if (monitor is None or not monitor.running) and (
            time.time() - self._probed >= NODE_REFRESH_S
        ):
            self._probed = time.time()
            self._idle_monitor.refresh_view()
        self._served.update()
        served, failed = self._served.ok, self._served.failed
        return [
            {**row, "served": served[row["node"]], "failed": failed[row["node"]]}
            for row in self.state.node_view
        ]

    def journal(self) -> list[dict]:
        stage = getattr(self.environment, "peerload_faults", None)
        records = stage.journal_records() if stage else []
        t0 = self.state.started
        return [
            {
                "time": round(r["wall"] - t0, 1),
                "fault": f"{r['fault_id']}:{r['target']}",
                "kind": r["kind"],
                "target": r["target"],
                "phase": r["phase"],
                "outcome": r["outcome"] + (f": {r['error']}" if r.get("error") else ""),
                "detail": ", ".join(
                    f"{k} {v}"
                    for k, v in (r.get("detail") or {}).items()
                    if not isinstance(v, dict | list)
                ),
            }
            for r in records[-JOURNAL_ROWS:]
        ]

    def criteria(self) -> tuple[list[dict], str]:
        """The final verdict once a run has ended (until the next starts); while it is on, the
        verdict so far over the windows that have ended (``reports.live``), judged at most every
        ``CRITERIA_CACHE_S``."""
        if self.state.verdict is not None:
            return _rows(self.state.verdict), f"{FINISHED}: {exit_code(self.state)[1]}"
        checked, rows, reason = self._criteria
        if time.time() - checked < CRITERIA_CACHE_S:
            return rows, reason
        # Workers ship samples every 3 s: in distributed runs a window ends a report interval late.
        now = time.time() - (REPORT_LAG_S if self.state.distributed else 0.0)
        stage = getattr(self.environment, "peerload_faults", None)
        record = run_record(self.state, self.environment.parsed_options, live=True)
        record.update(
            samples=list(self.state.samples),
            windows=self._windows(stage),
            series=list(self.state.series),
            journal=stage.journal_records() if stage is not None else [],
        )
        try:
            so_far = judge_so_far(record, self._planned(stage), now)
        except ValueError as exc:
            return [], f"not judged yet: {exc}"
        rows, reason = _rows(so_far.verdict), so_far.reason
        self._criteria = (time.time(), rows, reason)
        return rows, reason

    def _windows(self, stage) -> list[dict]:
        """The run's windows so far; the stage running now and the faults still active are open
        (``end`` None), and so is a recovery window still running."""
        windows = list(self.state.windows)
        current = getattr(self.environment.shape_class, "current_window", None)
        if current:
            windows.append({**current, "end": None})
        active = set(stage.active()) if stage is not None else set()
        for w in stage.windows() if stage is not None else []:
            if w["name"].split(":", 1)[-1] not in active:
                windows.append(w)
            elif w["kind"] == FAULT:  # the recovery after a fault still on has not begun
                windows.append({**w, "end": None})
        return windows

    def _planned(self, stage) -> list[dict]:
        """The windows the run means to open: its stages and the plan's faults (none once the
        shape has finished: nothing more will start)."""
        if self.state.stopped_reason is not None:
            return []
        stages = getattr(self.environment.shape_class, "stages", None) or []
        planned = [{"name": s.name, "kind": s.kind} for s in stages]
        timeline = getattr(stage, "timeline", None)
        starts = [s for s in (timeline.steps if timeline is not None else ()) if s.phase == START]
        return planned + [{"name": f"fault:{s.key}", "kind": FAULT} for s in starts]

    def snapshot(self) -> dict:
        stage = getattr(self.environment, "peerload_faults", None)
        criteria, reason = self.criteria()
        run_folders = folders(self.environment)
        finished = run_folders.finished if run_folders is not None else None
        ended = self.state.verdict is not None
        return {
            "nodes": self.nodes(),
            "active_faults": stage.active() if stage else [],
            "journal": self.journal(),
            "criteria": criteria,
            "criteria_title": FINAL_TITLE if ended else LIVE_TITLE,
            "verdict": reason,
            "ended": ended,
            "ready": ended and exit_code(self.state)[0] == 0,
            "report": finished is not None and (finished / HTML).is_file(),
            "controls": stage is not None,
            "buttons": buttons(),
        }


def _rows(verdict) -> list[dict]:
    return [
        {
            "criterion": r.name,
            "window": r.window,
            "value": _fmt(r.value, r.unit),
            "threshold": f"{r.op} {_fmt(r.threshold, r.unit)}"
            if r.threshold is not None
            else "reported",
            "verdict": r.verdict,
            "n": r.n,
        }
        for r in verdict.results
    ]


def _fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        value = round(value, 1)
    return f"{value}{unit}" if unit in ("%", "") else f"{value} {unit}"


def install(environment, state) -> None:
    """Add the tabs, the links and the Cluster page to the running web UI (master only)."""
    from flask import Response, jsonify, request

    web_ui = environment.web_ui
    view = ClusterView(environment, state)
    guard = web_ui.auth_required_if_enabled
    web_ui.template_args["extended_tabs"] = [
        {"key": key, "title": title} for key, (title, _) in TABLES.items()
    ]
    web_ui.template_args["extended_tables"] = [
        {"key": key, "structure": [{"key": k, "title": t} for k, t in columns]}
        for key, (_, columns) in TABLES.items()
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": f".{BASE}", "title": "peerload Cluster page: node controls, faults, criteria"},
        {"href": "./peerload/report", "title": "peerload readiness report (latest run)"},
    ]

    @web_ui.app.before_request
    def check_results_dir():
        """A --results-dir typed into the start form is checked like one given on the command
        line: Locust's form shows the message and nothing starts."""
        run_folders = folders(environment)
        if request.path != "/swarm" or request.method != "POST" or run_folders is None:
            return None
        try:
            run_folders.check(request.form.get("results_dir"))
        except ValueError as exc:
            return jsonify(success=False, message=str(exc), host=environment.host)
        return None

    @web_ui.app.after_request
    def add_tables(response):
        if request.path != "/stats/requests" or response.status_code != 200:
            return response
        body = response.get_json(silent=True)
        if isinstance(body, dict):
            criteria, _ = view.criteria()
            body["extended_stats"] = [
                {"key": "peerload-cluster", "data": view.nodes()},
                {"key": "peerload-faults", "data": view.journal()},
                {"key": "peerload-criteria", "data": criteria},
            ]
            response.set_data(json.dumps(body))
        return response

    @web_ui.app.after_request
    def relabel_idle(response):
        """Locust's header says "Status READY" before any run, which reads like a verdict:
        the index page gets a script that says "no run yet" there instead."""
        if request.path != "/" or response.mimetype != "text/html" or response.direct_passthrough:
            return response
        page = response.get_data(as_text=True)
        if "</body>" in page:
            response.set_data(page.replace("</body>", f"<script>{IDLE_SCRIPT}</script></body>", 1))
        return response

    def page():
        return Response(PAGE.read_text(), mimetype="text/html")

    def snapshot():
        return jsonify(view.snapshot())

    def action():
        stage = getattr(environment, "peerload_faults", None)
        body = request.get_json(silent=True) if request.is_json else None
        if not isinstance(body, dict):
            return jsonify(error='send a JSON object: {"action", "node"}'), 400
        act, node = body.get("action"), body.get("node")
        labels = [b["label"] for b in buttons()]
        if act not in labels or node not in state.descriptor_names:
            return jsonify(error=f"action must be one of {', '.join(labels)} on a known node"), 400
        if stage is None:
            return jsonify(error="this cluster has no control API"), 409
        if state.verifying:  # a fault now would be judged as the network failing its checks
            return jsonify(error="the network is being verified: try again when it is done"), 409
        try:
            return jsonify(stage.act(act, node))
        except ValueError as exc:
            return jsonify(error=str(exc)), 400

    for rule, name, func, methods in (
        (BASE, "peerload_cluster_page", page, ["GET"]),
        (f"{BASE}/state", "peerload_cluster_state", snapshot, ["GET"]),
        (f"{BASE}/action", "peerload_cluster_action", action, ["POST"]),
    ):
        func.__name__ = name
        web_ui.app.add_url_rule(rule, endpoint=name, view_func=guard(func), methods=methods)
