"""The run's lifecycle, as Locust event listeners: start the embedded cluster, verify the
network, monitor it, write the results, set the exit code, tear everything down.

Cluster, monitor, faults and results live on the master (or the only process): in distributed
runs ``init``/``test_start``/``test_stop`` fire on every worker too (FIELD-NOTES).
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import gevent
from locust import events
from locust.runners import STATE_INIT, STATE_STOPPED, MasterRunner, WorkerRunner
from locust.util.timespan import parse_timespan

from faults import BackendError
from networks.readiness import NotReady
from reports import service

from . import console, heartbeats, nodelogs, notready, outcome, resultsdir
from . import options as opts
from .console import die, say
from .faultstage import RESULTS_FILE, TAIL_S, FaultStage
from .monitor import LIVENESS_MESSAGE, Monitor, share_liveness
from .record import baseline, exit_code, judge, resolved_thresholds
from .results import CONCURRENCY_FILE, concurrency_results, write_json
from .runstate import DESCRIPTOR_OPTION, RunState, parse_cluster
from .samples import DRAIN_MESSAGE, SampleRecorder, on_drain
from .shape import build_stages
from .validate import check_options, needs_netns, needs_small_disks
from .verify import foreign_members, integrity, settled_state, steady_state

HEALTHY = "every node up, each finds another node's file, TTL 0 local, downloads verify"
ENDING_WAIT_S, ENDING_POLL_S = 120.0, 0.05  # bounds a second test_stop's wait for the first
THREADPOOL_SIZE = 512  # > users with a gRPC call in flight (FIELD-NOTES)

# The run's folder is resolved before anything writes into it: first of the test_start listeners.
events.test_start.add_listener(resultsdir.on_test_start)
events.init_command_line_parser.add_listener(opts.add_options)


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f}s"


def is_worker(environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


@events.init.add_listener
def on_init(environment, **_) -> None:
    import grpc.experimental.gevent as grpc_gevent

    grpc_gevent.init_gevent()
    gevent.get_hub().threadpool.maxsize = THREADPOOL_SIZE
    console.reserve_stdout_for_json(getattr(environment.parsed_options, "json", False))
    if is_worker(environment):
        environment.runner.register_message(LIVENESS_MESSAGE, _on_liveness(environment))
        environment.runner.register_message(DRAIN_MESSAGE, on_drain(environment), concurrent=True)
        return
    options = environment.parsed_options
    if options is None:  # a library user built the environment by hand
        return
    if options.print_stats:  # Locust's periodic tables, off by default (options.py)
        options.only_summary = False
    try:  # every option, before the cluster starts
        environment.peerload_results = check_options(options, web_ui=environment.web_ui is not None)
    except (OSError, ValueError) as exc:
        die(str(exc))
    options.results_dir = str(environment.peerload_results.idle)  # each run's from its start
    environment.peerload_cluster = None
    if options.cluster:
        try:
            descriptor = parse_cluster(options.cluster)
        except (OSError, ValueError) as exc:
            die(f"--cluster: {exc}")
    else:
        from networks.cluster import Cluster

        netns = needs_netns(options)
        disk_mb = needs_small_disks(options)
        reason = "--disk-mb" if getattr(options, "disk_mb", 0) else "the plan fills one"
        small = f"data dirs on {disk_mb} MiB disks of their own: {reason}"
        notes = [why for why in (netns, disk_mb and small) if why]
        say(
            f"starting an embedded {options.network} network of {opts.node_count(options)} nodes"
            + (f" ({'; '.join(notes)})" if notes else "")
        )
        try:
            cluster = Cluster(
                opts.node_count(options),
                seed=options.seed,
                network=options.network,
                netns=bool(netns),
                topology=opts.topology_spec(options),
                files_per_node=opts.files_per_node(options),
                disk_mb=disk_mb,
            )
            cluster.start_all()
        except NotReady as exc:  # judged, not refused: NOT READY, report and logs (notready.py)
            notready.judge_unready(environment, options, cluster, exc)
        except (OSError, RuntimeError, TimeoutError) as exc:
            die(f"the embedded cluster did not start: {exc}")
        environment.peerload_cluster = cluster
        environment.events.test_stop.add_listener(nodelogs.keep_logs)  # after on_test_stop
        descriptor = cluster.descriptor
        say(f"cluster ready: {cluster.descriptor_path}; topology {cluster.topology.summary()}")
        if cluster.join_gaps:
            say(f"not joined: {'; '.join(cluster.join_gaps)} (the joined check judges it)")
    try:
        _set_up_run(environment, options, descriptor)
    except SystemExit:  # a bad plan or option: the cluster we started goes too
        if environment.peerload_cluster is not None:
            environment.peerload_cluster.close()
        raise
    environment.events.test_stop.add_listener(outcome.on_run_end)  # after on_test_stop
    environment.events.quit.add_listener(lambda **_: outcome.on_quit(environment))


def _set_up_run(environment, options, descriptor: dict) -> None:
    state = RunState(descriptor)
    state.recorder = SampleRecorder(environment, state)
    try:
        state.baseline = baseline(options)
    except ValueError as exc:
        die(str(exc))
    state.burst_listeners.append(lambda: share_liveness(environment, state))
    environment.peerload = state
    _note_interrupts(environment, state)
    # Workers get this with the spawn message (Locust forwards custom options).
    public = {"nodes": descriptor["nodes"], "network": descriptor.get("network")}
    setattr(options, DESCRIPTOR_OPTION, json.dumps(public))
    _prepare_faults(environment, options, state)
    _configure_shape(environment, options)
    if environment.web_ui is not None:
        from reports.web import REPORT_PATH, add_report_routes

        add_report_routes(
            environment.web_ui.app,
            lambda: environment.peerload_results.finished,  # this process's runs only
            wrap=environment.web_ui.auth_required_if_enabled,
        )
        from .webui import BASE, install

        install(environment, state)
        ui = f"http://{options.web_host or '127.0.0.1'}:{options.web_port}"
        say(f"cluster page {ui}{BASE}; latest report {ui}{REPORT_PATH} once a run ends")


def _note_interrupts(environment, state) -> None:
    """Ctrl-C reaches the whole process group, embedded nodes included, and Locust stops the
    run only after that: remember it happened, so the end of the run neither checks nodes the
    interrupt took down nor blames the network for it (the run is INCONCLUSIVE).

    SIGTERM (what a CI timeout sends) ends the run the same way. Locust installs its own
    SIGTERM handler only after a headless shape run has finished, so without this one a SIGTERM
    mid-run killed the process: no verdict, no report, nodes and temp folders left behind."""
    previous = signal.getsignal(signal.SIGINT)

    def running() -> bool:
        return state.initial_problems is not None and state.verdict is None

    def on_sigint(signum, frame) -> None:
        if running():
            state.interrupted = "Ctrl-C (SIGINT) while the run was going"
        if callable(previous):
            previous(signum, frame)
        else:
            raise KeyboardInterrupt

    def on_sigterm() -> None:
        if state.ending and not state.interrupted:
            # The load is over and the end is being checked: quitting now would kill the
            # greenlet that writes the report. The checks stop where they are (the nodes may be
            # going down with us: unchecked, INCONCLUSIVE) and the end goes on to the report.
            state.interrupted = "SIGTERM while the network was checked after the run"
            say("SIGTERM: the load is over; the checks stop here and the report is written")
            return
        if running():
            state.interrupted = "SIGTERM while the run was going"
        say("SIGTERM: ending the run (faults healed, nodes stopped, the report written)")
        environment.runner.quit()  # test_stop judges the run; Locust then exits with its code

    signal.signal(signal.SIGINT, on_sigint)
    gevent.signal_handler(signal.SIGTERM, on_sigterm)


def _prepare_faults(environment, options, state) -> None:
    """Load and validate the plan before anything runs; bad plans stop here with exit 2.
    Without a control API (a cluster given as bare URLs) there is nothing to break."""
    environment.peerload_faults = None
    environment.peerload_fault_seconds = 0
    spec = options.fault_plan or opts.profile(options.profile).default_plan
    spec = None if spec == "none" else spec
    if not (state.descriptor.get("control") and state.descriptor.get("token")):
        if options.fault_plan and spec:
            die("--fault-plan needs a cluster descriptor with a control API and token")
        if spec:
            say("no control API for this cluster: running without faults")
        return
    try:
        stage = FaultStage(
            spec,
            state,
            Path(options.results_dir),
            seed=None,
            notify=lambda: share_liveness(environment, state),
            thresholds=resolved_thresholds(options),
        )
    except (OSError, ValueError, BackendError) as exc:  # PlanError is a ValueError
        die(f"--fault-plan: {exc}")
    environment.peerload_faults = stage
    environment.peerload_fault_seconds = stage.seconds
    state.fault_stage_listeners.append(stage.start)
    if spec:
        # the same numbers as `python -m faults.schedule PLAN --dry-run`, plus our tail
        say(
            f"fault plan {spec}: {len(stage.timeline.steps)} steps, ends at "
            f"{stage.timeline.end_s:.1f}s; fault stage {stage.seconds:.1f}s with {TAIL_S:.0f}s "
            "of load after it for the last recovery"
        )
        for line in stage.fit.lines():  # the backend the runner will use, said once
            say(line)


def _configure_shape(environment, options) -> None:
    shape = environment.shape_class
    if shape is None or not hasattr(shape, "configure"):
        return
    try:
        profile = opts.profile(options.profile)
        levels = opts.int_list(options.levels, opts.LEVELS)
        stress = opts.int_list(options.stress_levels, profile.stress_levels)
    except ValueError as exc:
        die(str(exc))
    level_s = options.step_time or profile.level_s
    run_time = options.run_time
    if isinstance(run_time, str):
        run_time = parse_timespan(run_time)
    fault_s = getattr(environment, "peerload_fault_seconds", 0)
    fault_s = opts.fault_stage_s(profile, fault_s, run_time, len(levels) * level_s)  # a soak's
    stages = build_stages(
        levels,
        level_s,
        profile.fault_users,
        fault_s,
        stress,
        profile.stress_s,
        profile.stress_max_users,
    )
    shape.configure(stages, run_time, resolved_thresholds(options))
    state = getattr(environment, "peerload", None)
    if state is not None:  # what the run really uses, defaults included, for the report
        state.config_used = {
            "profile": options.profile or "quick",
            "levels": ",".join(map(str, levels)),
            "step_time": level_s,
            "stress_levels": ",".join(str(s.users) for s in stages if s.kind == "stress"),
            "stress_step_time": profile.stress_s,
            "fault_stage_s": fault_s,
            "run_time": run_time or sum(s.duration for s in stages),
        }


def _on_liveness(environment):
    def handler(msg, **_) -> None:
        state = getattr(environment, "peerload", None)
        if state is not None:
            state.alive = set(msg.data["alive"])
            state.unreachable = set(msg.data["unreachable"])
            state.burst = bool(msg.data.get("burst"))
            for node in set(msg.data.get("wiped") or ()) - state.wiped:
                state.forget_corpus(node)

    return handler


@events.test_start.add_listener
def on_test_start(environment, **_) -> None:
    state = getattr(environment, "peerload", None)
    if is_worker(environment) or state is None:
        return
    state.started = time.time()
    for key in ("samples", "windows", "series", "acked", "journal", "links_seen"):
        getattr(state, key).clear()
    state.stopped_reason = state.broke_at = state.highest_held = None
    state.cut_short = state.broke_why = state.interrupted = None
    state.fault_windows, state.fault_results, state.verdict = [], None, None
    state.final_problems = state.initial_problems = state.integrity = None
    state.burst = False
    state.distributed = isinstance(environment.runner, MasterRunner)
    shape = environment.shape_class
    if shape is not None and hasattr(shape, "restart"):
        shape.restart()
    if getattr(environment, "peerload_faults", None) is not None:
        environment.peerload_faults.reset()
    state.verifying = True  # the shape holds its stages until this is done
    try:
        problems = state.initial_problems = steady_state(state)
    finally:
        state.verifying = False
    if problems and environment.parsed_options.keep_going:
        # Every stage runs anyway and is judged: a team sees all its problems in one run.
        say("initial network verification FAILED: " + "; ".join(problems))
        say("--keep-going: running every stage anyway (the verdict cannot be READY)")
    elif problems:
        state.stopped_reason = "network not healthy before the run: " + "; ".join(problems)
        say(state.stopped_reason + " (--keep-going runs every stage anyway)")
        gevent.spawn_later(0.1, environment.runner.quit)
        return
    else:
        say(f"initial network verification passed: {HEALTHY}")
    environment.peerload_monitor = Monitor(environment, state)
    environment.peerload_monitor.start()


@events.test_stop.add_listener
def on_test_stop(environment, **_) -> None:
    state = getattr(environment, "peerload", None)
    if is_worker(environment) or state is None or state.results_dir is None:
        return  # no run started (Locust fires test_stop at quit all the same): nothing to write
    if state.ending:  # a quit while the end is judged (SIGTERM) stops the runner once more:
        deadline = time.monotonic() + ENDING_WAIT_S  # Locust must not exit before the verdict
        while state.ending and time.monotonic() < deadline:
            gevent.sleep(ENDING_POLL_S)
        return
    state.ending = True
    try:
        _end_run(environment, state)
    finally:
        state.ending = False


def _end_run(environment, state) -> None:
    """Stop the load and the faults, check the network, judge the run and write its files."""
    shape = environment.shape_class
    if shape is not None and hasattr(shape, "stop"):
        shape.stop()
    _drain_workers(environment, state)
    monitor = getattr(environment, "peerload_monitor", None)
    if monitor is not None:
        monitor.stop()
        _check_workers(environment, state)
    results_dir = Path(environment.parsed_options.results_dir)
    _finish_faults(environment, state, results_dir)
    # After an interrupt the nodes may be going down with us (Ctrl-C reaches the whole process
    # group): checking them then would report data loss the interrupt caused. Not checked.
    checked = monitor is not None and not state.interrupted
    thresholds = resolved_thresholds(environment.parsed_options)
    if checked:
        say("final verification and integrity: checking the network after the run ...")
    state.final_problems = settled_state(state, thresholds) if checked else None
    if state.interrupted:  # a SIGTERM while it was checked: what it found is not evidence
        checked, state.final_problems = False, None
    state.integrity = integrity(state) if checked else None
    foreign = checked and not state.interrupted
    state.minimal, state.rogue = foreign_members(state) if foreign else (None, None)
    write_json(results_dir / CONCURRENCY_FILE, concurrency_results(state))
    if state.fault_results is not None:
        faults_json = {"faults": state.fault_results, "integrity": state.integrity}
        write_json(results_dir / RESULTS_FILE, faults_json)
    else:  # a run without faults leaves no older run's file behind
        (results_dir / RESULTS_FILE).unlink(missing_ok=True)
    if state.final_problems:
        say("final verification FAILED: " + "; ".join(state.final_problems))
    elif state.interrupted:
        say("final verification and integrity not checked: the run was interrupted")
    elif monitor is not None:
        say(f"final verification passed: {HEALTHY}")
    if state.integrity:
        say(
            "integrity: {acked_uploads} acked uploads, {lost} lost, {corrupt} changed, "
            "{unsearchable} of {searchable_checked} checked not searchable".format(
                **state.integrity
            )
        )
    if state.minimal:
        say(f"minimal member ({state.minimal['outcome']}): {state.minimal['detail']}")
    if state.rogue:
        say(f"rogue member ({state.rogue['outcome']}): {state.rogue['detail']}")
    state.crashes = nodelogs.read_crashes(environment)
    state.verdict = judge(state, environment.parsed_options, results_dir)
    say(f"report: {results_dir / 'PHASE4_FINAL_REPORT.md'} and {results_dir / 'report.html'}")


def _finish_faults(environment, state, results_dir: Path) -> None:
    stage = getattr(environment, "peerload_faults", None)
    if stage is None:
        return
    stage.stop(watch=not state.interrupted)
    if not stage.faults:
        return
    levels = [w for w in state.windows if w["kind"] == "level"]
    before = service.search_baseline(state.samples, levels)
    state.fault_windows = stage.windows()
    state.fault_results = stage.results()
    for f in state.fault_results:
        search = f["requests"].get("search", {}).get("success_pct")
        _, back = service.after_heal(state.samples, before, f["window"]["end"], f["healed_by"])
        # Detection is measured of faults that take their target down, not of latency, loss or
        # a full disk (their target stays in service): for those "never" would mislead.
        detected = f"detected in {seconds(f.get('detected_s'))}, " if f["takes_down"] else ""
        say(
            f"fault {f['fault_id']} on {f['target']}: {detected}"
            f"back to N/N in {seconds(f['recovered_s'])}, service back in "
            f"{seconds(back)}, search success during it "
            f"{'-' if search is None else f'{search:.1f}%'}"
        )


def _drain_workers(environment, state) -> None:
    """Distributed: no load may run while the network is checked, and every sample and ack the
    workers still hold must be in before it is (locustfiles/samples.py)."""
    if not isinstance(environment.runner, MasterRunner):
        return
    for worker in state.recorder.drain():
        heartbeats.note(state, worker, heartbeats.SILENT)


def _check_workers(environment, state) -> None:
    heartbeats.note_missing(environment)
    heartbeats.note_hosts(state)


@events.quitting.add_listener
def on_quitting(environment, **_) -> None:
    state = getattr(environment, "peerload", None)
    runner = environment.runner
    running = runner is not None and runner.state not in (STATE_INIT, STATE_STOPPED)
    if state is not None and running and not is_worker(environment):
        # Quitting while the load runs: Ctrl-C or SIGTERM. Finish the run here, while the
        # cluster is still ours, and say it was interrupted (Locust would stop it only after
        # this listener, with the nodes gone).
        state.interrupted = "Ctrl-C or SIGTERM while the load was running"
        runner.stop()
    if not is_worker(environment) and state is not None:
        environment.process_exit_code = exit_code(state)[0]  # said last, at quit (outcome.py)
    stage = getattr(environment, "peerload_faults", None)
    if stage is not None:
        stage.close()
    cluster = getattr(environment, "peerload_cluster", None)
    if cluster is not None:
        cluster.close()
        environment.peerload_cluster = None
