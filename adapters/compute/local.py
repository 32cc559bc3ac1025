"""Run jobs as subprocesses on this machine, at most ``max_workers`` at once.

Each job gets three pipes: stdout, stderr and its events channel (see ``ComputeAdapter.run``). Where the
machine allows it, jobs are forked from a warm fork server (``_forkserver.py``) rather than started as new
interpreters: the same process a new ``python main.py`` would be, without paying for Python's start and the
job's imports each time. One fork server serves the jobs that share an environment; if it cannot (it died),
the job is started anew instead.

With ``reattach`` (the workbench's server asks for it), a forked job without a control outlives a workbench
that dies while it runs: its fork server keeps it going, and a workbench started anew follows it with
:meth:`LocalCompute.attach` from the ``Started`` message's handle (``_kept.py``). Otherwise jobs end with the
process that started them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

from deepforge_panel.adapters.compute._forked_process import ForkedProcess
from deepforge_panel.adapters.compute._forkserver import ForkServerGone, ForkServers, available
from deepforge_panel.adapters.compute._kept import KEPT, Handle, follow, kept_state
from deepforge_panel.adapters.compute._limits import WATCH_S, Limits, LimitWatch
from deepforge_panel.adapters.compute._lines import BUFFER, read_pieces
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
from deepforge_panel.adapters.compute.base import ComputeAdapter, JobControl, JobSpec, KeptState
from deepforge_panel.adapters.compute.messages import Emit, Queued, Started, Stopped, Stream

__all__ = ["LocalCompute"]

log = logging.getLogger(__name__)


class _Process(Protocol):
    """What this adapter uses of a job's process: ``asyncio.subprocess.Process`` and ``ForkedProcess`` have it."""

    @property
    def pid(self) -> int: ...

    @property
    def stdin(self) -> asyncio.StreamWriter | None: ...

    @property
    def stdout(self) -> asyncio.StreamReader | None: ...

    @property
    def stderr(self) -> asyncio.StreamReader | None: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...


class LocalCompute(ComputeAdapter):
    """Subprocesses of this process; jobs beyond ``max_workers`` wait for a free slot, in order.

    ``fork``: fork jobs from a warm fork server (the default where the machine allows it) or start each
    as a new interpreter (``False``). ``reattach``: forked jobs go on if this process dies, to be followed
    by the next (``attach``)."""

    name: ClassVar[str] = "local"

    def __init__(self, max_workers: int | None = None, *, fork: bool | None = None, reattach: bool = False) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        if fork and not available():
            raise ValueError("this machine cannot fork jobs from a fork server (Linux only)")
        self.max_workers = max_workers or os.cpu_count() or 1
        self.fork = available() if fork is None else fork
        if reattach and not self.fork:
            raise ValueError("only forked jobs can go on without the workbench: reattach needs fork")
        self.reattach = reattach
        self._slots = asyncio.Semaphore(self.max_workers)
        self._running: set[_Process] = set()
        self._servers = ForkServers()
        self._stopped = False

    async def start(self) -> None:
        """Accept jobs again after a ``stop``."""
        self._stopped = False

    async def stop(self) -> None:
        """Kill every running job (its whole process group) and wait for it; start no queued one; end the
        fork servers."""
        self._stopped = True
        await asyncio.gather(*(_terminate(proc) for proc in list(self._running)))
        self._servers.close()

    async def _spawn(
        self, job: JobSpec, events: tuple[int, int], *, stdin: bool
    ) -> tuple[_Process, dict[str, object] | None]:
        """The job's process, forked where possible (else a new interpreter), and its handle if it is kept."""
        events_read, events_write = events
        if self.fork:
            server = self._servers.for_env(job.env)
            keep = (Path(job.folder) / KEPT, events_read) if self.reattach and not stdin else None
            try:
                proc = await ForkedProcess.start(server, job, events_write, stdin=stdin, keep=keep)
            except ForkServerGone as exc:
                log.warning("job %s starts as a new process: %s", job.id, exc)
            else:
                return proc, Handle.of(proc.pid, server.pid, Path(job.folder)).to_dict() if keep else None
        process = await asyncio.create_subprocess_exec(
            *job_argv(), **spawn_options(job.folder, job.env, events_write, stdin=stdin), limit=BUFFER
        )
        return process, None

    @classmethod
    def kept_job(cls, handle: dict[str, Any]) -> KeptState | None:
        """See ``ComputeAdapter.kept_job``."""
        return kept_state(handle)

    async def attach(self, job: JobSpec, handle: dict[str, Any], emit: Emit) -> int:
        """Follow a forked job kept going by its fork server after the process that started it died; see
        ``ComputeAdapter.attach``."""
        async with self._slots:  # it still takes one of this machine's places
            return await follow(Handle.from_dict(handle), job.limits, emit)

    async def run(self, job: JobSpec, emit: Emit, control: JobControl | None = None) -> int:
        """Run ``python main.py`` in ``job.folder`` here; see ``ComputeAdapter.run``."""
        emit(Queued())
        async with self._slots:
            if self._stopped:
                raise RuntimeError(f"LocalCompute was stopped before job {job.id!r} could start")
            # Both ends are non-inheritable (PEP 446); pass_fds hands the job the write end only.
            events_read, events_write = os.pipe()
            try:
                proc, handle = await self._spawn(job, (events_read, events_write), stdin=control is not None)
            except BaseException:
                os.close(events_read)
                raise
            finally:
                os.close(events_write)  # else the channel never ends: this process would hold it open
            self._running.add(proc)
            feeding = asyncio.ensure_future(_feed(control, proc)) if control is not None else None
            watching = asyncio.ensure_future(_watch(proc, job.limits, emit)) if job.limits != Limits() else None
            try:
                async with _events_reader(events_read) as events:
                    emit(Started(time.time(), handle))
                    assert proc.stdout is not None and proc.stderr is not None
                    await asyncio.gather(
                        _pump(proc.stdout, "stdout", emit), _pump(proc.stderr, "stderr", emit), _relay(events, emit)
                    )
                return await proc.wait()
            except BaseException:
                # Cancelled (or failed while streaming): the job must not outlive us. Shielded so a
                # second cancellation cannot leave it half-killed.
                await asyncio.shield(asyncio.ensure_future(_terminate(proc)))
                raise
            finally:
                for helper in (feeding, watching):
                    if helper is not None:
                        helper.cancel()
                self._running.discard(proc)


