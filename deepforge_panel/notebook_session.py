"""A notebook's session: a persistent interpreter (``deepforge.kernel``) run as a job on a compute adapter.

Why this mechanism: the session is one more job, so it runs wherever jobs run (a local process, a
Dask worker next to the data) with nothing to install there beyond what jobs need, and it reuses the
adapters' streaming and cancellation; the adapter's :class:`JobControl` carries commands (stdin lines)
and interrupts (SIGINT), the job's events channel carries ordered results. Jupyter kernels would give
the same through ZMQ, but need ipykernel and open ports on every worker.

>>> session = NotebookSession(LocalCompute(), folder)
>>> result = await session.run("x = 1\\nx + 1", label="cell 1", on_output=print)   # starts it first
>>> result.status                                                                   # "ok"
>>> session.interrupt(); await session.restart(); await session.shutdown()

``status`` is one of starting, idle, busy, dead (the process ended by itself: crashed, killed, out of
memory; restart to go on) and stopped (shut down). A run waiting on a session that dies ends with
status "dead" and a message, never hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepforge_panel.adapters.compute import ComputeAdapter, EventRecord, JobControl, JobSpec, Line
from deepforge_panel.adapters.compute.messages import AdapterMessage
from deepforge_panel.jobgen import RUNTIME, job_environment, write_utilities

__all__ = ["NotebookSession", "RunResult", "SessionDead"]

MAIN = "from deepforge.kernel import main\n\nmain()\n"
START_TIMEOUT_S = 120.0
"""How long a session may take to say it is ready (a Dask worker may first have to be free)."""

Output = dict[str, Any]
OnOutput = Callable[[Output], None]


class SessionDead(RuntimeError):
    """The session's process is gone (it crashed, was killed, or was shut down)."""


@dataclass
class RunResult:
    """How a cell's run ended: "ok", "error", "interrupted" or "dead"; the outputs it sent, in order."""

    status: str
    outputs: list[Output] = field(default_factory=list)
    truncated: int = 0
    """Characters of printed output past the session's limit, not sent."""


@dataclass
class _Run:
    id: str
    on_output: OnOutput | None
    done: asyncio.Future[RunResult]
    outputs: list[Output] = field(default_factory=list)

    def add(self, output: Output) -> None:
        self.outputs.append(output)
        if self.on_output is not None:
            self.on_output(output)


