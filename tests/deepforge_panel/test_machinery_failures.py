"""When the machinery fails under a job: a Dask worker process killed mid-job (the job runs again elsewhere,
once), and the workbench killed mid-run (its execution is settled when it starts again, never left running)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.compute.dask import RETRIED
from deepforge_panel.adapters.storage import storage
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.workspace import Workspace
from tests.conftest import async_wait_until, wait_until
from tests.deepforge_panel.helpers import new_project, start_sleepy_run

KILL_MY_WORKER = '''
import os
import signal
from pathlib import Path


class KillWorker:
    """Kills the Dask worker process running it, the first ``times`` times it runs."""

    def __init__(self, marks: str = "", times: int = 1):
        self.marks, self.times = marks, times

    def execute(self):
        runs = Path(self.marks)
        runs.mkdir(exist_ok=True)
        attempt = len(list(runs.iterdir())) + 1
        (runs / str(attempt)).write_text(str(os.getpid()))
        if attempt <= self.times:
            import psutil

            worker = psutil.Process(os.getppid())
            if "_zygote.py" in " ".join(worker.cmdline()):  # forked by the worker's fork server
                worker = worker.parent()
            os.kill(worker.pid, signal.SIGKILL)  # the worker process that started this job
            os._exit(1)
        survived = attempt
        return survived
'''


def _run_on_dask(tmp_path: Path, times: int):
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    op = project.operations.add(KILL_MY_WORKER)
    project.pipelines.add_node(pid, op, name="kill", attributes={"marks": str(tmp_path / "marks"), "times": times})

    async def go():
        adapter = compute("dask", n_workers=2)
        async with adapter:
            orchestrator = Orchestrator(project, adapter, storage((tmp_path / "a").as_uri()), tmp_path / "jobs")
            return await asyncio.wait_for(orchestrator.run("p"), 120)

    return asyncio.run(go())


@pytest.mark.slow
def test_a_job_whose_dask_worker_dies_runs_again_on_another(tmp_path: Path) -> None:
    execution = _run_on_dask(tmp_path, times=1)
    job = execution.job("kill")
    assert job.status == "succeeded", job.error
    assert RETRIED in job.stderr
    assert len(list((tmp_path / "marks").iterdir())) == 2


@pytest.mark.slow
def test_a_job_that_loses_its_worker_twice_fails_saying_so(tmp_path: Path) -> None:
    execution = _run_on_dask(tmp_path, times=5)
    job = execution.job("kill")
    assert execution.status == "failed" and job.status == "failed"
    assert "the Dask worker running the job died, and so did the one it was retried on" in job.error
    assert len(list((tmp_path / "marks").iterdir())) == 2, "retried once, not more"


SLEEP = """
import time


class Sleep:
    def execute(self):
        print("sleeping", flush=True)
        time.sleep(600)
        done = True
        return done
"""


@pytest.mark.slow
def test_the_scheduler_going_away_fails_the_running_job_saying_so(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dask = str(Path(sys.executable).with_name("dask"))
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
    )
    worker = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--no-dashboard"], **quiet)
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(SLEEP), name="sleep")

    async def go():
        adapter = compute("dask", address=f"tcp://127.0.0.1:{port}")
        await asyncio.wait_for(adapter.start(), 60)
        orchestrator = Orchestrator(project, adapter, storage((tmp_path / "a").as_uri()), tmp_path / "jobs")
        execution_id = orchestrator.start("p")
        await async_wait_until(
            lambda: "sleeping" in project.executions.get(execution_id).job("sleep").stdout, timeout=60
        )
        scheduler.kill()
        try:
            return await asyncio.wait_for(orchestrator.wait(execution_id), 120)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(adapter.stop(), 15)

    try:
        execution = asyncio.run(go())
    finally:
        for process in (worker, scheduler):
            process.kill()
            process.wait(timeout=30)  # reaped here, not left to a later test's garbage collection
    assert execution.status == "failed"
    assert f"lost the Dask scheduler (tcp://127.0.0.1:{port}) while the job ran" in execution.job("sleep").error
    assert "lost the Dask scheduler" in execution.error


def test_a_cli_run_killed_mid_run_is_settled_when_the_project_opens_again(tmp_path: Path) -> None:
    home, runner, job_pid = start_sleepy_run(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.kill(runner.pid, signal.SIGKILL)  # no chance to clean up
    runner.wait(timeout=30)
    wait_until(lambda: not _alive(job_pid), timeout=30, message="the job ends with the CLI run that started it")
    project = Workspace(home, examples=False).open("sleepy")  # the workbench starting again
    (execution,) = project.executions.all()
    assert execution.status == "failed" and "interrupted" in execution.error
    assert {job.status for job in execution.jobs.values()} <= {"cancelled", "failed"}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone too
        return stat.read().split(")")[-1].split()[0] != "Z"
    return True


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("reads /proc")
