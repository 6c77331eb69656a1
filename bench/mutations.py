"""Mutation check of the verdict: does a realistic defect in the node turn READY into NOT READY?

    python bench/mutations.py [--set own|reported|all] [--only NAME[,NAME]] [--list] [--keep]
                              [--profile quick|full] [--timeout 300] [--json F]

Per defect: copy the project into a fresh temp dir, apply one small textual patch to the copy's
``node/`` (never the working tree), run the quick profile there (``python -m locust -f
<copy>/locustfiles/phase4.py --headless``) and read the verdict from the results JSON. The
unmodified copy ("none") must be READY (exit 0); a defect is caught when the verdict's label is
anything but READY and the exit code is not 0 (labels are read, not listed: they may grow). Runs
are sequential and bounded in time; Locust and its nodes run in a session of their own, killed as
a group.
Why: a verdict that passes broken nodes is worse than none, and criteria tuned by reading them
prove nothing. The defects below were chosen as bugs a team makes, not to fit the criteria.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: bench/ is on the path, the project is not
    sys.path.insert(0, str(REPO))
from bench.defects import DEFECTS, SETS, Defect  # noqa: E402

COPIED_DIRS = ("node", "networks", "locustfiles", "faults", "reports", "proto")
RESULTS_JSON = "phase4_complete_results.json"
LINE_PREFIX = "peerload:"
NODE_MARK = "-m node"
DEFAULT_TIMEOUT_S = 300.0
GRACE_S = 20.0  # after SIGTERM, for Locust to judge, write and stop its cluster
POLL_S = 0.5
ORPHAN_WAIT_S = 5.0  # nodes notice their parent is gone within 0.5 s
READY = "READY"
NOT_READY = "NOT READY"  # expected of a defect; any label but READY counts
UNMODIFIED = "none"
HEADER = "| defect | what it does | expected | exit | verdict | first failing criterion | result |"


BY_NAME = {d.name: d for d in DEFECTS}


class PatchError(RuntimeError):
    """A defect's patch no longer applies: the code it targets moved or changed."""


def copy_tree(dest: Path) -> Path:
    """Copy what a run needs (not .git, results/, build/ or caches) to ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in COPIED_DIRS:
        shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


def patched(defect: Defect, text: str) -> str:
    """``text`` with the defect in; ``PatchError`` unless ``old`` is there exactly once."""
    first = defect.old.split("\n")[0]
    line = next((x for x in text.splitlines() if first in x), "")  # where ``old`` starts
    indent = line[: len(line) - len(line.lstrip())]
    old, new = (x.replace("\n", "\n" + indent) for x in (defect.old, defect.new))
    if (found := text.count(old)) != 1:
        raise PatchError(f"{defect.name}: node/{defect.file} has {found} matches, want exactly 1")
    return text.replace(old, new)


def apply(defect: Defect, root: Path) -> None:
    """Patch ``root``'s node/ in place; refuses the working tree, fails loudly if moved."""
    path = root / "node" / defect.file
    if path.resolve().parent == (REPO / "node").resolve():
        raise PatchError(f"{defect.name}: refusing to patch the working tree {REPO}")
    path.write_text(patched(defect, path.read_text()))


def preflight(defects: list[Defect]) -> None:
    """Apply each defect to a scratch copy of node/: ``PatchError`` names the first that fails."""
    with tempfile.TemporaryDirectory(prefix="peerload-mut-check-") as scratch:
        for defect in defects:
            root = Path(scratch) / defect.name
            shutil.copytree(REPO / "node", root / "node")
            apply(defect, root)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM Locust's whole session (it judges and stops its cluster), then SIGKILL what is
    left of it: the leader if stuck, and any member of its group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:  # the group is empty: nothing outlived the leader
            break
        try:
            proc.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            pass


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Cleanup must finish: a second Ctrl-C in it would leave Locust and its nodes running."""
    old = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _nodes(tmp: Path) -> list[psutil.Process]:
    """Our node processes: their command line names a data dir under ``tmp``."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if NODE_MARK in cmdline and f"{tmp}{os.sep}" in cmdline:
            found.append(proc)
    return found


