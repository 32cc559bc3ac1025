"""The fork server's own process: a warm Python that forks one child per job.

Run as a script (``python _zygote.py FD RUNTIME``) by :class:`~._forkserver.ForkServer`, never imported by
the workbench; it imports nothing of the workbench either, so a job forked from it holds only what the same
job run with ``python main.py`` would import, plus what it was asked to import ahead (``preload``).

For each request it first imports the request's ``preload`` modules that are not imported yet (the job
runtime, numpy, TensorFlow: what the job is about to import; a module that fails to import is left to the
job, which then fails on it as it would have), then forks. The child becomes what ``python main.py`` in the
job's folder is: a process group of its own (made before its pid is reported, so a signal to the group reaches
it at once), the job's pipes as stdin, stdout, stderr and its
events channel, the folder as working directory and first entry of ``sys.path``, the job's environment
(replacing this process's), ``sys.argv``, a fresh seed for numpy's global generator (Python's ``random``
reseeds itself after a fork), the default signal handlers; then it runs ``main.py`` as ``__main__`` and exits
with the code the script would have. It ends as :mod:`multiprocessing`'s forked workers do: once the script,
its non-daemon threads and its ``atexit`` handlers are done and the standard streams flushed, with
``os._exit``, without tearing every object down one by one, which would copy each page of memory it shares
with the server (20 ms for the job runtime alone, far more with TensorFlow).

Protocol, one JSON object per message on the ``SOCK_SEQPACKET`` socket ``FD``:

- request ``{"cwd", "argv", "env", "preload", "events_env", "keep"}`` with four descriptors (stdin, stdout,
  stderr, events), and with a ``keep`` folder three more: the read ends of stdout, stderr and events;
- reply, in the order of the requests: ``{"pid": N}``, or ``{"error": "..."}`` when it could not fork;
- later, once per child: ``{"exited": N, "code": C}``, ``C`` as ``subprocess`` gives it (``-signal`` if killed).

The server ends when the socket closes (the workbench ended or let it go). Jobs asked to be kept then go on:
the server reads their pipes in the workbench's place, appending what they write to ``stdout``, ``stderr`` and
``events`` in their ``keep`` folder, and once a job has ended and its pipes are read to their end, writes its
exit code to ``exit`` there (``{"code": C}``, by rename, so it is whole once seen); a workbench started anew
follows them from those files (``local.py``'s ``attach``). The server ends once it has no job left. Other jobs
are killed at once (they could not be followed).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import importlib.machinery
import io
import json
import os
import selectors
import signal
import socket
import sys
import threading
import types
import warnings
from typing import Any, NoReturn

MAX_MESSAGE = 1 << 20
FDS = 4
KEPT_FDS = 3
"""The read ends of a kept job's stdout, stderr and events, sent after its own four descriptors."""
STREAMS = ("stdout", "stderr", "events")


class Job:
    """What a forked child runs: ``argv[0]`` in ``cwd``."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.cwd: str = request["cwd"]
        self.argv: list[str] = request["argv"]


class Kept:
    """A job that may outlive the workbench: where its streams go then, and the server's copies of their read
    ends (untouched while the workbench reads them)."""

    def __init__(self, folder: str, reads: list[int]) -> None:
        self.folder = folder
        self.reads = dict(zip(STREAMS, reads, strict=True))
        self.code: int | None = None

    def close(self) -> None:
        _close(list(self.reads.values()))
        self.reads.clear()


def main() -> int:
    """Serve until the socket closes (0); in a forked child, run the job and exit as it does."""
    warnings.filterwarnings("ignore", message=".*multi-threaded.*fork", category=DeprecationWarning)
    gc.disable()  # no holes in pages children share; each child collects its own garbage
    control = socket.socket(fileno=int(sys.argv[1]))
    runtime = sys.argv[2]
    job_path = list(sys.path[1:])  # a job's sys.path after its own folder: this script's folder is not on it
    sys.path[:] = [*job_path, runtime]
    job = _serve(control)
    if job is None:
        return 0
    assert isinstance(job, Job)
    gc.enable()
    sys.path[:] = [job.cwd, *job_path]
    sys.argv[:] = job.argv
    _run(os.path.join(job.cwd, job.argv[0]))


def _run(script: str) -> NoReturn:
    """Run ``script`` as ``__main__`` and exit with its code (see the module's docstring)."""
    try:
        _execute(script)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except KeyboardInterrupt:
        sys.excepthook(*sys.exc_info())
        code = -signal.SIGINT
    except BaseException:  # noqa: BLE001 - as the interpreter does with an uncaught exception
        sys.excepthook(*sys.exc_info())
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # the script's non-daemon threads, as the interpreter waits for them
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    if code < 0:  # ended by Ctrl+C: end by SIGINT too, as Python does
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code & 0xFF)


def _execute(script: str) -> None:
    """Run ``script`` as the module ``__main__``, as ``python script`` does (``sys.argv[0]`` left as given)."""
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    sys.modules["__main__"] = main
    with io.open_code(script) as source:
        code = compile(source.read(), script, "exec", dont_inherit=True)
    exec(code, main.__dict__)


