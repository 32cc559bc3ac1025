"""The task a Dask worker runs for one job: rebuild the folder, run it, stream its lines and events back.

Runs inside a worker thread; talks to the client only through a ``distributed.Queue`` (batches of
messages in the ``_dask_wire`` format, the last one ``{"type": "exit"}``) and a ``distributed.Event``
(set by the client to cancel). The job's events channel is a pipe read here by a thread of its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import IO, Any

from deepforge_panel.adapters.compute._dask_outbox import Outbox
from deepforge_panel.adapters.compute._dask_wire import to_wire
from deepforge_panel.adapters.compute._forkserver import ForkedPopen, ForkServerGone, ForkServers, available, fork_job
from deepforge_panel.adapters.compute._limits import WATCH_S, Limits, LimitWatch
from deepforge_panel.adapters.compute._lines import Piece, iter_pieces
from deepforge_panel.adapters.compute._process import (
    CONSOLE_LIMIT,
    KILL_GRACE_S,
    LINE_LIMIT,
    job_argv,
    line,
    record,
    signal_group,
    spawn_options,
)
from deepforge_panel.adapters.compute.messages import AdapterMessage, Line, Started, Stopped, Stream

__all__ = ["read_folder", "run_job_on_worker", "write_folder"]

# How long the worker waits for a message of the client's control (stdin, interrupt) before looking whether the
# job has ended.
POLL_S = 0.1
# How long one wait on the client's cancel event lasts; the job's end does not wait for it.
CANCEL_WAIT_S = 1.0


def run_job_on_worker(
    job_id: str,
    files: dict[str, bytes],
    env: dict[str, str],
    queue_name: str,
    cancel_name: str,
    inbox_name: str | None = None,
    limits: dict[str, float | None] | None = None,
    preload: tuple[str, ...] = (),
) -> int | None:
    """Run the shipped job folder here; return its exit code (None if cancelled before it started).

    With ``inbox_name``, the job's stdin is a pipe fed from that queue (the client's ``JobControl``); past its
    ``limits`` (:meth:`Limits.to_dict`) the job is stopped and a ``Stopped`` message says why. Where the
    machine allows it the job is forked from this worker's fork server, which imports ``preload`` ahead.
    """
    from distributed import Event, Queue

    out: Any = Queue(queue_name)
    outbox = Outbox(out)
    cancel: Any = Event(cancel_name)
    inbox: Any = Queue(inbox_name) if inbox_name is not None else None
    code: int | None = None
    try:
        if cancel.is_set():
            return None
        safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", job_id)[:40]
        with tempfile.TemporaryDirectory(prefix=f"deepforge-{safe_id}-") as tmp:
            write_folder(Path(tmp), files)
            code = _run(tmp, env, outbox, cancel, inbox, Limits.from_dict(limits), tuple(preload))
        return code
    finally:
        outbox.send({"type": "exit", "code": code})
        outbox.close()
        out.close()


def write_folder(root: Path, files: dict[str, bytes]) -> None:
    """Recreate a job folder from {relative posix path: bytes}, refusing paths that leave ``root``."""
    base = root.resolve()
    for rel, data in files.items():
        target = (base / rel).resolve()
        if not target.is_relative_to(base):
            raise ValueError(f"job file {rel!r} would be written outside the job folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _run(
    cwd: str,
    env: dict[str, str],
    outbox: Outbox,
    cancel: Any,
    inbox: Any = None,
    limits: Limits | None = None,
    preload: tuple[str, ...] = (),
) -> int:
    """Start the job process, forward its lines and events, kill its group if ``cancel`` gets set or the job goes
    past its ``limits``."""
    # Both ends are non-inheritable (PEP 446); pass_fds hands the job the write end only.
    events_read, events_write = os.pipe()
    try:
        proc = _start(cwd, env, events_write, stdin=inbox is not None, preload=preload)
    except BaseException:
        os.close(events_read)
        raise
    finally:
        os.close(events_write)  # else the channel never ends: this process would hold it open
    outbox.send(to_wire(Started(time.time())))
    assert proc.stdout is not None and proc.stderr is not None
    events = os.fdopen(events_read, "rb")
    readers = [
        threading.Thread(target=_forward, args=(proc.stdout, partial(_line, "stdout"), outbox), daemon=True),
        threading.Thread(target=_forward, args=(proc.stderr, partial(_line, "stderr"), outbox), daemon=True),
        threading.Thread(
            target=_forward, args=(events, record, outbox), kwargs={"limit": LINE_LIMIT, "whole": True}, daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    if inbox is not None:  # ends by itself once the job has: nothing waits for it
        threading.Thread(target=_deliver, args=(inbox, proc), daemon=True).start()
    watch = LimitWatch(proc.pid, limits) if limits is not None and limits != Limits() else None
    wake, cancelled_by_client = _wake_on_end(proc), threading.Event()
    threading.Thread(target=_watch_cancel, args=(cancel, wake, cancelled_by_client), daemon=True).start()
    try:
        cancelled = False
        while proc.poll() is None:
            reason = watch.exceeded() if watch is not None else None
            if reason is not None:
                outbox.send(to_wire(Stopped(reason)))
            if reason is not None or cancelled_by_client.is_set():
                _terminate(proc)
                cancelled = True
                break
            wake.wait(timeout=WATCH_S if watch is not None else None)
        code = proc.wait()
        wake.set()  # ends the cancel watch
        for reader in readers:
            # Everything is read before the exit is reported, unless a killed job left a process
            # outside its group holding the pipes open.
            reader.join(timeout=KILL_GRACE_S if cancelled else None)
        return code
    finally:
        if proc.poll() is None:
            _terminate(proc)


def _start(
    cwd: str, env: dict[str, str], events_write: int, *, stdin: bool, preload: tuple[str, ...]
) -> subprocess.Popen[bytes] | ForkedPopen:
    """The job's process: forked from this worker's fork server for ``env`` where possible, else started anew."""
    if available():
        try:
            forked, pipes = fork_job(_servers.for_env(env), cwd, env, events_write, stdin=stdin, preload=preload)
            return ForkedPopen(forked, pipes)
        except ForkServerGone:
            pass  # started anew below
    return subprocess.Popen(job_argv(), **spawn_options(cwd, env, events_write, stdin=stdin))


_servers = ForkServers()
"""This worker's fork servers; they end with the worker (their sockets close)."""


