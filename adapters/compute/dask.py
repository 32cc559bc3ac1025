"""Run jobs on Dask distributed workers, streaming their lines and events back while they run.

dask/distributed are imported only when an adapter starts, so ``import adapters`` stays cheap.
Workers need this ``adapters`` package importable (it holds the task they run).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Any, ClassVar

from deepforge_panel.adapters.compute._dask_inbox import Inbox
from deepforge_panel.adapters.compute._dask_wire import from_wire
from deepforge_panel.adapters.compute._dask_worker import read_folder, run_job_on_worker
from deepforge_panel.adapters.compute._process import KILL_GRACE_S
from deepforge_panel.adapters.compute.base import ComputeAdapter, JobControl, JobSpec
from deepforge_panel.adapters.compute.messages import Emit, Line, Queued, Started

__all__ = ["DaskCompute"]

# How long a cancelled run waits for the worker to confirm the job's process group is gone.
_KILL_CONFIRM_S = KILL_GRACE_S + 10.0

ALLOWED_FAILURES = 1
"""Times a job's task may lose its worker and run again elsewhere (on the local cluster this adapter starts;
a scheduler started elsewhere keeps its own ``distributed.scheduler.allowed-failures``)."""

RETRIED = "[deepforge] the Dask worker running this job died; the job runs again on another worker"
"""The console line (stderr) saying a job started over after losing its worker."""


class DaskCompute(ComputeAdapter):
    """Jobs as Dask tasks: on the scheduler at ``address``, or on a LocalCluster started by ``start``."""

    name: ClassVar[str] = "dask"

    def __init__(self, address: str | None = None, n_workers: int = 2) -> None:
        self.address = address
        self.n_workers = n_workers
        self._cluster: Any = None
        self._client: Any = None
        self._active: dict[str, _Active] = {}
        self._starting: asyncio.Lock | None = None

    @property
    def client(self) -> Any:
        """The asynchronous ``distributed.Client``; RuntimeError before ``start``."""
        if self._client is None:
            raise RuntimeError("DaskCompute is not started: await adapter.start() or use `async with adapter:`")
        return self._client

    async def start(self) -> None:
        """Connect to ``address``, or start a LocalCluster of ``n_workers`` single-thread processes."""
        if self._client is not None:
            return
        from distributed import Client, LocalCluster

        target: Any = self.address
        if target is None:
            import dask

            # A job whose worker dies runs again on another one, once; a second death fails it (KilledWorker).
            dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
            self._cluster = await LocalCluster(
                n_workers=self.n_workers,
                processes=True,
                threads_per_worker=1,
                asynchronous=True,
                dashboard_address=None,
                # The scheduler still serves health routes over HTTP: on a free port, not 8787.
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
            )
            target = self._cluster
        try:
            self._client = await Client(target, asynchronous=True)
        except BaseException:
            if self._cluster is not None:
                await self._cluster.close()
                self._cluster = None
            raise

    async def stop(self) -> None:
        """Kill the jobs still running, wait for the workers to confirm, then disconnect."""
        if self._client is None:
            return
        active = list(self._active.values())
        for run in active:
            await run.cancel.set()
        if active:
            waits = [asyncio.ensure_future(run.done.wait()) for run in active]
            await asyncio.wait(waits, timeout=_KILL_CONFIRM_S)
        await self._client.close()
        self._client = None
        if self._cluster is not None:
            await self._cluster.close()
            self._cluster = None

    async def run(self, job: JobSpec, emit: Emit, control: JobControl | None = None) -> int:
        """Run ``python main.py`` of ``job.folder`` on a worker; see ``ComputeAdapter.run``.

        A ``control``'s messages go to the worker through a queue of their own, in order.
        """
        from distributed import Event, Queue

        if self._client is None:  # started on demand: the first job starts the cluster, or connects
            self._starting = self._starting or asyncio.Lock()
            async with self._starting:
                await self.start()
        client = self.client
        token = uuid.uuid4().hex
        files = await asyncio.to_thread(read_folder, Path(job.folder))
        queue = await Queue(f"deepforge-out-{token}", client=client)
        inbox = await Queue(f"deepforge-in-{token}", client=client) if control is not None else None
        active = _Active(Event(f"deepforge-cancel-{token}", client=client), Inbox(queue))
        self._active[token] = active
        emit(Queued())
        future = client.submit(
            run_job_on_worker,
            job.id,
            files,
            dict(job.env),
            queue.name,
            active.cancel.name,
            inbox.name if inbox is not None else None,
            job.limits.to_dict(),
            job.preload,
            key=f"deepforge-job-{job.id}-{token}",
            pure=False,
        )
        settled = asyncio.ensure_future(_settle(future))
        forwarding = asyncio.ensure_future(_forward(control, inbox)) if control is not None else None
        try:
            return await self._follow(future, settled, emit, active)
        except OSError as exc:  # distributed's CommClosedError and the like: the connection to the scheduler
            where = self.address or "the local cluster"
            raise RuntimeError(f"lost the Dask scheduler ({where}) while the job ran: {exc}") from None
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.ensure_future(self._kill(future, active)))
            raise
        finally:
            settled.cancel()
            if forwarding is not None:
                forwarding.cancel()
            if inbox is not None:
                inbox.close()
            with contextlib.suppress(Exception):  # best effort: the scheduler may be gone already
                await asyncio.shield(asyncio.ensure_future(active.inbox.close()))
            active.done.set()
            del self._active[token]
            queue.close()
            future.release()

    async def _follow(self, future: Any, settled: asyncio.Future[None], emit: Emit, active: _Active) -> int:
        """Emit the worker's messages until its exit message; return the job's exit code."""
        while True:
            reading = asyncio.ensure_future(active.inbox.next())
            either: list[asyncio.Future[Any]] = [reading, settled]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if reading.done():
                messages = reading.result()
            else:
                # The task ended (or died) first: take whatever it still sent, then stop.
                reading.cancel()
                messages = await active.inbox.close()
                messages.append({"type": "exit", "code": None, "failed": True})
            for message in messages:
                if message["type"] != "exit":
                    active.deliver(message, emit)
                    continue
                if message["code"] is not None:
                    return int(message["code"])
                if message.get("failed"):
                    await _result(future)  # raises the task's error, if it has one
                raise RuntimeError(f"job task {future.key} ended without running the job")

    async def _kill(self, future: Any, active: _Active) -> None:
        """Have the worker kill the job's process group and wait (bounded) until it says it did."""
        await active.cancel.set()
        await future.cancel()
        if not active.started:
            return  # never started: the set event keeps it from starting later
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _KILL_CONFIRM_S
        while (remaining := deadline - loop.time()) > 0:
            try:
                messages = await asyncio.wait_for(active.inbox.next(), remaining)
            except TimeoutError:
                return
            if any(message["type"] == "exit" for message in messages):
                await active.cancel.clear()
                return