class NotebookSession:
    """One interpreter on ``adapter``, started on first use, running one cell at a time."""

    def __init__(
        self,
        adapter: ComputeAdapter,
        folder: Path,
        *,
        env: dict[str, str] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_request: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        utilities: Callable[[], dict[str, str]] | None = None,
    ) -> None:
        self.adapter = adapter
        self.utilities = utilities
        """The project's utility modules (name -> code), importable as ``utils.<name>``; read at each start."""
        self.on_request = on_request
        """Answers what a running cell asks (``{"op": "load", "name"}``): a dict, or ``{"error": why}``."""
        self.folder = Path(folder)
        self.env = {**job_environment(), **(env or {})}
        self.on_status = on_status
        self.status = "stopped"
        self.exit_code: int | None = None
        self._ids = itertools.count(1)
        self._control: JobControl | None = None
        self._task: asyncio.Task[int] | None = None
        self._ready: asyncio.Future[None] | None = None
        self._current: _Run | None = None
        self._lock = asyncio.Lock()
        self._generation = 0

    # -- lifecycle --------------------------------------------------------------------------
    def _set(self, status: str) -> None:
        self.status = status
        if self.on_status is not None:
            self.on_status(status)

    async def start(self) -> None:
        """Start the interpreter if none runs, and wait until it is ready."""
        if self._task is not None and not self._task.done():
            assert self._ready is not None
            await self._ready
            return
        self._generation += 1
        generation = self._generation
        job_folder = self.folder / f"session-{generation}"
        if job_folder.exists():
            shutil.rmtree(job_folder)
        job_folder.mkdir(parents=True)
        shutil.copytree(RUNTIME, job_folder / "deepforge", ignore=shutil.ignore_patterns("__pycache__"))
        (job_folder / "main.py").write_text(MAIN)
        write_utilities(job_folder, self.utilities() if self.utilities is not None else {})
        self._control = JobControl()
        self._ready = asyncio.get_running_loop().create_future()
        self.exit_code = None
        self._set("starting")
        job = JobSpec(id=f"session-{self.folder.name}-{generation}", folder=job_folder, env=self.env)
        self._task = asyncio.ensure_future(self.adapter.run(job, self._emit, self._control))
        self._task.add_done_callback(lambda task: self._ended(task, generation))
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT_S)
        except TimeoutError:
            await self.shutdown()
            raise SessionDead(f"the session did not start within {START_TIMEOUT_S:.0f} s") from None

    async def run(self, code: str, label: str = "cell", on_output: OnOutput | None = None) -> RunResult:
        """Run ``code`` in the session (starting it if needed); returns when the cell is done.

        Runs wait for each other. ``on_output`` gets each output as it arrives: ``{"type": "stream",
        "name", "text"}``, ``{"type": "result", "text", "html", "png"}``, ``{"type": "error", "ename",
        "evalue", "traceback"}``, ``{"type": "figure", "figure"}``.
        """
        async with self._lock:
            if self.status in ("stopped", "dead"):
                await self.start()
            elif self._ready is not None:
                await self._ready
            assert self._control is not None
            run = _Run(f"r{next(self._ids)}", on_output, asyncio.get_running_loop().create_future())
            self._current = run
            self._set("busy")
            self._control.send(json.dumps({"op": "run", "id": run.id, "code": code, "label": label}))
            try:
                return await run.done
            finally:
                self._current = None
                if self.status == "busy":
                    self._set("idle")

    def interrupt(self) -> None:
        """Stop the running cell (KeyboardInterrupt in it); the session and its variables stay."""
        if self._control is not None and self.status == "busy":
            self._control.interrupt()

    async def shutdown(self) -> None:
        """Stop the interpreter (its variables are gone); a later run starts a fresh one."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            self._set("stopping")
            assert self._control is not None
            self._control.close()  # end of input: the kernel returns
            try:
                await asyncio.wait_for(asyncio.shield(task), 5)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            except BaseException:  # noqa: BLE001 - whatever it ended with, it ended
                pass
        self._fail_current("stopped", "the session was shut down")
        self._set("stopped")

    def kill(self) -> None:
        """Stop the interpreter now, without waiting (its project is going away)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()  # the adapter kills the job's process group
        self._fail_current("stopped", "the session was shut down")
        self._set("stopped")

    async def restart(self) -> None:
        """A fresh interpreter: shut down, then start."""
        await self.shutdown()
        await self.start()

    # -- what the job sends ----------------------------------------------------------------------
    def _emit(self, message: AdapterMessage) -> None:
        if isinstance(message, EventRecord):
            self._event(message)
        elif isinstance(message, Line) and self._current is not None:
            # Written past sys.stdout (a C library, a child process): still this cell's output.
            self._current.add({"type": "stream", "name": message.stream, "text": message.printed})

    def _event(self, record: EventRecord) -> None:
        try:
            event = json.loads(record.payload) if not record.dropped else {"type": "dropped", "size": record.dropped}
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "ready":
            self._set("idle")
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
            return
        run = self._current
        if run is None:
            return
        if kind == "request":
            self._answer(event)
            return
        if kind == "dropped":
            run.add({"type": "note", "text": f"an output of {event['size']} bytes was too large to send"})
        elif kind in ("stream", "result", "error", "figure", "saved", "embedding"):
            run.add({key: value for key, value in event.items() if key != "id"})
        elif kind == "done" and event.get("id") == run.id and not run.done.done():
            status = event.get("status") if event.get("status") in ("ok", "error", "interrupted") else "error"
            truncated = event["truncated"] if isinstance(event.get("truncated"), int) else 0
            if truncated:
                run.add({"type": "note", "text": f"output truncated: {truncated} more characters not kept"})
            run.done.set_result(RunResult(str(status), run.outputs, truncated))

    def _answer(self, request: dict[str, Any]) -> None:
        """Reply to the running cell's request; it waits on its stdin for exactly one reply."""
        try:
            if self.on_request is None:
                raise LookupError("this session cannot answer requests")
            reply = self.on_request({k: v for k, v in request.items() if k not in ("type", "id")})
        except Exception as exc:  # noqa: BLE001 - the cell gets the reason, the session goes on
            reply = {"error": str(exc) or type(exc).__name__}
        if self._control is not None:
            self._control.send(json.dumps({"op": "reply", **reply}))

    def _ended(self, task: asyncio.Task[int], generation: int) -> None:
        """The interpreter's process ended: by shutdown, or by itself (then the session is dead)."""
        if generation != self._generation:
            return
        if task.cancelled():
            self.exit_code = None
            why = "the session was stopped"
        elif task.exception() is not None:
            self.exit_code = None
            why = f"the session could not run: {task.exception()}"
        else:
            self.exit_code = task.result()
            why = f"the session's process ended (exit code {self.exit_code}{_signal_name(self.exit_code)})"
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(SessionDead(why))
            self._ready.exception()  # retrieved here: a start() that timed out is not waiting for it
        if self._task is task or self.status not in ("stopped", "stopping"):
            self._task = None
            self._fail_current("dead", why)
            self._set("dead")

    def _fail_current(self, status: str, why: str) -> None:
        run = self._current
        if run is not None and not run.done.done():
            run.add({"type": "error", "ename": "SessionDead", "evalue": why, "traceback": ""})
            run.done.set_result(RunResult(status, run.outputs))


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return ""
    import signal

    try:
        return f", killed by {signal.Signals(-code).name}"
    except ValueError:
        return ""
