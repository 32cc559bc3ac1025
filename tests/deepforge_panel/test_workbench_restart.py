"""The workbench killed mid-run and started again: its local jobs went on, and it follows them to their end."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

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


def test_jobs_go_on_when_the_workbench_dies_and_it_follows_them_when_it_starts_again(tmp_path: Path) -> None:
    home, gate = tmp_path / "home", tmp_path / "gate"
    _project(home, gate)
    server = Server(home)
    try:
        client = Client(server.url, server.token)
        execution_id = client.run("restart", "chain")["id"]

        def source() -> dict:
            return next(j for j in client.execution("restart", execution_id)["jobs"] if j["name"] == "source")

        wait_until(lambda: "waiting for the gate" in source()["stdout"], timeout=60, message="the first job to wait")
        job_pid = int(source()["stdout"].split()[1])
        server.kill()  # kill -9: nothing of the workbench is left to clean up
        assert alive(job_pid), "the job goes on without the workbench"

        server.start()
        client = Client(server.url, server.token)
        record = client.execution("restart", execution_id)
        assert record["status"] == "running", "a job still runs: the execution is not settled as interrupted"
        assert source()["status"] == "running"

        gate.touch()
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
        assert not alive(job_pid)

        again = client.wait("restart", client.run("restart", "chain")["id"], timeout=120)
        statuses = {job["name"]: job["status"] for job in again["jobs"]}
        assert statuses == {"source": "cached", "add": "succeeded"}, again["error"]
    finally:
        gate.touch()  # whatever failed, the job does not wait for ever
        server.stop()


def test_a_job_that_ended_while_no_workbench_ran_is_recorded_when_it_starts_again(tmp_path: Path) -> None:
    home, gate = tmp_path / "home", tmp_path / "gate"
    _project(home, gate)
    server = Server(home)
    try:
        client = Client(server.url, server.token)
        execution_id = client.run("restart", "chain")["id"]
        wait_until(
            lambda: "waiting for the gate" in str(client.execution("restart", execution_id)["jobs"]),
            timeout=60,
            message="the first job to wait",
        )
        job_pid = int(
            next(j for j in client.execution("restart", execution_id)["jobs"] if j["stdout"])["stdout"].split()[1]
        )
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=15)
        gate.touch()
        wait_until(lambda: not alive(job_pid), timeout=60, message="the job to end with no workbench running")

        server.start()
        client = Client(server.url, server.token)
        final = client.wait("restart", execution_id, timeout=60)
        source = next(job for job in final["jobs"] if job["name"] == "source")
        assert source["status"] == "succeeded" and "through the gate" in source["stdout"]
        assert [a["name"] for a in client.artifacts("restart")] == ["source.data"]
    finally:
        gate.touch()
        server.stop()


def test_a_followed_execution_can_be_cancelled(tmp_path: Path) -> None:
    home, gate = tmp_path / "home", tmp_path / "gate"
    _project(home, gate)
    server = Server(home)
    try:
        client = Client(server.url, server.token)
        execution_id = client.run("restart", "chain")["id"]
        wait_until(
            lambda: "waiting for the gate" in str(client.execution("restart", execution_id)["jobs"]),
            timeout=60,
            message="the first job to wait",
        )
        job_pid = int(
            next(j for j in client.execution("restart", execution_id)["jobs"] if j["stdout"])["stdout"].split()[1]
        )
        server.kill()
        server.start()
        client = Client(server.url, server.token)
        assert client.execution("restart", execution_id)["status"] == "running"
        client.cancel("restart", execution_id)
        final = client.wait("restart", execution_id, timeout=60)
        assert final["status"] == "cancelled"
        assert {job["name"]: job["status"] for job in final["jobs"]} == {"source": "cancelled", "add": "cancelled"}
        wait_until(lambda: not alive(job_pid), timeout=30, message="the cancelled job to be stopped")
    finally:
        gate.touch()
        server.stop()
