"""Run the real Locust suite as a subprocess, and find what it left behind."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "phase4.py"


def locust_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args]


def run_headless(results: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = locust_cmd("--headless", "--only-summary", "--results-dir", str(results), *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def cluster_workdir(output: str) -> Path | None:
    match = re.search(r"cluster ready: (\S+)/cluster\.json", output)
    return Path(match.group(1)) if match else None


def orphans(workdir: Path | None, wait_s: float = 3.0) -> list[str]:
    """Node processes still running for ``workdir`` (they exit with their parent)."""
    if workdir is None:
        return []
    deadline = time.monotonic() + wait_s
    while True:
        left = []
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if str(workdir) in cmdline and "-m node" in cmdline:
                left.append(cmdline)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
