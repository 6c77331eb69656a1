"""The mutation check's defects still apply to today's node/, and only ever to a copy.

A refactor that moves the code a defect patches must fail here, naming the defect, rather than
leave bench/mutations.py silently testing nothing.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from bench import mutations
from bench.mutations import (
    DEFECTS,
    REPO,
    Defect,
    PatchError,
    apply,
    copy_tree,
    patched,
    preflight,
)

UNDEFINED_NAME = "F821"  # a patch using a name its module lacks would crash, not mutate


@pytest.fixture
def written(monkeypatch) -> list[Path]:
    """Every path ``Path.write_text`` writes during the test (how ``apply`` writes). Checking
    writes, not the tree's digests: other engineers edit the working tree while tests run."""
    paths: list[Path] = []
    real = Path.write_text

    def spy(self: Path, *args, **kwargs):
        paths.append(self.resolve())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", spy)
    return paths


def in_working_tree(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_relative_to(REPO)]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    return copy_tree(tmp_path_factory.mktemp("pristine"))


def test_defect_names_are_unique_and_there_are_enough():
    names = [d.name for d in DEFECTS]
    assert len(names) == len(set(names)) >= 8


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: d.name)
def test_patch_applies_exactly_once_and_leaves_the_working_tree_alone(
    defect: Defect, pristine: Path, tmp_path: Path, written: list[Path]
):
    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    target = root / "node" / defect.file
    original = target.read_text()
    try:
        expected = patched(defect, original)
    except PatchError as exc:
        pytest.fail(f"{exc} (the code moved: update the defect in bench/mutations.py)")
    apply(defect, root)
    assert target.read_text() == expected != original, defect.name
    for line in filter(None, (x.strip() for x in defect.new.splitlines())):
        assert line in expected, f"{defect.name}: {line!r} not in the patched file"
    compile(expected, str(target), "exec")  # a syntax error would be a crash, not a defect
    assert written == [target.resolve()] and not in_working_tree(written)


def test_patched_code_uses_no_undefined_name(pristine: Path, tmp_path: Path):
    targets = []
    for defect in DEFECTS:  # one copy per defect, named after it; one ruff run for them all
        shutil.copytree(pristine / "node", tmp_path / defect.name / "node")
        apply(defect, tmp_path / defect.name)
        targets.append(str(tmp_path / defect.name / "node" / defect.file))
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--isolated", "--select",
         UNDEFINED_NAME, *targets],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert lint.returncode == 0, f"a defect uses a name its module lacks:\n{lint.stdout}"


def test_apply_fails_loudly_when_the_code_moved(pristine: Path, tmp_path: Path):
    root = tmp_path / "copy"
    shutil.copytree(pristine, root)
    moved = Defect("moved", "flood.py", "no such line in flood.py", "x", "")
    with pytest.raises(PatchError, match="moved: node/flood.py has 0 matches"):
        apply(moved, root)


@pytest.mark.parametrize("indent", ["", "    ", "        "])
def test_patch_follows_its_code_when_it_is_re_indented(indent: str):
    code = f"{indent}if ready:\n{indent}    go()\n{indent}done()\n"
    defect = Defect("re-indented", "x.py", "if ready:\n    go()", "if ready:\n    stop()", "")
    assert patched(defect, code) == f"{indent}if ready:\n{indent}    stop()\n{indent}done()\n"


def test_apply_refuses_the_working_tree(written: list[Path]):
    with pytest.raises(PatchError, match="working tree"):
        apply(DEFECTS[0], REPO)
    assert not written


def test_copy_leaves_out_git_results_and_caches(pristine: Path):
    assert (pristine / "locustfiles" / "phase4.py").is_file()
    assert (pristine / "faults" / "plans" / "quick.toml").is_file()
    for left_out in (".git", "results", "build", "tests"):
        assert not (pristine / left_out).exists()
    assert not list(pristine.rglob("__pycache__"))


def test_preflight_applies_every_defect_to_scratch_copies(written: list[Path]):
    preflight(list(DEFECTS))
    assert len(written) == len(DEFECTS) and not in_working_tree(written)


def test_stop_group_kills_a_leader_that_ignores_sigterm_and_what_it_started(monkeypatch):
    monkeypatch.setattr(mutations, "GRACE_S", 0.3)
    script = "trap '' TERM; sleep 60 & sleep 60 & wait"  # SIGTERM ignored, by the sleeps too
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True)
    try:
        wait_until(lambda: len(psutil.Process(proc.pid).children()) == 2, "no sleeps started")
        children = psutil.Process(proc.pid).children()
        mutations._stop_group(proc)
        assert proc.returncode == -signal.SIGKILL
        wait_until(lambda: all(map(dead, children)), "the shell's sleeps outlived the group")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def dead(proc: psutil.Process) -> bool:
    """Gone or a zombie (killed; its reaper, a stranger's pid 1 here, reaps when it likes)."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_until(predicate, message: str, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.02)


def test_a_node_that_crashed_before_any_poll_is_known_to_have_run_the_copy(tmp_path):
    root, results = tmp_path / "repo", tmp_path / "results"
    (results / "logs").mkdir(parents=True)
    assert not mutations._logs_name(results, root)
    trace = f'  File "{root}/node/catalog.py", line 66, in __init__\nTypeError: ...\n'
    (results / "logs" / "n1.log").write_text(trace)
    assert mutations._logs_name(results, root)
    assert not mutations._logs_name(results, tmp_path / "other")
