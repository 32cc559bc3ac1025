"""Fixtures that run plain Python scripts the way the workbench runs jobs, and read their events channel."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from job_process import TIMEOUT_S, EventsReader, JobResult, start_process

from deepforge_panel.jobruntime.deepforge import feedback


@pytest.fixture
def run_job(tmp_path: Path) -> Callable[..., JobResult]:
    """Run a script source in a fresh interpreter; ``feedback`` gives it an events channel."""

    def run(source: str, *, feedback: bool = True) -> JobResult:
        script = tmp_path / "main.py"
        script.write_text(textwrap.dedent(source))
        job, reader = start_process(script, channel=feedback, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout, stderr = job.communicate(timeout=TIMEOUT_S)
        assert job.returncode == 0, stderr
        return JobResult(stdout, stderr, reader.finish() if reader is not None else [])

    return run


@pytest.fixture
def start_job(tmp_path: Path) -> Iterator[Callable[[str], tuple[subprocess.Popen[str], EventsReader]]]:
    """Start a script source with an events channel and pipes on stdin, stdout and stderr."""
    started: list[subprocess.Popen[str]] = []

    def start(source: str) -> tuple[subprocess.Popen[str], EventsReader]:
        script = tmp_path / "main.py"
        script.write_text(textwrap.dedent(source))
        job, reader = start_process(
            script, channel=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert reader is not None
        started.append(job)
        return job, reader

    yield start
    for job in started:
        if job.poll() is None:
            job.kill()
        job.wait(timeout=60)
        for stream in (job.stdin, job.stdout, job.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def channel() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Connect this process's ``deepforge.feedback`` to a fresh pipe; the callable drains what arrived."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    feedback.connect(write_fd)
    pending = bytearray()

    def drain() -> list[dict[str, Any]]:
        while True:
            try:
                chunk = os.read(read_fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            pending.extend(chunk)
        *complete, rest = bytes(pending).split(b"\n")
        pending[:] = rest
        return [json.loads(line) for line in complete]

    try:
        yield drain
    finally:
        feedback.disconnect()
        os.close(read_fd)
