"""Run plain Python scripts the way the workbench runs jobs, and read their events."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deepforge_panel.jobruntime.deepforge.feedback import parse_line

JOBRUNTIME = Path(__file__).resolve().parents[2] / "deepforge_panel" / "jobruntime"
BACKEND = "module://deepforge.mpl_backend"


def job_env(*, feedback: bool) -> dict[str, str]:
    """A job's environment: the workbench's when *feedback*, else a headless shell's.

    The package stays importable either way, as it sits next to ``main.py`` in a job folder.
    """
    dropped = {"DEEPFORGE_FEEDBACK", "MPLBACKEND", "PYTHONPATH", "DISPLAY"}
    env = {key: value for key, value in os.environ.items() if key not in dropped}
    env["PYTHONPATH"] = str(JOBRUNTIME)
    if feedback:
        env.update(DEEPFORGE_FEEDBACK="1", MPLBACKEND=BACKEND)
    else:
        env["MPLBACKEND"] = "Agg"
    return env


@pytest.fixture
def run_job(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a script source in a fresh interpreter; ``feedback`` picks the environment."""

    def run(source: str, *, feedback: bool = True) -> subprocess.CompletedProcess[str]:
        script = tmp_path / "main.py"
        script.write_text(textwrap.dedent(source))
        result = subprocess.run(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=job_env(feedback=feedback),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        return result

    return run


@pytest.fixture
def start_job(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Start a script source with the workbench's environment and pipes on stdin and stdout."""
    started: list[subprocess.Popen[str]] = []

    def start(source: str) -> subprocess.Popen[str]:
        script = tmp_path / "main.py"
        script.write_text(textwrap.dedent(source))
        job = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=tmp_path,
            env=job_env(feedback=True),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(job)
        return job

    yield start
    for job in started:
        if job.poll() is None:
            job.kill()
        job.wait(timeout=60)
        for stream in (job.stdin, job.stdout, job.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.fixture
def split_output() -> Callable[[str], list[dict | str]]:
    """Split job stdout into events (dicts) and ordinary lines (str), in order.

    Splits on "\\n" only: ``str.splitlines`` would also break at the marker's 0x1E.
    """

    def split(stdout: str) -> list[dict | str]:
        lines = stdout.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [event if (event := parse_line(line)) is not None else line for line in lines]

    return split
