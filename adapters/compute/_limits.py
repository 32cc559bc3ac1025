"""Time and memory limits of a job process, watched from outside it by whichever adapter runs it.

The memory of a job is the memory its whole process tree holds on its own (a job that starts workers counts
them too): the unique set size, pages no other process maps, so a job forked from a warm process is not
charged for the libraries it shares with it; read with psutil every :data:`WATCH_S`; a job past a limit is stopped (its process group, not
the machine) and the adapter says why with a :class:`~deepforge_panel.adapters.compute.messages.Stopped`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = ["WATCH_S", "LimitWatch", "Limits"]

WATCH_S = 0.1
"""How often a running job's time and memory are looked at."""


@dataclass(frozen=True)
class Limits:
    """A job's limits; None: no limit."""

    time_s: float | None = None
    memory_mb: float | None = None

    def __post_init__(self) -> None:
        for name in ("time_s", "memory_mb"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"a job's {name} limit must be above 0, not {value!r}")

    def to_dict(self) -> dict[str, float | None]:
        return {"time_s": self.time_s, "memory_mb": self.memory_mb}

    @classmethod
    def from_dict(cls, data: dict[str, float | None] | None) -> Limits:
        data = data or {}
        return cls(data.get("time_s"), data.get("memory_mb"))


class LimitWatch:
    """Watches one job process against its limits; :meth:`exceeded` says which one it went past, if any."""

    def __init__(self, pid: int, limits: Limits) -> None:
        self.pid = pid
        self.limits = limits
        self.started = time.monotonic()
        self._process = None
        if limits.memory_mb is not None:
            import psutil

            try:
                self._process = psutil.Process(pid)
            except psutil.NoSuchProcess:
                self._process = None

    def exceeded(self) -> str | None:
        """Why the job must stop now ("timed out after 5 s", "out of memory (limit 200 MiB)"), or None."""
        limits = self.limits
        if limits.time_s is not None and time.monotonic() - self.started > limits.time_s:
            return f"timed out after {limits.time_s:g} s"
        if limits.memory_mb is not None and self._process is not None:
            used = self._own_bytes()
            if used > limits.memory_mb * 1024 * 1024:
                return f"out of memory (limit {limits.memory_mb:g} MiB): it used {used / 1024 / 1024:.0f} MiB"
        return None

    def _own_bytes(self) -> int:
        import psutil

        assert self._process is not None
        total = 0
        try:
            processes = [self._process, *self._process.children(recursive=True)]
        except psutil.Error:
            return 0
        for process in processes:
            try:
                total += process.memory_full_info().uss
            except psutil.Error:
                continue  # ended meanwhile
        return total
