"""Where a run's results go: a folder per run, so no run wipes another's.

Without ``--results-dir`` every run (each start in the web UI too) gets
``results/<UTC start time>/``, and ``results/latest`` points at the newest; nothing is created
before a run starts, so a web-UI session that never ran load writes nothing. With
``--results-dir DIR`` the files go straight into DIR, as before, but a DIR that is not empty is
refused (``--overwrite`` writes into it anyway), so an older run is never overwritten by
accident; the runs of one web-UI session all write there.

The folder is resolved when a run starts (a ``test_start`` listener registered when this module
is imported, so before the lifecycle's own: ``lifecycle`` imports it first) and stored as
``environment.peerload.results_dir`` (None until a run starts). ``parsed_options.results_dir``
is set to it for the run too, so every writer that reads the option writes to the same folder;
before the first run it names the ``idle`` folder (created only if something is written there,
such as the journal of a fault started by hand), never the current directory. Only the master
(or the only process) writes results.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from . import console

DEFAULT_ROOT = Path("results")
LATEST = "latest"
STAMP = "%Y-%m-%dT%H-%M-%S"  # UTC; no colons, so the name is valid on every filesystem


def check_explicit(path: Path, overwrite: bool) -> None:
    """A ``--results-dir`` we may write into; ValueError (one line) otherwise."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"--results-dir {path}: exists and is not a folder")
    if not overwrite and path.is_dir() and any(path.iterdir()):
        raise ValueError(
            f"--results-dir {path} is not empty: give an empty or new folder, "
            "--overwrite to write into it anyway, or no --results-dir for results/<time>/"
        )


def new_run_folder(root: Path, now: float) -> Path:
    """``root/<UTC time>`` (``-2``, ``-3``… when two runs start in the same second), created,
    with ``root/latest`` pointing at it."""
    stamp = time.strftime(STAMP, time.gmtime(now))
    folder, n = root / stamp, 2
    while folder.exists() or folder.is_symlink():
        folder, n = root / f"{stamp}-{n}", n + 1
    folder.mkdir(parents=True)
    point_latest(root, folder.name)
    return folder


def point_latest(root: Path, name: str) -> None:
    """Replace ``root/latest`` atomically (a relative link, so ``root`` can be moved)."""
    link = root / LATEST
    if link.exists() and not link.is_symlink():
        raise ValueError(f"{link} exists and is not a symlink: move it away")
    tmp = root / f".{LATEST}.{os.getpid()}.tmp"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(name, target_is_directory=True)
    os.replace(tmp, link)


class RunFolders:
    """This process's results folders: resolved at each run start, never before."""

    def __init__(self, spec: str | None, overwrite: bool) -> None:
        self.spec = spec or ""
        self.overwrite = overwrite
        self.current: Path | None = None  # the run in progress, or the last one started
        self.finished: Path | None = None  # the last run whose reports were written
        self._ours: set[Path] = set()  # explicit folders this process checked or wrote into
        self._started = time.strftime(STAMP, time.gmtime())

    @property
    def idle(self) -> Path:
        """Where a fault started by hand before the first run is journaled (created only then):
        the explicit folder, or a folder named by this process's start time."""
        return Path(self.spec) if self.spec else DEFAULT_ROOT / self._started

    def check(self, spec: str | None = None) -> None:
        """Refuse a non-empty explicit folder (at init, and for a web-UI form's value)."""
        spec = self.spec if spec is None else spec
        if spec and Path(spec).resolve() not in self._ours:
            check_explicit(Path(spec), self.overwrite)
            self._ours.add(Path(spec).resolve())  # ours now: our own files never refuse it

    def start_run(self, spec: str | None, now: float) -> Path:
        """The folder for a run starting ``now``. ``spec`` is ``--results-dir`` as the run sees
        it (a web-UI form can change it); the folder we set for the previous run means
        unchanged."""
        if spec is None or spec in (str(self.idle), str(self.current)):  # what we set: unchanged
            spec = self.spec
        if spec:
            folder = Path(spec)
            try:
                self.check(spec)
            except ValueError as exc:  # only reachable by a form that skipped the check
                folder = new_run_folder(DEFAULT_ROOT, now)
                console.say(f"{exc}; this run writes to {folder}")
            folder.mkdir(parents=True, exist_ok=True)
            self._ours.add(folder.resolve())
        else:
            folder = new_run_folder(DEFAULT_ROOT, now)
        self.current = folder
        return folder


def folders(environment) -> RunFolders | None:
    return getattr(environment, "peerload_results", None)


def on_test_start(environment, **_) -> None:
    """Resolve this run's folder before anything writes (the lifecycle registers it before its
    own listeners). Locust is imported here, not at the top: importing it monkey-patches the
    process, which the unit tests of this module must not do."""
    from locust.runners import WorkerRunner

    run_folders, state = folders(environment), getattr(environment, "peerload", None)
    if isinstance(environment.runner, WorkerRunner) or run_folders is None or state is None:
        return
    options = environment.parsed_options
    folder = run_folders.start_run(getattr(options, "results_dir", None), time.time())
    state.results_dir = folder
    options.results_dir = str(folder)
    stage = getattr(environment, "peerload_faults", None)
    if stage is not None:  # the fault journal of this run goes beside its results
        stage.results_dir = folder
    console.say(f"results of this run: {folder}")
