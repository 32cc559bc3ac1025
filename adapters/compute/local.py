"""Run jobs as subprocesses on this machine, at most ``max_workers`` at once.

Each job gets three pipes: stdout, stderr and its events channel (see ``ComputeAdapter.run``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import ClassVar

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
from deepforge_panel.adapters.compute.base import ComputeAdapter, JobControl, JobSpec
from deepforge_panel.adapters.compute.messages import Emit, Queued, Started, Stopped, Stream

__all__ = ["LocalCompute"]


class LocalCompute(ComputeAdapter):
    """Subprocesses of this process; jobs beyond ``max_workers`` wait for a free slot, in order."""

    name: ClassVar[str] = "local"

    def __init__(self, max_workers: int | None = None) -> None:
        if max_workers is not None and max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers or os.cpu_count() or 1
        self._slots = asyncio.Semaphore(self.max_workers)
        self._running: set[asyncio.subprocess.Process] = set()
        self._stopped = False

    async def start(self) -> None:
        """Accept jobs again after a ``stop``."""
        self._stopped = False

    async def stop(self) -> None:
        """Kill every running job (its whole process group) and wait for it; start no queued one."""
        self._stopped = True
        await asyncio.gather(*(_terminate(proc) for proc in list(self._running)))

    async def run(self, job: JobSpec, emit: Emit, control: JobControl | None = None) -> int:
        """Run ``python main.py`` in ``job.folder`` here; see ``ComputeAdapter.run``."""
        emit(Queued())
        async with self._slots:
            if self._stopped:
                raise RuntimeError(f"LocalCompute was stopped before job {job.id!r} could start")
            # Both ends are non-inheritable (PEP 446); pass_fds hands the job the write end only.
            events_read, events_write = os.pipe()
            try:
                proc = await asyncio.create_subprocess_exec(
                    *job_argv(),
                    **spawn_options(job.folder, job.env, events_write, stdin=control is not None),
                    limit=BUFFER,
                )
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
                    emit(Started(time.time()))
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


async def _feed(control: JobControl, proc: asyncio.subprocess.Process) -> None:
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


async def _watch(proc: asyncio.subprocess.Process, limits: Limits, emit: Emit) -> None:
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


async def _terminate(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM the job's process group, SIGKILL it after a grace, and reap the job."""
    signal_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), KILL_GRACE_S)
    except TimeoutError:
        pass
    signal_group(proc.pid, signal.SIGKILL)
    await proc.wait()
