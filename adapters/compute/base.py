"""The compute adapter interface: run a generated job folder somewhere, stream what it prints and the events it sends."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal

from deepforge_panel.adapters.compute._limits import Limits
from deepforge_panel.adapters.compute.messages import Emit

__all__ = ["ComputeAdapter", "Emit", "JobControl", "JobGone", "JobSpec", "KeptState", "Limits"]


@dataclass(frozen=True)
class JobSpec:
    """One job: a folder holding ``main.py``, run as ``python main.py`` with ``cwd=folder``; an adapter stops it
    past its ``limits``, saying so with a ``Stopped`` message before the exit. ``preload`` names modules the job
    is going to import, which an adapter with warm processes may import ahead (a hint: nothing depends on it)."""

    id: str
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    preload: tuple[str, ...] = ()


KeptState = Literal["running", "ended"]


class JobGone(RuntimeError):
    """A job started by another process cannot be followed (:meth:`ComputeAdapter.attach`): the message says why."""


class JobControl:
    """What a caller sends a running job: lines on its standard input, interrupts, the end of its input.

    Give one to :meth:`ComputeAdapter.run`; without one a job's stdin is ``/dev/null``. ``interrupt`` is
    Ctrl+C: SIGINT to the job's own process (not its group), on which Python raises ``KeyboardInterrupt``
    where the job runs (a job started with SIGINT ignored should restore ``signal.default_int_handler``).
    Call its methods on the event loop thread that runs the job; what is sent before the job starts waits.
    """

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def send(self, text: str) -> None:
        """Write ``text`` (a newline added if it has none) to the job's standard input."""
        self._queue.put_nowait(("stdin", text if text.endswith("\n") else text + "\n"))

    def interrupt(self) -> None:
        """Send the job's process SIGINT."""
        self._queue.put_nowait(("interrupt", ""))

    def close(self) -> None:
        """End the job's standard input (it reads end-of-file)."""
        self._queue.put_nowait(("close", ""))

    async def next(self) -> tuple[str, str]:
        """The next thing to deliver: ("stdin", text), ("interrupt", "") or ("close", "")."""
        return await self._queue.get()


class ComputeAdapter(ABC):
    """Somewhere jobs run: this machine, a cluster. Start it (or ``async with`` it) before ``run``."""

    name: ClassVar[str]

    async def start(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Acquire what running jobs needs (a cluster, a connection); nothing by default."""

    async def stop(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Kill every job still running and release what ``start`` acquired."""

    @abstractmethod
    async def run(self, job: JobSpec, emit: Emit, control: JobControl | None = None) -> int:
        """Run the job to completion and return its exit code (negative signal number if killed by a signal).

        Contract, checked by ``deepforge_panel.adapters.testing.compute_suite``; messages are those of
        ``deepforge_panel.adapters.compute.messages``:

        - ``emit(Queued())`` when the job is accepted, then ``emit(Started(time))`` exactly once
          (unix seconds), when the process actually starts (after waiting for a free slot);
        - every line the job writes on stdout and stderr is emitted as it is produced (not at the
          end) as ``Line(stream, text, newline)``, exactly as printed (an unfinished last line comes
          with ``newline=False``), in order per stream; lines of up to 1 MiB arrive intact, a longer
          one in pieces of at most 1 MiB (all but its last with ``newline=False``), so reading what a
          job prints takes bounded memory however long its lines;
        - the job gets an events channel of its own, never mixed with what it prints: a pipe whose
          write end it inherits (and no other descriptor of the pipe), its number in
          ``$DEEPFORGE_EVENTS_FD``; each line written there is emitted as ``EventRecord(payload)``
          (without the newline), in order, records of up to 16 MiB intact; a longer record is not
          kept but emitted as ``EventRecord(its first bytes, dropped=its size in bytes)``;
        - the job runs ``sys.executable main.py`` with ``cwd=job.folder`` and environment
          ``os.environ`` + ``job.env`` + ``PYTHONUNBUFFERED=1`` + the events variable (of the
          machine it runs on);
        - ``run`` returns once the job exited and its three pipes reached their end;
        - when the awaiting task is cancelled, the job's whole process group (children included)
          gets SIGTERM, then SIGKILL after a short grace, and ``CancelledError`` is re-raised;
        - ``emit`` is called on the event loop thread that called ``run``;
        - with a ``control``, what it sends reaches the job in order: lines on its stdin, SIGINT to its
          process for ``interrupt``, end-of-file for ``close``; without one, its stdin is ``/dev/null``.
        """

    @classmethod
    def kept_job(cls, handle: dict[str, Any]) -> KeptState | None:
        """Whether the job ``handle`` names (from a ``Started`` message) can be followed from this process with
        :meth:`attach`: "running", "ended" (its end is recorded, waiting to be read), or None (it cannot: gone
        without a record, on another machine, or this adapter keeps no job). Cheap: no adapter is started."""
        return None

    async def attach(self, job: JobSpec, handle: dict[str, Any], emit: Emit) -> int:
        """Follow a job another process started and could not see to its end (it died): ``handle`` is what this
        adapter's ``Started`` message gave for it. Emits what the job writes from then on, as :meth:`run` does
        (no ``Queued``/``Started``), watches its limits, stops it when cancelled, and returns its exit code.
        Raises :class:`JobGone` when it cannot follow it; adapters that keep no job going past their process
        never can (the default)."""
        raise JobGone(f"the {self.name} compute adapter cannot follow a job another process started")

    async def __aenter__(self) -> ComputeAdapter:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
