"""Small disks for nodes' data dirs, so a disk can really run full (the ``disk_full`` fault).

The launcher mounts each node's data dir as a size-limited tmpfs of its own (``disk_mb``;
Linux, root only) before it seeds it, and unmounts it when it closes. ``fill`` takes every free
block with one filler file (fallocate), leaving about 0 bytes free; ``free`` deletes it. The
filler lives at the top of the data dir, outside the node's shared folder, so no node ever
indexes it. tmpfs holds its pages in memory: a filled disk costs its size in RAM until freed.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

FILLER = ".peerload-disk-full"
MIN_MB, MAX_MB = 4, 64 * 1024
#: What the Locust suite mounts when its plan fills a disk: room for a long run's uploads.
DEFAULT_MB = 256
FILL_TRIES = 5  # the node may take or give back blocks while the filler grows
TIMEOUT_S = 30.0


class DiskError(RuntimeError):
    """A small disk that cannot be mounted, filled or freed; the message says why."""


def available() -> tuple[bool, str]:
    """Whether small disks can be mounted here, and why (not)."""
    if not sys.platform.startswith("linux"):
        return False, f"tmpfs mounts need Linux, not {sys.platform}"
    if os.geteuid() != 0:
        return False, f"mounting a tmpfs needs root (running as uid {os.geteuid()})"
    if shutil.which("mount") is None or shutil.which("umount") is None:
        return False, "no mount/umount binary on PATH (Debian package util-linux)"
    return True, "root, mount"


def check_size(mb: int) -> None:
    """ValueError unless ``mb`` is a disk size the launcher mounts."""
    if isinstance(mb, bool) or not isinstance(mb, int) or not MIN_MB <= mb <= MAX_MB:
        raise ValueError(f"disk_mb (--disk-mb) must be {MIN_MB}..{MAX_MB} MiB, not {mb!r}")


def _run(*cmd: str) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DiskError(f"{' '.join(cmd)}: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip() or f"exit code {done.returncode}"
        raise DiskError(f"{' '.join(cmd)}: {why}")


def mount(path: Path, mb: int) -> None:
    """A ``mb`` MiB tmpfs at ``path`` (created if missing), for this user only."""
    check_size(mb)
    ok, why = available()
    if not ok:
        raise DiskError(f"cannot give data dirs a small disk: {why}")
    path.mkdir(parents=True, exist_ok=True)
    _run("mount", "-t", "tmpfs", "-o", f"size={mb}m,mode=0700", "peerload-disk", str(path))


def unmount(path: Path) -> None:
    """Unmount ``path``; lazily if something still holds it (best effort, never raises)."""
    try:
        _run("umount", str(path))
    except DiskError:
        try:
            _run("umount", "-l", str(path))
        except DiskError:
            pass


def free_bytes(path: Path) -> int:
    """Bytes still free on the filesystem of ``path``, those kept for root included."""
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


def fill(path: Path) -> dict:
    """Grow the filler at the top of ``path`` until its filesystem has about 0 bytes free."""
    filler = path / FILLER
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(FILL_TRIES):
            free = free_bytes(path)
            if free == 0:
                break
            try:
                os.posix_fallocate(fd, os.fstat(fd).st_size, free)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:  # taken meanwhile: measure again
                    raise DiskError(f"filling {path}: {exc.strerror or exc}") from None
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    return {"filler_bytes": size, "free_bytes": free_bytes(path)}


def free(path: Path) -> dict:
    """Delete the filler of ``path``; says when there was none."""
    filler = path / FILLER
    try:
        size = filler.stat().st_size
        filler.unlink()
    except FileNotFoundError:
        return {"note": "no filler", "free_bytes": free_bytes(path)}
    return {"freed_bytes": size, "free_bytes": free_bytes(path)}
