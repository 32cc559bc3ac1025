"""Jobs past their time or memory limit, and jobs that end without their outputs, on real processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute import Limits, compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import new_project

SLEEP = """
import time


class Sleep:
    def execute(self):
        time.sleep(600)
        done = True
        return done
"""

HOG = """
import time


class Hog:
    \"\"\"Takes memory 16 MiB at a time, up to 1 GiB at most (so a missed limit never harms the machine).\"\"\"

    def execute(self):
        chunks = []
        for _ in range(64):
            chunks.append(bytearray(16 * 1024 * 1024))
            time.sleep(0.05)
        total = len(chunks)
        return total
"""

SILENT = """
import os


class Silent:
    def execute(self, data):
        os._exit(0)  # leaves, successfully, before returning its output
        result = data
        return result
"""

SOURCE = """
class Source:
    def execute(self):
        data = 1
        return data
"""


def _pipeline(project: Project, code: str, name: str) -> str:
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(code), name=name)
    return pid


def _run(project: Project, tmp_path: Path, adapter: str = "local", **options):
    async def go():
        orchestrator = Orchestrator(
            project, compute(adapter, **options), storage((tmp_path / "artifacts").as_uri()), tmp_path / "jobs"
        )
        await orchestrator.compute.start()
        try:
            return await asyncio.wait_for(orchestrator.run("p"), 120)
        finally:
            await orchestrator.compute.stop()

    return asyncio.run(go())


def test_a_job_past_the_projects_time_limit_is_stopped_and_says_so(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _pipeline(project, SLEEP, "sleep")
    project.job_limits = Limits(time_s=1)
    started = time.monotonic()
    execution = _run(project, tmp_path)
    assert time.monotonic() - started < 30
    job = execution.job("sleep")
    assert execution.status == "failed" and job.status == "failed"
    assert job.error == "job sleep timed out after 1 s"
    assert "timed out after 1 s" in execution.error


def test_a_node_limit_overrides_the_projects_and_a_memory_hog_is_stopped(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = _pipeline(project, HOG, "hog")
    project.job_limits = Limits(time_s=300, memory_mb=4096)
    project.pipelines.set_limits(pid, "hog", Limits(memory_mb=150))
    node = project.pipelines.get(pid).node("hog")
    assert project.pipelines.effective_limits(node) == Limits(time_s=300, memory_mb=150)
    job = _run(project, tmp_path).job("hog")
    assert job.status == "failed"
    assert job.error.startswith("job hog out of memory (limit 150 MiB): it used ")
    with pytest.raises(ValueError, match="above 0"):
        Limits(time_s=0)


def test_a_job_that_ends_without_an_output_fails_naming_it(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    source = project.pipelines.add_node(pid, project.operations.add(SOURCE), name="source")
    silent = project.pipelines.add_node(pid, project.operations.add(SILENT), name="silent")
    project.pipelines.add_edge(pid, source, "data", silent, "data")
    job = _run(project, tmp_path).job("silent")
    assert job.status == "failed" and "job silent finished without producing outputs ['result']" in job.error


@pytest.mark.slow
def test_a_dask_worker_stops_a_job_past_its_time_limit(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _pipeline(project, SLEEP, "sleep")
    project.job_limits = Limits(time_s=2)
    execution = _run(project, tmp_path, "dask", n_workers=1)
    assert execution.job("sleep").error == "job sleep timed out after 2 s"
