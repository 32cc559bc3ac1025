"""A job forked by the fork server, seen from asyncio as a process ``asyncio.create_subprocess_exec`` started.

It has what the local adapter uses of ``asyncio.subprocess.Process``: ``pid``, ``returncode``, ``wait()``, and
``stdin`` (a writer, for a job with a control), ``stdout`` and ``stderr`` (readers).
"""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import Future

from deepforge_panel.adapters.compute._forkserver import ForkServer, fork_job
from deepforge_panel.adapters.compute._lines import BUFFER
from deepforge_panel.adapters.compute.base import JobSpec

__all__ = ["ForkedProcess"]


class ForkedProcess:
    """A running forked job; make one with :meth:`start`."""

    def __init__(
        self,
        pid: int,
        exited: Future[int],
        stdin: asyncio.StreamWriter | None,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
    ) -> None:
        self.pid = pid
        self._exited = exited
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr

    @property
    def returncode(self) -> int | None:
        """The exit code once the job has ended (``-signal`` if killed), else None."""
        return self._exited.result() if self._exited.done() else None

    async def wait(self) -> int:
        """Wait for the job to end; its exit code."""
        return await asyncio.wrap_future(self._exited)

    @classmethod
    async def start(
        cls,
        server: ForkServer,
        job: JobSpec,
        events_write: int,
        *,
        stdin: bool,
        keep: tuple[str | os.PathLike[str], int] | None = None,
    ) -> ForkedProcess:
        """Fork ``job`` from ``server`` (see ``fork_job``, and ``keep`` there); raises ``ForkServerGone`` if the
        server cannot."""
        loop = asyncio.get_running_loop()
        forked, pipes = fork_job(server, job.folder, job.env, events_write, stdin=stdin, preload=job.preload, keep=keep)
        try:
            pid = await asyncio.shield(asyncio.wrap_future(forked.pid))
        except asyncio.CancelledError:
            forked.kill_once_started()  # cancelled while the server imported ahead: never left unwatched
            pipes.close()
            raise
        except BaseException:
            pipes.close()
            raise
        writer = await _writer(loop, pipes.stdin) if pipes.stdin is not None else None
        stdout, stderr = [await _reader(loop, fd) for fd in (pipes.stdout, pipes.stderr)]
        return cls(pid, forked.exited, writer, stdout, stderr)


async def _reader(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamReader:
    """A stream over a pipe's read end, which its transport owns and closes at the pipe's end."""
    reader = asyncio.StreamReader(limit=BUFFER, loop=loop)
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    except BaseException:
        pipe.close()
        raise
    return reader


async def _writer(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamWriter:
    """A stream writer over a pipe's write end, which it owns."""
    pipe = os.fdopen(fd, "wb", buffering=0)
    try:
        transport, protocol = await loop.connect_write_pipe(lambda: _WriteProtocol(loop), pipe)
    except BaseException:
        pipe.close()
        raise
    return asyncio.StreamWriter(transport, protocol, None, loop)


class _WriteProtocol(asyncio.streams.FlowControlMixin, asyncio.Protocol):
    """What ``asyncio.StreamWriter.drain`` needs of a write pipe's protocol."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._closed: asyncio.Future[None] = loop.create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._closed.done():
            self._closed.set_result(None)

    def _get_close_waiter(self, stream: asyncio.StreamWriter) -> asyncio.Future[None]:
        return self._closed