class _Active:
    """One running job: its cancel event, its inbox, whether it started, whether ``run`` ended."""

    def __init__(self, cancel: Any, inbox: Inbox) -> None:
        self.cancel = cancel
        self.inbox = inbox
        self.started = False
        self.done = asyncio.Event()

    def deliver(self, wire: dict[str, Any], emit: Emit) -> None:
        """Emit a worker message; ``Started`` only once even if the task was retried elsewhere."""
        message = from_wire(wire)
        if isinstance(message, Started):
            if self.started:
                emit(Line("stderr", RETRIED))
                return
            self.started = True
        emit(message)


async def _forward(control: JobControl, inbox: Any) -> None:
    """Hand what the control sends to the worker's queue, in order, until the job ends."""
    while True:
        kind, text = await control.next()
        await inbox.put({"type": kind, "text": text})


async def _result(future: Any) -> Any:
    """The task's result; a task that lost its workers fails saying so, not as a bare ``KilledWorker``."""
    from distributed import KilledWorker

    try:
        return await future
    except KilledWorker as exc:
        raise RuntimeError(
            f"the Dask worker running the job died, and so did the one it was retried on ({exc})"
        ) from None


async def _settle(future: Any) -> None:
    """Return once the Dask future is finished, erred or cancelled."""
    try:
        await future
    except BaseException:  # noqa: BLE001 - only completion matters here; _follow reports errors
        return
