"""Start plain Python scripts the way a compute adapter starts jobs, and read their events channel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from deepforge_panel.jobruntime.deepforge import feedback

__all__ = ["BACKEND", "JOBRUNTIME", "TIMEOUT_S", "EventsReader", "JobResult", "job_env", "start_process"]

JOBRUNTIME = Path(__file__).resolve().parents[2] / "deepforge_panel" / "jobruntime"
BACKEND = "module://deepforge.mpl_backend"
TIMEOUT_S = 120


def job_env(*, events_fd: int | None) -> dict[str, str]:
    """A job's environment: the workbench's when it has an events channel, else a headless shell's.

    The package stays importable either way, as it sits next to ``main.py`` in a job folder.
    """
    dropped = {feedback.ENV_VAR, "MPLBACKEND", "PYTHONPATH", "DISPLAY"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["PYTHONPATH"] = str(JOBRUNTIME)
    if events_fd is not None:
        env.update({feedback.ENV_VAR: str(events_fd), "MPLBACKEND": BACKEND})
    else:
        env["MPLBACKEND"] = "Agg"
    return env


@dataclass
class EventsReader:
    """Reads a job's events channel on a thread until it ends; ``records`` grows as lines arrive."""

    pipe: IO[bytes]
    records: list[str] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        with self.pipe:
            for raw in iter(self.pipe.readline, b""):
                with self.arrived:
                    self.records.append(raw.decode())
                    self.arrived.notify_all()

    def events(self) -> list[dict[str, Any]]:
        """The records so far, each checked to be one whole JSON line."""
        assert all(record.endswith("\n") and "\n" not in record[:-1] for record in self.records)
        return [json.loads(record) for record in self.records]

    def wait_for(self, count: int, timeout: float = TIMEOUT_S) -> list[dict[str, Any]]:
        """The events once at least ``count`` arrived; fails after ``timeout`` seconds."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.records) >= count, timeout), self.records
        return self.events()

    def finish(self, timeout: float = TIMEOUT_S) -> list[dict[str, Any]]:
        """Every event, once the channel ended (every holder of its write end closed it)."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the events channel never ended"
        return self.events()


@dataclass
class JobResult:
    stdout: str
    stderr: str
    events: list[dict[str, Any]]


def start_process(script: Path, *, channel: bool, **pipes: Any) -> tuple[subprocess.Popen[str], EventsReader | None]:
    """Start ``script`` like a compute adapter: with an events pipe (write end only) when ``channel``."""
    if not channel:
        return subprocess.Popen(
            [sys.executable, str(script)], cwd=script.parent, env=job_env(events_fd=None), text=True, **pipes
        ), None
    read_fd, write_fd = os.pipe()
    try:
        job = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=script.parent,
            env=job_env(events_fd=write_fd),
            pass_fds=(write_fd,),
            text=True,
            **pipes,
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return job, EventsReader(os.fdopen(read_fd, "rb"))