def _exit_code(value: object) -> int:
    """The exit status ``sys.exit(value)`` gives (a message is printed to stderr, then 1)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    try:
        print(value, file=sys.stderr)
    except (OSError, ValueError):
        pass
    return 1


def _serve(control: socket.socket) -> Job | None:
    """The server's loop; returns in a forked child, with the job it is to run (None in the server, at its end)."""
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes the selector through the wakeup descriptor
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in a terminal is the workbench's to handle
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    failed: set[str] = set()
    kept: dict[int, Kept] = {}
    others: set[int] = set()
    while True:
        for key, _ in selector.select():
            if key.fileobj is not control:
                _drain(wake_read)
                continue
            try:
                data, fds, _, _ = socket.recv_fds(control, MAX_MESSAGE, FDS + KEPT_FDS)
            except OSError:
                data, fds = b"", []
            if not data:
                selector.close()
                _keep(kept, others, wake_read)
                return None
            request = json.loads(data)
            _preload(request.get("preload", ()), failed)
            expected = FDS + (KEPT_FDS if request.get("keep") else 0)
            if len(fds) != expected:
                _close(fds)
                _send(control, {"error": f"the job's pipes did not arrive ({len(fds)} of {expected} descriptors)"})
                continue
            gc.freeze()  # what the server holds now is never collected by a child (no copied pages)
            try:
                pid = os.fork()
            except OSError as exc:
                _close(fds)
                _send(control, {"error": f"could not fork the job: {exc}"})
                continue
            if pid == 0:
                selector.close()
                for fd in (wake_read, wake_write):
                    os.close(fd)
                signal.set_wakeup_fd(-1)
                for job in kept.values():
                    job.close()  # other jobs' streams are none of this one's business
                _close(fds[FDS:])
                return _become(request, fds[:FDS], control)
            try:
                os.setpgid(pid, pid)  # the child does so too: whichever runs first, the group exists once replied
            except OSError:
                pass
            _close(fds[:FDS])
            if request.get("keep"):
                kept[pid] = Kept(request["keep"], fds[FDS:])
            else:
                others.add(pid)
            _send(control, {"pid": pid})
        _reap(control, kept, others)


def _keep(kept: dict[int, Kept], others: set[int], wake: int) -> None:
    """The workbench is gone: kill the jobs that cannot be followed, and keep the others going (see the module's
    docstring) until every one has ended and its pipes are read to their end."""
    for pid in others:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)
    selector = selectors.DefaultSelector()
    selector.register(wake, selectors.EVENT_READ)
    for pid, job in kept.items():
        os.makedirs(job.folder, exist_ok=True)
        for name, fd in job.reads.items():
            out = open(os.path.join(job.folder, name), "ab", 0)  # noqa: SIM115 - closed once its pipe ends
            selector.register(fd, selectors.EVENT_READ, (pid, name, out))
    while True:
        for pid, code in _ended():
            if pid in kept:
                kept[pid].code = code
        for pid, job in list(kept.items()):
            if job.code is not None and not job.reads:
                _write_exit(job)
                del kept[pid]
        if not kept:
            return
        for key, _ in selector.select(timeout=1.0):
            if key.data is None:
                _drain(wake)
                continue
            pid, name, out = key.data
            data = os.read(key.fd, 1 << 16)
            if data:
                out.write(data)
                continue
            selector.unregister(key.fd)
            out.close()
            os.close(key.fd)
            del kept[pid].reads[name]


def _write_exit(job: Kept) -> None:
    """``exit`` in the job's keep folder, whole once it is there (written aside, then renamed)."""
    os.makedirs(job.folder, exist_ok=True)
    path = os.path.join(job.folder, "exit")
    with open(path + ".tmp", "w") as out:
        json.dump({"code": job.code}, out)
    os.replace(path + ".tmp", path)


def _become(request: dict[str, Any], fds: list[int], control: socket.socket) -> Job:
    """Turn this forked child into the job's process (see the module's docstring)."""
    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setpgid(0, 0)
    stdin, stdout, stderr, events = fds
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.set_inheritable(events, True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ[request["events_env"]] = str(events)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()  # a fresh process draws its own: forked children must not share one stream
    feedback = sys.modules.get("deepforge.feedback")
    if feedback is not None:
        feedback.connect_from_environment()  # imported ahead, before this job's channel existed
    return Job(request)


def _preload(modules: list[str], failed: set[str]) -> None:
    """Import each module not imported yet; one that fails is not tried again (the job will say why)."""
    for name in modules:
        if name in sys.modules or name in failed:
            continue
        try:
            importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - whatever an import does, the job meets it again itself
            failed.add(name)


def _reap(control: socket.socket, kept: dict[int, Kept], others: set[int]) -> None:
    """Report every child that ended; a kept one's exit code is written too (the workbench may die before it
    reads the report, and one started anew then finds it there)."""
    for pid, code in _ended():
        others.discard(pid)
        job = kept.pop(pid, None)
        if job is not None:
            job.code = code
            job.close()
            with contextlib.suppress(OSError):
                _write_exit(job)
        _send(control, {"exited": pid, "code": code})


def _ended() -> list[tuple[int, int]]:
    """Every child that ended since last asked, with its exit code as ``subprocess`` gives it."""
    ended: list[tuple[int, int]] = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended.append((pid, os.waitstatus_to_exitcode(status)))


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    try:
        control.send(json.dumps(message).encode())
    except OSError:
        pass  # the workbench is gone; the loop ends at its next read


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _close(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