def _reap(tmp: Path, wait_s: float) -> int:
    """Give our nodes ``wait_s`` to exit (they follow their cluster out), kill the rest by pid;
    how many had to be killed."""
    deadline = time.monotonic() + wait_s
    while (left := _nodes(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in left:
        try:
            proc.kill()
        except psutil.Error:
            pass
    return len(left)


def run_one(
    defect: Defect | None, timeout: float, keep: bool, locust_args: tuple[str, ...] = ()
) -> dict:
    """One quick-profile run on a patched copy (``locust_args`` added to Locust's command
    line); a table row (verdict, exit code, checks)."""
    if defect is None:
        return run_copy(UNMODIFIED, "unmodified", None, timeout, keep, locust_args)
    patch = lambda root: apply(defect, root)  # noqa: E731
    return run_copy(defect.name, defect.description, patch, timeout, keep, locust_args)


def run_copy(
    name: str,
    description: str,
    mutate: Callable[[Path], None] | None,
    timeout: float,
    keep: bool,
    locust_args: tuple[str, ...] = (),
) -> dict:
    """One run on a fresh copy of the project that ``mutate(root)`` changed (None: the
    unmodified copy, expected READY); a table row. Also the runner of bench/mutants.py."""
    tmp = Path(tempfile.mkdtemp(prefix=f"peerload-mut-{name[:40]}-"))
    row: dict = {"defect": name, "description": description}
    row.update(expected=READY if mutate is None else NOT_READY, tmp=str(tmp), problems=[])
    try:
        _run(mutate, tmp, timeout, row, locust_args)
    finally:
        with _uninterrupted():
            _reap(tmp, 0)  # after an error or Ctrl-C too; a normal run reported them
            if not keep:
                shutil.rmtree(tmp, ignore_errors=True)
    return row


def _run(
    mutate: Callable[[Path], None] | None,
    tmp: Path,
    timeout: float,
    row: dict,
    locust_args: tuple[str, ...],
) -> None:
    root, results, log_path = tmp / "repo", tmp / "results", tmp / "locust.log"
    copy_tree(root)
    if mutate is not None:
        mutate(root)
    cmd = [sys.executable, "-m", "locust", "-f", str(root / "locustfiles" / "phase4.py")]
    cmd += ["--headless", "--results-dir", str(results), *locust_args]
    env = {**os.environ, "TMPDIR": str(tmp)}  # the embedded cluster's workdir lands in tmp
    env.pop("PYTHONPATH", None)
    cwds: set[str] = set()
    started = time.monotonic()
    with open(log_path, "wb") as log:  # a file, never an unread pipe (a full pipe blocks)
        proc = subprocess.Popen(
            cmd, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while proc.poll() is None and time.monotonic() - started < timeout:
                for node in _nodes(tmp):
                    try:
                        cwds.add(node.cwd())
                    except psutil.Error:
                        pass
                time.sleep(POLL_S)
            if proc.poll() is None:
                row["problems"].append(f"timed out after {timeout:.0f}s")
            elif left := _reap(tmp, ORPHAN_WAIT_S):  # Locust ended on its own
                row["problems"].append(f"{left} node process(es) outlived Locust (killed)")
        finally:
            with _uninterrupted():
                _stop_group(proc)
    row["seconds"] = round(time.monotonic() - started, 1)
    row["exit_code"] = proc.returncode
    lines = log_path.read_text(errors="replace").splitlines()
    row["peerload_line"] = next((x for x in reversed(lines) if x.startswith(LINE_PREFIX)), "")
    # The copy's code ran iff its nodes ran from the copy (networks/cluster.py: cwd = its root). A
    # node that crashed at start was gone before a poll saw it: its log's traceback names the
    # copy's files (the run keeps the logs in results/logs/).
    if not cwds and _logs_name(results, root):
        cwds.add(str(root))
    row["nodes_from_copy"] = bool(cwds) and cwds == {str(root)}
    if not row["nodes_from_copy"]:
        row["problems"].append(f"nodes not run from the copy: {sorted(cwds) or 'none seen'}")
    if left := _reap(tmp, ORPHAN_WAIT_S):
        row["problems"].append(f"{left} node process(es) survived the group kill (killed)")
    verdict = {}
    if (results / RESULTS_JSON).is_file():
        verdict = json.loads((results / RESULTS_JSON).read_text()).get("verdict") or {}
    failed = verdict.get("failed") or []
    row["label"] = verdict.get("label")
    row["failed"] = [f"{c.get('name')} @ {c.get('window')}" for c in failed]
    if row["label"] is None:
        row["problems"].append(f"no verdict in {results / RESULTS_JSON}")
    row["outcome"] = _outcome(mutate is None, row)


def _logs_name(results: Path, root: Path) -> bool:
    """Whether a node log the run kept names a file of the copy ``root``."""
    logs = results / "logs"
    mark = f"{root}{os.sep}node{os.sep}"
    return logs.is_dir() and any(mark in p.read_text(errors="replace") for p in logs.glob("*.log"))


def _outcome(unmodified: bool, row: dict) -> str:
    """ok / caught / exit-only (the report says READY, only the exit code fails) / ESCAPED /
    error (no verdict)."""
    if row["label"] is None:
        return "error"
    judged_ready = row["label"] == READY
    if unmodified:
        return "ok" if judged_ready and row["exit_code"] == 0 else f"{row['label']}, want READY"
    if not judged_ready:
        return "caught" if row["exit_code"] != 0 else "caught (but exit 0)"
    return "exit-only" if row["exit_code"] != 0 else "ESCAPED"


def table(rows: list[dict]) -> str:
    """The Markdown table of all runs."""
    out = [HEADER, "|---|---|---|---:|---|---|---|"]
    for r in rows:
        first = r["failed"][0] if r["failed"] else "-"
        result = "; ".join([r["outcome"], *r["problems"]])
        cells = (r["defect"], r["description"], r["expected"], r["exit_code"], r["label"] or "-")
        out.append("| " + " | ".join(map(str, (*cells, first, result))) + " |")
    return "\n".join(out)


def summary(rows: list[dict]) -> tuple[str, bool]:
    """The summary line, and whether the verdict passed the check."""
    defects = [r for r in rows if r["defect"] != UNMODIFIED]
    caught = sum(r["outcome"].startswith("caught") for r in defects)
    base = next((r for r in rows if r["defect"] == UNMODIFIED), None)
    unmodified = "not run" if base is None else (base["label"] or "no verdict")
    good = all(r["outcome"] in ("ok", "caught") and not r["problems"] for r in rows)
    return f"mutations: {caught} of {len(defects)} defects caught; unmodified: {unmodified}", good


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    """0 when the unmodified node is READY and no defect is; 1 otherwise, 2 if a patch moved."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", help="comma-separated names (none = the unmodified node)")
    p.add_argument(
        "--set",
        choices=sorted(SETS),
        default="own",
        help="which defects run without --only: own (the default), reported (one per class an "
        "outside evaluation reported), all",
    )
    p.add_argument("--list", action="store_true", help="list the defects and exit")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (copy, results, log)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per run")
    p.add_argument(
        "--profile",
        choices=("quick", "full"),
        default="quick",
        help="the suite's profile each run uses (full: multi-MiB files, 30 s levels; ~6 min)",
    )
    p.add_argument("--json", type=Path, help="also write the rows and summary as JSON here")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="judge every defect against the unmodified run's results (--baseline): a slower "
        "network is then REGRESSION (not READY) where no absolute threshold catches it",
    )
    a = p.parse_args(argv)
    if a.list:
        for d in SETS[a.set]:
            print(f"{d.name:22} node/{d.file:14} {d.description}")
        return 0
    chosen = [d.name for d in SETS[a.set]]
    names = [n.strip() for n in (a.only or "").split(",") if n.strip()] or [UNMODIFIED, *chosen]
    if unknown := [n for n in names if n != UNMODIFIED and n not in BY_NAME]:
        p.error(f"unknown defect(s): {', '.join(unknown)} (see --list)")
    if a.timeout <= 0:
        p.error("--timeout must be > 0")
    try:  # every patch first: code that moved fails now, not after an hour of runs
        preflight([BY_NAME[n] for n in names if n != UNMODIFIED])
    except PatchError as exc:
        print(f"mutations: {exc}", file=sys.stderr)
        return 2
    if a.baseline and names[0] != UNMODIFIED:
        names = [UNMODIFIED, *(n for n in names if n != UNMODIFIED)]  # the baseline runs first
    signal.signal(signal.SIGTERM, _interrupt)
    rows: list[dict] = []
    profile: tuple[str, ...] = ("--profile", a.profile)
    extra: tuple[str, ...] = profile
    try:
        for i, name in enumerate(names, 1):
            print(f"[{i}/{len(names)}] {name} ...", flush=True)
            keep = a.keep or (a.baseline and name == UNMODIFIED)
            row = run_one(BY_NAME.get(name), a.timeout, keep, extra)
            rows.append(row)
            if a.baseline and name == UNMODIFIED:
                extra = (*profile, "--baseline", str(Path(row["tmp"]) / "results"))
            print(f"    exit {row['exit_code']}, {row['label']}, {row['seconds']}s: "
                  f"{row['outcome']} | {row['peerload_line']}", flush=True)  # fmt: skip
    except KeyboardInterrupt:
        print(f"\n{table(rows)}\ninterrupted: Locust and its nodes were stopped", file=sys.stderr)
        return 130
    finally:
        if a.baseline and not a.keep and rows:
            shutil.rmtree(rows[0]["tmp"], ignore_errors=True)
    line, good = summary(rows)
    print(f"\n{table(rows)}\n\n{line}")
    if a.json:
        a.json.write_text(json.dumps({"rows": rows, "summary": line, "ok": good}, indent=2))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
