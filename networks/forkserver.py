"""A fork server ("zygote"): a network's node modules imported once, one forked child per node.

Starting 100 interpreters that each import gevent, gRPC and the node costs ~0.3 s of CPU apiece
on a 2-core machine; a zygote pays it once and forks, and its children share the imported pages
(copy-on-write; ``gc.freeze`` keeps the collector from touching them), so PSS drops too. Opt-in
per definition (``node.preload``, docs/networks.md); the launcher (networks/launcher.py) uses it
for local nodes whose command is ``{python} -m MODULE ...``.

Lifetime, as for a node started with Popen: the zygote gets the launcher's death signal (it is
started like a node, networks/procs.py), and each child sets PR_SET_PDEATHSIG itself, tied to
the zygote; the zygote also kills its children and exits when its socket to the launcher says
``quit`` or ends. A child runs in a process group of its own, so every existing signal path
(kill, pause, stop, ``killpg``) acts on it as on a Popen child.

The zygote imports only the standard library before its preload (it runs as a script, with the
node's cwd, environment and ``sys.path``), keeps references to ``select.poll`` and the ``posix``
calls taken before any monkey-patching, runs no thread (a preload that leaves one is refused: a
fork copies threads half, and gRPC's once killed a node with ``epoll_wait error: Bad file
descriptor``), and talks JSON lines over a socketpair: ``spawn`` → ``spawned`` (pid) or
``failed``; ``exit`` (pid, code as Popen reports it) when a child ends.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import posix
import runpy
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

PR_SET_PDEATHSIG = 1
#: Room for a child's command line in /proc/PID/cmdline (``ps``, psutil, tests read it there):
#: the zygote's last argument is this many spaces, which each child overwrites with its argv.
ARGV_ROOM = 4096
ARG_START, ARG_END = 45, 46  # /proc/PID/stat fields 48 and 49, counted after "PID (comm)"
READY_TIMEOUT_S = 60.0  # the preload's imports, on a loaded machine
REPLY_TIMEOUT_S = 30.0
QUIT_TIMEOUT_S = 5.0
CHUNK = 65536
LOG = "forkserver.log"
LAST_LINE = 400
ABANDONED = -signal.SIGKILL  # a child whose zygote died: its death signal killed it
POLL = select.poll  # taken before any preload can monkey-patch select
FORK, WAITPID = posix.fork, posix.waitpid  # likewise (gevent patches os.fork and os.waitpid)


class ForkServerError(RuntimeError):
    """The fork server did not start (its preload failed) or is gone: one line, with why."""


# -- launcher side ---------------------------------------------------------------------------
class ForkedProcess:
    """A node forked by the zygote, with the part of ``subprocess.Popen`` the launcher uses."""

    def __init__(self, pid: int, args: list[str], server: ForkServer) -> None:
        self.pid = pid
        self.args = args
        self.returncode: int | None = None
        self._server = server

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """The exit code once the zygote reported it; ``subprocess.TimeoutExpired`` after
        ``timeout``."""
        with self._server.changed:
            if not self._server.changed.wait_for(lambda: self.returncode is not None, timeout):
                raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:  # a reaped pid may be someone else's now
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The launcher's handle on its zygote: start it, fork nodes from it, close it."""

    def __init__(self, preload: tuple[str, ...], workdir: Path) -> None:
        self.preload = preload
        self.log_path = workdir / LOG
        self.changed = threading.Condition()
        self.proc: subprocess.Popen | None = None
        self.gone = ""  # why it cannot fork any more ("" while it can)
        self._sock: socket.socket | None = None
        self._children: dict[int, ForkedProcess] = {}
        self._replies: dict[int, Future] = {}
        self._next = 0
        self._send_lock = threading.Lock()
        me = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (server := me()) and server._abandon())

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def start(self, popen: Callable[..., subprocess.Popen], env: dict[str, str], cwd: Path) -> int:
        """Start the zygote with ``popen(cmd, log, env, cwd, pass_fds)`` (the launcher's, with
        its death signal) and wait until its preload is imported; its pid."""
        ours, theirs = socket.socketpair()
        cmd = [sys.executable, __file__, str(theirs.fileno()), *self.preload, " " * ARGV_ROOM]
        try:
            with open(self.log_path, "ab") as log:
                self.proc = popen(cmd, log, env, cwd, (theirs.fileno(),))
        finally:
            theirs.close()
        self._sock = ours
        ready: Future = Future()
        self._replies[0] = ready
        threading.Thread(target=self._read, name="forkserver", daemon=True).start()
        try:
            ready.result(READY_TIMEOUT_S)
        except Exception as exc:
            self.close()
            raise ForkServerError(f"fork server did not start: {exc}") from None
        return self.pid

    def spawn(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path) -> ForkedProcess:
        """Fork a node that runs ``argv`` (``python -m MODULE args``) as that command would."""
        with self._send_lock:
            self._next += 1
            ask, reply = self._next, Future()
            self._replies[ask] = reply
            request = {"spawn": ask, "argv": argv, "env": env, "cwd": str(cwd), "log": str(log)}
            self._send(request)
        try:
            proc = reply.result(REPLY_TIMEOUT_S)
        except TimeoutError:
            raise ForkServerError("fork server did not answer a start in time") from None
        except Exception as exc:
            raise ForkServerError(str(exc)) from None
        proc.args = argv
        return proc

    def close(self) -> None:
        """Ask the zygote to kill its children and exit; then make sure it did."""
        if self._sock is not None:
            try:
                self._send({"quit": True})
            except ForkServerError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(QUIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def kill(self) -> None:
        """At interpreter exit without ``close``: the zygote goes, its children with it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()

    def _abandon(self) -> None:
        """In a forked copy of the launcher (Locust ``--processes``): the zygote, its socket
        and its messages stay the parent's (the reader, below, never reads them here)."""
        self._sock = None
        self.proc = None
        self.gone = "a forked copy of the launcher: the fork server is its parent's"

    def _send(self, message: dict) -> None:
        if self.gone or self._sock is None:
            raise ForkServerError(self.gone or "fork server not started")
        try:
            self._sock.sendall(json.dumps(message).encode() + b"\n")
        except OSError as exc:
            raise ForkServerError(f"fork server gone: {exc}") from None

    def _read(self) -> None:
        """The zygote's messages, until it ends: replies to requests, exit codes of children.
        A forked copy of the launcher whose reader survived the fork (a gevent greenlet) peeks,
        sees it is not the parent, and waits forever: a read would take the parent's message."""
        buf = b""
        sock, owner = self._sock, os.getpid()
        try:
            while True:
                sock.recv(1, socket.MSG_PEEK)
                if os.getpid() != owner:
                    threading.Event().wait()
                data = sock.recv(CHUNK)
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    self._message(json.loads(line))
        except (OSError, ValueError):
            pass
        code = self.proc.wait() if self.proc is not None else None
        self._end(f"fork server exited (exit code {code}): {self._last_line()}")

    def _message(self, msg: dict) -> None:
        if "exit" in msg:
            with self.changed:
                proc = self._children.pop(msg["exit"], None)
                if proc is not None:
                    proc.returncode = msg["code"]
                self.changed.notify_all()
        elif "ready" in msg:
            self._replies.pop(0).set_result(msg["ready"])
        elif "spawned" in msg:
            proc = ForkedProcess(msg["pid"], [], self)
            with self.changed:  # before its exit can be reported
                self._children[proc.pid] = proc
            self._replies.pop(msg["spawned"]).set_result(proc)
        elif "failed" in msg:
            self._replies.pop(msg["failed"]).set_exception(ForkServerError(msg["why"]))

    def _end(self, why: str) -> None:
        """The zygote is gone: no more starts; its children died with it (death signal)."""
        with self.changed:
            self.gone = why
            for proc in self._children.values():
                proc.returncode = ABANDONED
            self._children.clear()
            self.changed.notify_all()
        for reply in list(self._replies.values()):
            if not reply.done():
                reply.set_exception(ForkServerError(why))
        self._replies.clear()

    def _last_line(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")[-LAST_LINE:]
        except OSError:
            return ""
        return next((x.strip() for x in reversed(text.splitlines()) if x.strip()), "")


# -- zygote side -----------------------------------------------------------------------------
def zygote(fd: int, preload: list[str]) -> int:
    """Import ``preload`` in order, then fork a child per ``spawn`` request until ``quit``."""
    sys.path[0] = os.getcwd()  # as ``python -m`` sets it: the node's own modules are found
    for name in preload:
        importlib.import_module(name)
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:
        print(f"forkserver: the preload left {threads - 1} threads running: fork is unsafe")
        return 1
    gc.freeze()  # the collector would otherwise write to (copy) every shared object's page
    children: dict[int, int] = {}  # pidfd -> pid
    poller = POLL()
    poller.register(fd, select.POLLIN)
    send = _sender(fd)
    send({"ready": os.getpid()})
    buf = b""
    while True:
        for ready, _ in poller.poll():
            if ready != fd:
                pid = children.pop(ready)
                poller.unregister(ready)
                os.close(ready)
                _, status = WAITPID(pid, 0)
                send({"exit": pid, "code": os.waitstatus_to_exitcode(status)})
                continue
            data = os.read(fd, CHUNK)
            *lines, buf = (buf + data).split(b"\n")
            requests = [json.loads(line) for line in lines]
            if not data or any("quit" in r for r in requests):
                _kill_children(children)
                return 0
            for request in requests:
                try:
                    pid = _fork(request, [fd, *children])
                except OSError as exc:
                    send({"failed": request["spawn"], "why": f"fork: {exc}"})
                    continue
                try:  # the child does the same: whichever runs first, the group exists
                    os.setpgid(pid, pid)
                except OSError:
                    pass
                pidfd = os.pidfd_open(pid)
                children[pidfd] = pid
                poller.register(pidfd, select.POLLIN)
                send({"spawned": request["spawn"], "pid": pid})


def _sender(fd: int) -> Callable[[dict], None]:
    def send(message: dict) -> None:
        data = json.dumps(message).encode() + b"\n"
        while data:
            data = data[os.write(fd, data) :]

    return send


def _kill_children(children: dict[int, int]) -> None:
    for pid in children.values():
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in children.values():
        WAITPID(pid, 0)


def _fork(request: dict, inherited: list[int]) -> int:
    """Fork one child; in the child, run the request and never return."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = FORK()
    if pid:
        return pid
    code = 1
    try:
        _become_node(request, parent, inherited)
        code = _run(request["argv"])
    except BaseException:  # noqa: BLE001 - whatever it is goes to the node's log
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _become_node(request: dict, parent: int, inherited: list[int]) -> None:
    """What Popen and setpriv give a node: its own group, the death signal, its log, cwd, env."""
    os.setpgid(0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0 or os.getppid() != parent:
        os._exit(ABANDONED & 0xFF)  # the zygote died before the death signal was set
    for fd in inherited:
        os.close(fd)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    for source, target in ((null, 0), (log, 1), (log, 2)):
        os.dup2(source, target)
    os.close(log)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = request["cwd"]
    _retitle(request["argv"])
    gevent = sys.modules.get("gevent")
    if gevent is not None:  # the hub's loop (epoll) is the zygote's until reinitialised
        gevent.reinit()


def _retitle(argv: list[str]) -> None:
    """/proc/PID/cmdline shows the node's own argv (cut to the room the zygote's padding made),
    written over the zygote's argument area: no privilege needed. The area keeps its size, so
    empty arguments follow the node's (moving its end takes CAP_SYS_RESOURCE)."""
    with open("/proc/self/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    start, end = int(fields[ARG_START]), int(fields[ARG_END])
    room = end - start
    title = b"\0".join(os.fsencode(a) for a in argv)[: room - 1] + b"\0"
    ctypes.memmove(start, title.ljust(room, b"\0"), room)


def _run(argv: list[str]) -> int:
    """``python -m MODULE args`` in this process: its exit code as the interpreter gives it."""
    module = argv[2]
    sys.argv = [module, *argv[3:]]
    package = hasattr(sys.modules.get(module), "__path__")  # its __main__ runs, not itself
    sys.modules.pop(f"{module}.__main__" if package else module, None)  # runs afresh as __main__
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    import atexit

    atexit._run_exitfuncs()
    return code


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(zygote(int(sys.argv[1]), sys.argv[2:-1]))  # the last: room for children's argv
