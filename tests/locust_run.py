"""Run the real Locust suite as a subprocess, and find what it left behind."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "phase4.py"
LOG_NAME = "locust-webui.log"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float, message: str, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, message
        time.sleep(interval)
    return value


@contextmanager
def web_ui(results: Path | None, *args: str, cwd: Path = ROOT):
    """Locust's web UI on a free port, with the suite loaded; yields its base URL. On the way
    out Locust is stopped (terminate, then kill) and no node process may be left behind.
    ``results``: ``--results-dir`` (None: the default, results/<time>/ under ``cwd``)."""
    port = free_port()
    # Output goes to a file, not a pipe: nobody reads a pipe until the end, and a full pipe
    # (64 KiB of dashboard and failure lines) blocks Locust's print, freezing its whole loop.
    # Not inside the results folder: an explicit --results-dir must be empty.
    log_path = cwd / LOG_NAME if results is None else results.parent / LOG_NAME
    log = open(log_path, "w")  # noqa: SIM115 - closed in the finally below
    results_args = [] if results is None else ["--results-dir", str(results)]
    proc = subprocess.Popen(
        locust_cmd("--web-host", "127.0.0.1", "--web-port", str(port)) + results_args + [*args],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, "locust exited before its web UI came up"
        try:
            urllib.request.urlopen(f"{url}/stats/requests", timeout=2).read()
            return True
        except OSError:
            return False

    try:
        wait_until(answers, 60, "web UI never came up")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert orphans(cluster_workdir(log_path.read_text())) == []


def post(url: str, form: str | None = None) -> dict:
    data = form.encode() if form is not None else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    return json.loads(urllib.request.urlopen(request, timeout=60).read() or b"{}")