def _wake_on_end(proc: subprocess.Popen[bytes] | ForkedPopen) -> threading.Event:
    """An event set as soon as the job's process ends (or by whoever else needs the loop to look again)."""
    wake = threading.Event()
    if isinstance(proc, ForkedPopen):
        proc.exited().add_done_callback(lambda _: wake.set())
    else:
        popen = proc

        def wait() -> None:
            popen.wait()
            wake.set()

        threading.Thread(target=wait, daemon=True).start()
    return wake


def _watch_cancel(cancel: Any, wake: threading.Event, cancelled: threading.Event) -> None:
    """Until the job has ended, wait on the client's cancel event; once set, say so and wake the loop."""
    while not wake.is_set():
        try:
            if cancel.wait(timeout=CANCEL_WAIT_S):
                cancelled.set()
                wake.set()
                return
        except Exception:  # noqa: BLE001 - the scheduler is gone: the job goes on, as it did before
            if wake.wait(timeout=CANCEL_WAIT_S):
                return


def _deliver(inbox: Any, proc: subprocess.Popen[bytes] | ForkedPopen) -> None:
    """Feed the job what the client's control sends (stdin lines, SIGINT, end of input) until it ends."""
    stdin = proc.stdin
    assert stdin is not None
    while proc.poll() is None:
        try:
            message = inbox.get(timeout=POLL_S * 5)
        except TimeoutError:
            continue
        except Exception:  # noqa: BLE001 - the queue is gone: the client let go of the job
            return
        try:
            if message["type"] == "stdin":
                stdin.write(message["text"].encode("utf-8"))
                stdin.flush()
            elif message["type"] == "interrupt" and proc.poll() is None:
                os.kill(proc.pid, signal.SIGINT)
            elif message["type"] == "close":
                stdin.close()
        except (BrokenPipeError, ProcessLookupError, ValueError):
            return


def _forward(
    stream: IO[bytes],
    message: Callable[[Piece], AdapterMessage],
    outbox: Outbox,
    *,
    limit: int = CONSOLE_LIMIT,
    whole: bool = False,
) -> None:
    """Send each line of one pipe, as its ``message``, as soon as it is read, bounded as the local adapter reads:
    console lines in pieces of at most ``limit`` bytes, event records (``whole``) whole or dropped."""
    with stream:
        for raw in iter_pieces(stream, limit, whole=whole):
            outbox.send(to_wire(message(raw)))


def _line(stream: Stream, raw: Piece) -> Line:
    assert isinstance(raw, bytes), "console streams are never dropped, only cut"
    return line(stream, raw)


def _terminate(proc: subprocess.Popen[bytes] | ForkedPopen) -> None:
    """SIGTERM the job's process group, SIGKILL it after a grace, and reap the job."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (bytecode caches aside) as {relative posix path: bytes}."""
    if not folder.is_dir():
        raise FileNotFoundError(f"job folder {folder} does not exist")
    files: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for filename in filenames:
            path = Path(dirpath, filename)
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files
