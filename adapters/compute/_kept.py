"""Following a job whose workbench died: the fork server kept it going and writes its streams to files.

A job forked with a *keep* folder (``_zygote.py``) outlives the process that started it: once that process
is gone, the fork server reads the job's pipes in its place, appending to ``stdout``, ``stderr`` and
``events`` in the folder, and writes ``exit`` when the job has ended and those files are whole. A workbench
started anew follows the job from those files (:func:`follow`), as it would have from the pipes: the same
lines and records, the job's limits still watched, a cancel still stopping it.

What a job is, is its :class:`Handle`, recorded when it started: its pid and start time, and its server's.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from deepforge_panel.adapters.compute._limits import WATCH_S, Limits, LimitWatch
from deepforge_panel.adapters.compute._lines import CHUNK, LineCutter
from deepforge_panel.adapters.compute._process import (
    CONSOLE_LIMIT,
    KILL_GRACE_S,
    LINE_LIMIT,
    line,
    record,
    signal_group,
)
from deepforge_panel.adapters.compute.base import JobGone, KeptState
from deepforge_panel.adapters.compute.messages import Emit, Stopped
from deepforge_panel.adapters.compute.processes import same_process, started

__all__ = ["KEPT", "Handle", "follow", "kept_state"]

KEPT = ".kept"
"""The folder, in a job's folder, where its fork server writes the job's streams once the workbench is gone."""

READ_AT_ONCE = 16 * CHUNK
"""Bytes read from one stream file per look, so a long backlog streams out instead of coming in one piece."""


@dataclass(frozen=True)
class Handle:
    """How to find a kept job again: recorded (as a dict) in its ``Started`` message."""

    host: str
    pid: int
    start: str | None
    server: int
    server_start: str | None
    kept: str
    started: float
    """When the job started (unix seconds): its time limit counts from then."""

    @classmethod
    def of(cls, pid: int, server: int, folder: Path) -> Handle:
        return cls(socket.gethostname(), pid, started(pid), server, started(server), str(folder / KEPT), time.time())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Handle:
        try:
            return cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (KeyError, TypeError) as exc:
            raise JobGone(f"the job's record cannot be followed ({exc})") from None


def kept_state(data: dict[str, Any]) -> KeptState | None:
    """Whether the job ``data`` (a :class:`Handle` as a dict) runs, has ended with its end recorded, or neither."""
    try:
        handle = Handle.from_dict(data)
        if handle.host != socket.gethostname():
            return None
        if (Path(handle.kept) / "exit").exists():
            return "ended"
    except (JobGone, OSError):
        return None
    if same_process(handle.pid, handle.start) or same_process(handle.server, handle.server_start):
        return "running"  # the job, or the server that is to record its end
    return "ended" if (Path(handle.kept) / "exit").exists() else None


async def follow(handle: Handle, limits: Limits, emit: Emit) -> int:
    """Emit what the kept job writes, from where its files begin, until it ends; its exit code. Raises
    :class:`JobGone` when it cannot be followed (another machine, its server died with it)."""
    if handle.host != socket.gethostname():
        raise JobGone(f"the job ran on {handle.host}, not on this machine")
    folder = Path(handle.kept)
    tails = [_Tail(folder / "stdout", "stdout"), _Tail(folder / "stderr", "stderr"), _Tail(folder / "events", None)]
    watch = LimitWatch(handle.pid, limits) if limits != Limits() else None
    if watch is not None:
        watch.started -= max(time.time() - handle.started, 0.0)
    try:
        while True:
            code = _exit_code(folder)
            for tail in tails:
                tail.read(emit, everything=code is not None)
            if code is not None:
                return code
            if not same_process(handle.pid, handle.start) and not same_process(handle.server, handle.server_start):
                if _exit_code(folder) is None:  # the server writes it before it ends: not written, never will be
                    raise JobGone(
                        "the job's process and the fork server keeping it are gone, and how it ended is unknown"
                    )
                continue
            if watch is not None:
                reason = watch.exceeded()
                if reason is not None:
                    emit(Stopped(reason))
                    await _stop(handle)
                    watch = None
            await asyncio.sleep(WATCH_S)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.ensure_future(_stop(handle)))
        raise


async def _stop(handle: Handle) -> None:
    """SIGTERM the job's process group, SIGKILL it after a grace; its server records how it ended."""
    if not same_process(handle.pid, handle.start):
        return
    signal_group(handle.pid, signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_S
    while same_process(handle.pid, handle.start) and time.monotonic() < deadline:
        await asyncio.sleep(WATCH_S)
    if same_process(handle.pid, handle.start):
        signal_group(handle.pid, signal.SIGKILL)


def _exit_code(folder: Path) -> int | None:
    try:
        return int(json.loads((folder / "exit").read_text())["code"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JobGone(f"the job's exit record {folder / 'exit'} cannot be read ({exc})") from None


class _Tail:
    """One stream file, read from where the last look stopped, cut as its pipe would have been."""

    def __init__(self, path: Path, stream: str | None) -> None:
        self.path = path
        self.stream = stream
        self.offset = 0
        console = stream is not None
        self.cutter = LineCutter(CONSOLE_LIMIT if console else LINE_LIMIT, whole=not console)

    def read(self, emit: Emit, *, everything: bool) -> None:
        """Emit what was added since the last look (with ``everything``: all of it, and the unfinished end)."""
        try:
            with self.path.open("rb") as file:
                file.seek(self.offset)
                while data := file.read(READ_AT_ONCE):
                    self.offset += len(data)
                    self._emit(self.cutter.feed(data), emit)
                    if not everything:
                        break
        except FileNotFoundError:
            pass
        if everything:
            self._emit(self.cutter.end(), emit)

    def _emit(self, pieces: list[Any], emit: Emit) -> None:
        for piece in pieces:
            if self.stream is None:
                emit(record(piece))
            else:
                emit(line(self.stream, piece))  # type: ignore[arg-type]
