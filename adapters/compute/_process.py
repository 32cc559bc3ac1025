"""How a job process is launched and killed, shared by every adapter that spawns one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from deepforge_panel.adapters.compute._lines import Oversized
from deepforge_panel.adapters.compute.messages import EVENTS_FD_ENV, EventRecord, Line, Stream

__all__ = [
    "CONSOLE_LIMIT",
    "KILL_GRACE_S",
    "LINE_LIMIT",
    "job_argv",
    "job_env",
    "line",
    "record",
    "signal_group",
    "spawn_options",
]

# Figures travel as single JSON records on the events channel, so a record may be this long; a longer one
# is dropped, so reading the channel stays bounded.
LINE_LIMIT = 16 * 1024 * 1024 + 1024
# A console line longer than this arrives in pieces this long: the console needs no whole lines, and a
# job printing without newlines costs the reader this much per stream, not the size of what it printed.
CONSOLE_LIMIT = 1024 * 1024
# Seconds between SIGTERM and SIGKILL when a job is cancelled.
KILL_GRACE_S = 3.0


def job_argv() -> list[str]:
    """The command a job folder is run with: this interpreter on ``main.py``."""
    return [sys.executable, "main.py"]


def spawn_options(
    cwd: str | os.PathLike[str], extra_env: Mapping[str, str], events_fd: int, *, stdin: bool = False
) -> dict[str, Any]:
    """How every adapter starts a job process (``subprocess.Popen`` or ``asyncio.create_subprocess_exec``):
    in its folder, stdin piped only for a job with a control (else /dev/null), stdout/stderr piped, the
    events channel's write end its only extra file, its own process group (so a cancel reaches its children)."""
    return {
        "cwd": cwd,
        "env": job_env(extra_env, events_fd),
        "stdin": subprocess.PIPE if stdin else subprocess.DEVNULL,
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "pass_fds": (events_fd,),
        "start_new_session": True,
    }


def job_env(extra: Mapping[str, str], events_fd: int) -> dict[str, str]:
    """This process's environment plus the job's variables, unbuffered so lines stream, and
    the number of the events channel's write end, which the job inherits (``pass_fds``)."""
    return {**os.environ, **extra, "PYTHONUNBUFFERED": "1", EVENTS_FD_ENV: str(events_fd)}


def signal_group(pgid: int, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to the process group ``pgid``; False if nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def line(stream: Stream, raw: bytes) -> Line:
    """A line of output as read from a pipe, decoded leniently; only its final newline is taken off."""
    newline = raw.endswith(b"\n")
    return Line(stream, (raw[:-1] if newline else raw).decode("utf-8", errors="replace"), newline)


def record(raw: bytes | Oversized) -> EventRecord:
    """An events-channel record as read from its pipe, without the newline (or how a dropped one began)."""
    if isinstance(raw, Oversized):
        return EventRecord(raw.head.decode("utf-8", errors="replace"), dropped=raw.size)
    return EventRecord(raw.removesuffix(b"\n").decode("utf-8", errors="replace"))
