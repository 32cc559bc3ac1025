"""Who drives an execution: a runner id naming this very process, and whether the process a runner id names is gone.

An execution records its runner as ``host:pid:start``, where ``start`` is when the process started
(``/proc/<pid>/stat``'s start time, in clock ticks since boot), so a pid reused by another process
after a crash is not taken for the runner. Older records hold ``host:pid`` and are judged by the pid.
"""

from __future__ import annotations

import os
import socket

from deepforge_panel.adapters.compute.processes import alive, started

__all__ = ["current_runner", "runner_gone"]


def current_runner() -> str:
    """This process as a runner id: ``host:pid:start`` (``host:pid`` where /proc is missing)."""
    pid = os.getpid()
    start = started(pid)
    return f"{socket.gethostname()}:{pid}" + (f":{start}" if start else "")


def runner_gone(runner: str) -> bool:
    """Whether the process ``runner`` names is known to be gone: on this host, and dead or replaced by another
    process with its pid. A runner on another host, or one this cannot parse, is never judged gone."""
    parts = runner.split(":")
    if len(parts) not in (2, 3) or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if not alive(pid):
        return True
    start = started(pid)
    return len(parts) == 3 and start is not None and start != parts[2]
