"""How a job process is launched and killed, shared by every adapter that spawns one."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping

__all__ = ["KILL_GRACE_S", "LINE_LIMIT", "decode_line", "job_argv", "job_env", "signal_group"]

# Figures travel as single JSON lines, so a line may be this long.
LINE_LIMIT = 16 * 1024 * 1024 + 1024
# Seconds between SIGTERM and SIGKILL when a job is cancelled.
KILL_GRACE_S = 3.0


def job_argv() -> list[str]:
    """The command a job folder is run with: this interpreter on ``main.py``."""
    return [sys.executable, "main.py"]


def job_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment plus the job's variables, unbuffered so lines stream."""
    return {**os.environ, **extra, "PYTHONUNBUFFERED": "1"}


def signal_group(pgid: int, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` to the process group ``pgid``; False if nothing is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def decode_line(raw: bytes) -> str:
    """A line as read from a pipe, without its line ending, decoded leniently."""
    return raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
