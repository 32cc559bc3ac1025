"""A fork server for job processes: one warm interpreter that forks each job instead of starting Python anew.

Starting ``python main.py`` costs a job the interpreter's start and its imports, again for every job: about
50 ms for the job runtime alone, seconds for TensorFlow. The fork server (``_zygote.py``, its own process)
imports those once, ahead, and forks a child per job that is, from then on, the same process ``python
main.py`` would have been (see ``_zygote.py``): its own process group, folder, environment and pipes, so a job
is as isolated as before, cancelling and limits work by its pid as before, and the job folder still runs by
hand. Jobs of an operation with an environment of its own re-execute into it from the forked child, as
they do from a fresh one.

This module is the workbench's side, usable from any thread: :meth:`ForkServer.spawn` hands the job's
pipes over (``SCM_RIGHTS``) and gives a :class:`Forked` whose futures say the job's pid and, later, its exit
code. Linux only (``SOCK_SEQPACKET``); :func:`available` says whether this machine has what it needs.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepforge_panel import jobruntime
from deepforge_panel.adapters.compute._process import job_argv, job_env
from deepforge_panel.adapters.compute.messages import EVENTS_FD_ENV

__all__ = ["ForkServer", "ForkServerGone", "ForkServers", "Forked", "ForkedPopen", "JobPipes", "available", "fork_job"]

ZYGOTE = Path(__file__).with_name("_zygote.py")
RUNTIME = Path(jobruntime.__file__).parent
"""The folder holding the job runtime package ``deepforge``, so the server can import it ahead."""

MAX_REQUEST = 1 << 20
"""The largest request the server reads (``_zygote.MAX_MESSAGE``): a job's environment and paths fit many times."""

GONE_CODE = -signal.SIGKILL
"""The exit code of jobs whose fork server ended before telling how they ended: they are killed."""


def available() -> bool:
    """Whether jobs can be forked here: a POSIX system with ``SOCK_SEQPACKET`` and descriptor passing."""
    return sys.platform == "linux" and hasattr(socket, "SOCK_SEQPACKET") and hasattr(socket, "send_fds")


class ForkServerGone(RuntimeError):
    """The fork server is not running (it could not start, died, or was closed)."""


@dataclass
class Forked:
    """A job handed to the fork server: ``pid`` resolves once it runs, ``exited`` with its exit code."""

    pid: Future[int] = field(default_factory=Future)
    exited: Future[int] = field(default_factory=Future)

    def kill_once_started(self) -> None:
        """Kill the job as soon as it has a pid (its caller gave up on it while the server imported ahead)."""
        self.pid.add_done_callback(_kill_started)


def _kill_started(pid: Future[int]) -> None:
    if not pid.cancelled() and pid.exception() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid.result(), signal.SIGKILL)


@dataclass
class JobPipes:
    """The workbench's ends of a forked job's standard streams (``stdin`` None: the job reads /dev/null)."""

    stdin: int | None
    stdout: int
    stderr: int

    def close(self) -> None:
        for fd in (self.stdin, self.stdout, self.stderr):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)


def fork_job(
    server: ForkServer,
    folder: str | os.PathLike[str],
    env: Mapping[str, str],
    events_write: int,
    *,
    stdin: bool,
    preload: Sequence[str] = (),
    keep: tuple[str | os.PathLike[str], int] | None = None,
) -> tuple[Forked, JobPipes]:
    """Fork the job of ``folder`` (``python main.py`` there) with ``env`` added to this process's environment,
    new pipes for its standard streams and ``events_write`` as its events channel (the caller closes its
    copy of that); our ends of the pipes come back with it. With ``keep`` (a folder, and the events channel's
    read end), the job goes on if this process dies: the server then writes its streams to that folder (see
    ``_zygote.py``). Raises :class:`ForkServerGone`."""
    ours: list[int] = []
    theirs: list[int] = []
    try:
        if stdin:
            stdin_read, stdin_write = os.pipe()
            ours.append(stdin_write)
        else:
            stdin_read = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        theirs.append(stdin_read)
        for _ in ("stdout", "stderr"):
            read, write = os.pipe()
            ours.append(read)
            theirs.append(write)
        fds = [*theirs, events_write]
        if keep is not None:
            reads = [ours[-2], ours[-1], keep[1]]  # stdout's, stderr's and the events channel's read ends
            theirs.extend(os.dup(fd) for fd in reads)
            fds.extend(theirs[-3:])
        forked = server.spawn(
            folder, job_argv()[1:], job_env(env, events_write), fds, preload, keep=None if keep is None else keep[0]
        )
    except BaseException:
        for fd in ours:
            os.close(fd)
        raise
    finally:
        for fd in theirs:
            os.close(fd)
    pipes = JobPipes(ours[0], ours[1], ours[2]) if stdin else JobPipes(None, ours[0], ours[1])
    return forked, pipes


class ForkedPopen:
    """A forked job seen as ``subprocess.Popen`` sees a process (for code on threads, like a Dask worker's):
    ``pid``, ``returncode``, ``poll()``, ``wait(timeout)``, and file objects ``stdin`` (or None), ``stdout``,
    ``stderr``. Waits for the job's pid, which can take as long as the server's imports ahead."""

    def __init__(self, forked: Forked, pipes: JobPipes) -> None:
        try:
            self.pid = forked.pid.result()
        except BaseException:
            pipes.close()
            raise
        self._exited = forked.exited
        self.returncode: int | None = None
        self.stdin = os.fdopen(pipes.stdin, "wb") if pipes.stdin is not None else None
        self.stdout = os.fdopen(pipes.stdout, "rb")
        self.stderr = os.fdopen(pipes.stderr, "rb")

    def poll(self) -> int | None:
        if self._exited.done():
            self.returncode = self._exited.result()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        try:
            self.returncode = self._exited.result(timeout)
        except TimeoutError:
            raise subprocess.TimeoutExpired(job_argv(), timeout or 0) from None
        return self.returncode

    def exited(self) -> Future[int]:
        """What resolves with the exit code once the job has ended."""
        return self._exited


