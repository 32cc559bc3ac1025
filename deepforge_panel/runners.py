"""Who drives an execution: a runner id naming this very process, and whether the process a runner id names is gone.

An execution records its runner as ``host:pid:start``, where ``start`` is when the process started
(``/proc/<pid>/stat``'s start time, in clock ticks since boot), so a pid reused by another process
after a crash is not taken for the runner. Older records hold ``host:pid`` and are judged by the pid.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

__all__ = ["current_runner", "runner_gone"]


def _stat(pid: int) -> tuple[str, str] | None:
    """Process ``pid``'s state letter and start time (clock ticks since boot); None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], fields[19]


def current_runner() -> str:
    """This process as a runner id: ``host:pid:start`` (``host:pid`` where /proc is missing)."""
    pid = os.getpid()
    stat = _stat(pid)
    return f"{socket.gethostname()}:{pid}" + (f":{stat[1]}" if stat else "")


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` exists and is not a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = _stat(pid)
    return stat is None or stat[0] not in ("Z", "X")


def runner_gone(runner: str) -> bool:
    """Whether the process ``runner`` names is known to be gone: on this host, and dead or replaced by another
    process with its pid. A runner on another host, or one this cannot parse, is never judged gone."""
    parts = runner.split(":")
    if len(parts) not in (2, 3) or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if not _alive(pid):
        return True
    stat = _stat(pid)
    return len(parts) == 3 and stat is not None and stat[1] != parts[2]