async def _feed(control: JobControl, proc: _Process) -> None:
    """Deliver what the control sends until the job ends: stdin lines, SIGINT, end of input."""
    stdin = proc.stdin
    assert stdin is not None
    while True:
        kind, text = await control.next()
        try:
            if kind == "stdin" and not stdin.is_closing():
                stdin.write(text.encode("utf-8"))
                await stdin.drain()
            elif kind == "interrupt" and proc.returncode is None:
                os.kill(proc.pid, signal.SIGINT)
            elif kind == "close":
                stdin.close()
        except (BrokenPipeError, ConnectionResetError, ProcessLookupError):
            return  # the job is gone: nothing left to deliver to


async def _watch(proc: _Process, limits: Limits, emit: Emit) -> None:
    """Stop the job once it goes past a limit, saying which; ends with it."""
    watch = LimitWatch(proc.pid, limits)
    while proc.returncode is None:
        reason = watch.exceeded()
        if reason is not None:
            emit(Stopped(reason))
            await _terminate(proc)
            return
        await asyncio.sleep(WATCH_S)


async def _pump(stream: asyncio.StreamReader, name: Stream, emit: Emit) -> None:
    """Emit each line of one output stream as it arrives (a line past CONSOLE_LIMIT in pieces)."""
    async for raw in read_pieces(stream, CONSOLE_LIMIT, whole=False):
        assert isinstance(raw, bytes)
        emit(line(name, raw))


async def _relay(events: asyncio.StreamReader, emit: Emit) -> None:
    """Emit each record of the events channel as it arrives (one past LINE_LIMIT dropped)."""
    async for raw in read_pieces(events, LINE_LIMIT, whole=True):
        emit(record(raw))


@contextlib.asynccontextmanager
async def _events_reader(fd: int) -> AsyncIterator[asyncio.StreamReader]:
    """A stream over the events pipe's read end, which it owns and closes on the way out."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=BUFFER, loop=loop)
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    except BaseException:
        pipe.close()
        raise
    try:
        yield reader
    finally:
        transport.close()


async def _terminate(proc: _Process) -> None:
    """SIGTERM the job's process group, SIGKILL it after a grace, and reap the job."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
    except TimeoutError:
        pass
    signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()