class ForkServer:
    """One fork server process, started with the environment its jobs share (what imports may read)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = {k: v for k, v in env.items() if k != EVENTS_FD_ENV}
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._process = subprocess.Popen(
                [sys.executable, str(ZYGOTE), str(theirs.fileno()), str(RUNTIME)],
                env=self.env,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a terminal's Ctrl+C reaches the workbench, which decides
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._socket = ours
        self._lock = threading.Lock()
        self._replies: collections.deque[Forked] = collections.deque()
        self._running: dict[int, Forked] = {}
        self._early: dict[int, int] = {}  # exits read before the reply that named the pid was handled
        self._gone = False
        self._reader = threading.Thread(target=self._read, name="deepforge-forkserver", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """Whether the server still takes jobs."""
        return not self._gone

    def spawn(
        self,
        cwd: str | os.PathLike[str],
        argv: Sequence[str],
        env: Mapping[str, str],
        fds: Sequence[int],
        preload: Sequence[str] = (),
        *,
        keep: str | os.PathLike[str] | None = None,
    ) -> Forked:
        """Fork a job running ``argv`` in ``cwd`` with environment ``env`` (whole, not added to the server's)
        and ``fds`` (stdin, stdout, stderr, events write end; with ``keep``, then the read ends of stdout, stderr
        and events) as its pipes; the caller keeps and closes its copies of them. Raises
        :class:`ForkServerGone` if the server is not running."""
        forked = Forked()
        request = {
            "cwd": os.fspath(cwd),
            "argv": list(argv),
            "env": {k: v for k, v in env.items() if k != EVENTS_FD_ENV},
            "events_env": EVENTS_FD_ENV,
            "preload": list(preload),
            "keep": None if keep is None else os.fspath(keep),
        }
        self._send(request, list(fds), forked)
        return forked

    @property
    def pid(self) -> int:
        """The server's own process."""
        return self._process.pid

    def close(self) -> None:
        """End the server and reap it; its running children end with it, but for kept ones (see ``_zygote.py``),
        which it waits for: close it once those are done."""
        self._mark_gone()
        try:
            self._socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._socket.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=5)

    def _send(self, request: dict[str, Any], fds: list[int], forked: Forked) -> None:
        data = json.dumps(request).encode()
        if len(data) > MAX_REQUEST:
            raise ForkServerGone(f"the job's request is {len(data)} bytes, more than the server takes ({MAX_REQUEST})")
        with self._lock:
            if self._gone:
                raise ForkServerGone("the fork server is not running")
            try:
                socket.send_fds(self._socket, [data], fds)
            except OSError as exc:
                raise ForkServerGone(f"the fork server is not running ({exc})") from exc
            self._replies.append(forked)

    def _read(self) -> None:
        """Hand each message of the server to the future it settles; on its end, settle them all."""
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            self._handle(json.loads(data))
        self._mark_gone()

    def _handle(self, message: dict[str, Any]) -> None:
        with self._lock:
            if "exited" in message:
                pid, code = int(message["exited"]), int(message["code"])
                forked = self._running.pop(pid, None)
                if forked is None:
                    self._early[pid] = code
                    return
            else:
                forked = self._replies.popleft()
                if "error" in message:
                    forked.pid.set_exception(ForkServerGone(str(message["error"])))
                    return
                pid = int(message["pid"])
                early = self._early.pop(pid, None)
                if early is None:
                    self._running[pid] = forked
                forked.pid.set_result(pid)
                if early is None:
                    return
                code = early
        forked.exited.set_result(code)

    def _mark_gone(self) -> None:
        """No more jobs: whatever still waits on this server learns it is gone; jobs it left running are killed
        (nothing could tell how they end) and count as killed."""
        with self._lock:
            self._gone = True
            waiting, self._replies = list(self._replies), collections.deque()
            running, self._running = dict(self._running), {}
        for forked in waiting:
            if not forked.pid.done():
                forked.pid.set_exception(ForkServerGone("the fork server ended before starting the job"))
        for pid, forked in running.items():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            if not forked.exited.done():
                forked.exited.set_result(GONE_CODE)


class ForkServers:
    """Fork servers by the environment their jobs get (what imports may read: one server per environment),
    each started on first use and again if it died. Thread-safe."""

    def __init__(self) -> None:
        self._servers: dict[frozenset[tuple[str, str]], ForkServer] = {}
        self._lock = threading.Lock()

    def for_env(self, env: Mapping[str, str]) -> ForkServer:
        """The server for jobs given ``env`` (added to this process's environment, as ``job_env`` does)."""
        key = frozenset(env.items())
        with self._lock:
            server = self._servers.get(key)
            if server is None or not server.alive:
                if server is not None:
                    server.close()
                server = self._servers[key] = ForkServer(job_env(env, -1))
            return server

    def close(self) -> None:
        """End every server (their running jobs end with them)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.close()
