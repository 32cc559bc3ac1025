"""The workbench killed mid-run and started again: its local jobs went on, and it follows them to their end."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute._forkserver import available
from deepforge_panel.adapters.compute.processes import alive
from deepforge_panel.client import Client
from deepforge_panel.workspace import Workspace
from tests.conftest import wait_until
from tests.deepforge_panel.helpers import ADD
from tests.servers import Server

pytestmark = pytest.mark.skipif(not available() or sys.platform != "linux", reason="forked jobs need Linux")

SLOW_SOURCE = """
import os, time


class SlowSource:
    def __init__(self, gate: str = ""):
        self.gate = gate

    def execute(self):
        print("pid", os.getpid(), flush=True)
        print("waiting for the gate", flush=True)
        while not os.path.exists(self.gate):
            time.sleep(0.05)
        print("through the gate", flush=True)
        from deepforge import metric

        metric("after the gate", 1.0)
        data = 41
        return data
"""


def _project(home: Path, gate: Path) -> None:
    project = Workspace(home, examples=False).create("restart")
    try:
        pipeline = project.pipelines.create("chain")
        source = project.pipelines.add_node(
            pipeline, project.operations.add(SLOW_SOURCE), name="source", attributes={"gate": str(gate)}
        )
        add = project.pipelines.add_node(pipeline, project.operations.add(ADD), name="add")
        project.pipelines.add_edge(pipeline, source, "data", add, "data")
        project.commit("A chain whose first job waits at a gate", author="test")
    finally:
        project.close()


@dataclass
class Restarted:
    """A server killed (-9) while the first job of its run of "chain" waited at ``gate``, and started again."""

    server: Server
    client: Client
    execution: str
    job_pid: int
    gate: Path

    def job(self, name: str) -> dict[str, Any]:
        return next(j for j in self.client.execution("restart", self.execution)["jobs"] if j["name"] == name)


def _run_until_the_gate(tmp_path: Path) -> tuple[Server, str, int, Path]:
    """A server running "chain" whose first job waits at the gate: (server, execution, the job's pid, the gate)."""
    home, gate = tmp_path / "home", tmp_path / "gate"
    _project(home, gate)
    server = Server(home)
    try:
        client = Client(server.url, server.token)
        execution_id = client.run("restart", "chain")["id"]

        def stdout() -> str:
            jobs = client.execution("restart", execution_id)["jobs"]
            return next(j for j in jobs if j["name"] == "source")["stdout"]

        wait_until(lambda: "waiting for the gate" in stdout(), timeout=60, message="the first job to wait")
    except BaseException:
        gate.touch()
        server.stop()
        raise
    return server, execution_id, int(stdout().split()[1]), gate


@pytest.fixture
def killed(tmp_path: Path) -> Iterator[tuple[Server, str, int, Path]]:
    """The server killed (-9, nothing of it left to clean up) while its run's first job waits: (server, execution,
    the job's pid, the gate that lets the job go on)."""
    server, execution_id, job_pid, gate = _run_until_the_gate(tmp_path)
    try:
        server.kill()
        yield server, execution_id, job_pid, gate
    finally:
        gate.touch()  # whatever failed, the job does not wait for ever
        server.stop()


@pytest.fixture
def restarted(killed: tuple[Server, str, int, Path]) -> Restarted:
    server, execution_id, job_pid, gate = killed
    assert alive(job_pid), "the job goes on without the workbench"
    server.start()
    return Restarted(server, Client(server.url, server.token), execution_id, job_pid, gate)


def test_jobs_go_on_when_the_workbench_dies_and_it_follows_them_when_it_starts_again(restarted: Restarted) -> None:
    client, execution_id = restarted.client, restarted.execution
    assert client.execution("restart", execution_id)["status"] == "running", "not settled as interrupted: a job runs"
    assert restarted.job("source")["status"] == "running"

    restarted.gate.touch()
    final = client.wait("restart", execution_id, timeout=60)
    jobs = {job["name"]: job for job in final["jobs"]}
    assert "waiting for the gate" in jobs["source"]["stdout"], "what it printed before the restart is kept"
    assert "through the gate" in jobs["source"]["stdout"], "its feedback resumed after the restart"
    assert jobs["source"]["metrics"] == {"after the gate": [[0, 1.0]]}
    assert jobs["source"]["status"] == "succeeded", jobs["source"]["error"]
    (artifact,) = [a for a in client.artifacts("restart") if a["name"] == "source.data"]
    assert artifact["provenance"]["execution"] == execution_id and artifact["provenance"]["node"] == "source"
    assert jobs["add"]["status"] == "cancelled" and "did not run" in jobs["add"]["error"]
    assert final["status"] == "failed" and "the workbench running this execution stopped" in final["error"]
    assert not alive(restarted.job_pid)

    again = client.wait("restart", client.run("restart", "chain")["id"], timeout=120)
    statuses = {job["name"]: job["status"] for job in again["jobs"]}
    assert statuses == {"source": "cached", "add": "succeeded"}, again["error"]


def test_a_job_that_ended_while_no_workbench_ran_is_recorded_when_it_starts_again(
    killed: tuple[Server, str, int, Path],
) -> None:
    server, execution_id, job_pid, gate = killed
    gate.touch()
    wait_until(lambda: not alive(job_pid), timeout=60, message="the job to end with no workbench running")
    server.start()
    client = Client(server.url, server.token)
    final = client.wait("restart", execution_id, timeout=60)
    source = next(job for job in final["jobs"] if job["name"] == "source")
    assert source["status"] == "succeeded" and "through the gate" in source["stdout"]
    assert [a["name"] for a in client.artifacts("restart")] == ["source.data"]


def test_a_followed_execution_can_be_cancelled(restarted: Restarted) -> None:
    client, execution_id = restarted.client, restarted.execution
    assert client.execution("restart", execution_id)["status"] == "running"
    client.cancel("restart", execution_id)
    final = client.wait("restart", execution_id, timeout=60)
    assert final["status"] == "cancelled"
    assert {job["name"]: job["status"] for job in final["jobs"]} == {"source": "cancelled", "add": "cancelled"}
    wait_until(lambda: not alive(restarted.job_pid), timeout=30, message="the cancelled job to be stopped")
