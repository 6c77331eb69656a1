"""The command line: ``python -m faults.schedule PLAN --cluster DESCRIPTOR.json`` (or
``python -m faults``) runs a fault plan standalone.

Prints each step as it happens. ``--dry-run`` prints the resolved timeline (the seed's draws
included) and exits; without ``--cluster`` it resolves against ``--nodes`` (default n1..n3).
Exit codes: 0 completed, 1 a step failed or the run was aborted, 2 bad plan / arguments /
descriptor / backend (one line on stderr, never a traceback), 130 Ctrl-C (after healing).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .backends import BackendError, ControlClient, DescriptorError, load_descriptor, netns
from .journal import ERROR, Journal
from .plan import BACKENDS, load_plan
from .runner import ABORTED, COMPLETED, INTERRUPTED, Runner, step_error
from .targets import FULL_MESH, Layout
from .timeline import format_params, resolve
from .types import PlanError, Step

PROG = "python -m faults.schedule"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
DEFAULT_NODES = 3
PRESSES_TO_ABANDON = 3
SHOWN_DETAIL = ("note", "reason", "late_s")
RUNNER_LOG = "faults"


class UsageError(Exception):
    """Bad input of any kind: reported as one line, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog=PROG, description="Run a fault plan against a running peerload cluster.")
    p.add_argument("plan", help="plan file (.toml, or .json)")
    p.add_argument(
        "--cluster", metavar="DESCRIPTOR", help="cluster.json written by networks.cluster"
    )
    p.add_argument("--dry-run", action="store_true", help="print the resolved timeline and exit")
    p.add_argument("--json", action="store_true", help="with --dry-run: print it as JSON")
    p.add_argument("--journal", metavar="FILE", help="append the JSON-lines journal here")
    p.add_argument("--backend", choices=BACKENDS, help="override the plan's backend")
    p.add_argument("--seed", type=int, help="override the plan's seed")
    p.add_argument(
        "--nodes",
        default=str(DEFAULT_NODES),
        help="with --dry-run and no --cluster: a node count or a list n1,n2,...",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log details (and tracebacks)")
    return p


#: The most nodes a dry run names n1..nN for: an input limit (plans for 1,000-node networks can
#: be drawn before a machine can start them).
MAX_DRY_RUN_NODES = 1000


def node_names(spec: str) -> list[str]:
    if spec.isdigit():
        if not 1 <= int(spec) <= MAX_DRY_RUN_NODES:
            raise UsageError(
                f"--nodes: {spec} is not a node count between 1 and {MAX_DRY_RUN_NODES}"
            )
        return [f"n{i}" for i in range(1, int(spec) + 1)]
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise UsageError("--nodes: expected a count or a list n1,n2,...")
    return names


def print_step(step: Step, record: dict[str, Any], **_: Any) -> None:
    if record["outcome"] == "ok":
        shown = {k: v for k, v in record["detail"].items() if k in SHOWN_DETAIL}
        note = format_params(shown)
    else:
        note = record["error"] or ""
    print(
        f"[{record['offset']:8.2f}s] {step.phase:<5} {step.fault_id:<16} {step.kind:<9} "
        f"{step.target:<10} {record['outcome']:<5} {record['duration_s']:6.3f}s {note}".rstrip(),
        flush=True,
    )


class StepErrors:
    """The errors of failed steps, as the run's result lists them: printed once, on the step's
    line, not again in the summary."""

    def __init__(self) -> None:
        self.errors: set[str] = set()

    def add(self, step: Step, record: dict[str, Any], **_: Any) -> None:
        if record["outcome"] == ERROR:
            self.errors.add(step_error(step, record["error"]))


def install_interrupts(runner: Runner) -> Callable[[], None]:
    """Ctrl-C / SIGTERM stop the run and heal; Ctrl-C pressed again and again abandons.

    Returns a function that puts the previous handlers back. Signals can only be handled on
    the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    presses = 0
    stopping = False  # runner.stop() only once

    def stop_once(status: str) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            # From another thread: the handler runs on the main thread, which may be inside the
            # Event's wait() holding its lock; setting it here deadlocked (1 run in ~12).
            threading.Thread(target=runner.stop, args=(status,), daemon=True).start()

    def on_sigint(signum: int, frame: Any) -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            print("interrupted: healing every active fault before exiting...", file=sys.stderr)
            stop_once(INTERRUPTED)
        elif presses < PRESSES_TO_ABANDON:
            print("still healing; press Ctrl-C again to abandon (faults may stay)", file=sys.stderr)
        else:
            raise KeyboardInterrupt

    def on_sigterm(signum: int, frame: Any) -> None:
        stop_once(ABORTED)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigterm)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    runner_log = logging.getLogger(RUNNER_LOG)
    level = runner_log.level
    if not args.verbose:  # each step's outcome is printed on its line; the log would repeat it
        runner_log.setLevel(logging.ERROR)
    try:
        return execute(args)
    except (UsageError, PlanError, DescriptorError, BackendError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.verbose:
            raise
        print(f"{PROG}: error: {type(exc).__name__}: {exc} (-v for details)", file=sys.stderr)
        return EXIT_FAILED
    finally:
        runner_log.setLevel(level)


def execute(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    descriptor = load_descriptor(args.cluster) if args.cluster else None
    if descriptor is None and not args.dry_run:
        raise UsageError("--cluster DESCRIPTOR is required unless --dry-run")
    nodes = [n["name"] for n in descriptor["nodes"]] if descriptor else node_names(args.nodes)
    layout = Layout.of(descriptor.get("topology")) if descriptor else FULL_MESH
    timeline = resolve(plan, nodes, seed=args.seed, layout=layout)
    backend = args.backend or plan.backend
    if args.dry_run:
        if args.json:
            print(json.dumps(timeline.to_dict(), indent=2))
            return EXIT_OK
        print(timeline.format())
        if descriptor is not None and backend != "control":
            ok, why = netns.available(descriptor)
            print(f"backend {backend}: netns {'available' if ok else 'not available'}: {why}")
        return EXIT_OK
    ControlClient(descriptor).check_answers(args.cluster)
    journal = Journal(args.journal) if args.journal else Journal()
    with journal:
        runner = Runner(timeline, descriptor, backend=backend, journal=journal)
        shown = StepErrors()
        runner.events.step_finished.add_listener(print_step)
        runner.events.step_finished.add_listener(shown.add)
        restore = install_interrupts(runner)
        try:
            print(
                f"{timeline.format().splitlines()[0]}\nbackend {runner.backend_reason}", flush=True
            )
            result = runner.run()
        finally:
            restore()
    print(
        f"run {result.status}: {result.steps_ok} steps ok, {result.steps_failed} failed"
        + (f"; journal {args.journal}" if args.journal else ""),
        flush=True,
    )
    for error in result.errors:
        if error not in shown.errors:  # a failed step's error is on its line already
            print(f"  {error}", file=sys.stderr)
    if result.status == COMPLETED:
        return EXIT_OK
    if result.status == INTERRUPTED:
        return EXIT_INTERRUPTED
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
