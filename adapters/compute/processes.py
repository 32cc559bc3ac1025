"""Which process a pid names: its start time, and whether it still lives (Linux ``/proc``; elsewhere, the pid only).

A pid is reused once its process is gone, so a process is named by its pid *and* its start time: a record
of a job (or of the process that drives an execution) made before a crash does not take another process
for it afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["alive", "same_process", "started"]


def _stat(pid: int) -> tuple[str, str] | None:
    """Process ``pid``'s state letter and start time (clock ticks since boot); None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], fields[19]


def started(pid: int) -> str | None:
    """When process ``pid`` started, as /proc tells it (an opaque string); None where it cannot."""
    stat = _stat(pid)
    return stat[1] if stat else None


def alive(pid: int) -> bool:
    """Whether a process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _stat(pid)
    return stat is None or stat[0] not in ("Z", "X")


def same_process(pid: int, start: str | None) -> bool:
    """Whether ``pid`` is alive and is the process that started at ``start`` (any, if ``start`` is None)."""
    if not alive(pid):
        return False
    now = started(pid)
    return start is None or now is None or now == start
