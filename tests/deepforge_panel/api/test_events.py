"""An execution's events as server-sent events: they arrive while its job runs, and the stream ends with it."""

from __future__ import annotations

import time

from pycrdt import Doc, Map

from deepforge_panel.api.events import ExecutionWatch
from deepforge_panel.client import Client, Event
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import SOURCE


def _collect(client: Client, project: str, execution: str) -> list[tuple[float, Event]]:
    return [(time.monotonic(), event) for event in client.events(project, execution, timeout=60)]


def test_console_lines_and_statuses_arrive_while_the_job_runs(client: Client, project: str) -> None:
    client.add_node(project, "chain", "Slow", name="slow", attributes={"lines": 4, "pause": 0.4})
    client.connect(project, "chain", "add", "result", "slow", "data")
    execution = client.run(project, "chain")["id"]
    received = _collect(client, project, execution)
    kinds = [event.kind for _, event in received]
    assert kinds[-1] == "end" and received[-1][1].data["status"] == "succeeded", kinds
    slow = [(at, e.data) for at, e in received if e.data.get("job") == "slow"]
    lines = [(at, data["text"]) for at, data in slow if "text" in data]
    assert [text for _, text in lines] == [f"line {i}\n" for i in range(4)]
    for job in ("source", "add", "slow"):  # every status, even of jobs that ran for less than a poll
        told = [e.data["status"] for _, e in received if e.kind == "job" and e.data["job"] == job]
        assert told[-2:] == ["running", "succeeded"] and set(told) <= {"pending", "queued", "running", "succeeded"}
    finished = next(at for at, data in slow if data.get("status") == "succeeded")
    assert finished - lines[0][0] > 0.8, "the first line came when the job ended, not while it ran"
    assert lines[1][0] - lines[0][0] > 0.2, "lines came in one burst"


def test_a_cancelled_execution_ends_its_stream_and_a_late_reader_gets_it_all(client: Client, project: str) -> None:
    client.add_node(project, "chain", "Slow", name="slow", attributes={"lines": 100, "pause": 0.2})
    client.connect(project, "chain", "add", "result", "slow", "data")
    execution = client.run(project, "chain")["id"]
    for event in client.events(project, execution, timeout=60):
        if event.kind == "console":
            client.cancel(project, execution)
        if event.kind == "end":
            assert event.data["status"] == "cancelled"
            break
    else:
        raise AssertionError("the stream ended without an end event")
    replay = [event for _, event in _collect(client, project, execution)]
    assert replay[-1] == Event("end", {"status": "cancelled", "error": "cancelled"})
    assert any(e.kind == "console" and e.data["text"] == "line 0\n" for e in replay)
    assert any(e.kind == "job" and e.data["job"] == "slow" and e.data["status"] == "cancelled" for e in replay)


def _one_job_execution() -> tuple[Project, str, str, Map]:
    """A project in memory with a pending execution of one job, "source": (project, execution, job id, its record)."""
    project = Project(Doc(), name="watched")
    pipeline = project.pipelines.create("p")
    project.pipelines.add_node(pipeline, project.operations.add(SOURCE), name="source")
    planned = project.pipelines.get(pipeline)
    execution, jobs = project.executions.create(planned, "c1", {n: {} for n in planned.nodes}, "me")
    (job_id,) = jobs.values()
    return project, execution, job_id, project.executions.job_record(execution, job_id)


def test_an_unfinished_line_waits_for_its_end_or_the_job_s() -> None:
    project, execution, job_id, job = _one_job_execution()
    watch = ExecutionWatch(project, execution)
    assert [kind for kind, _ in watch.changes()] == ["execution", "job"]
    with project.transaction():
        stdout = job["stdout"]
        stdout += "one\ntw"
        job["status"] = "running"
    assert watch.changes() == [
        ("job", {"job": "source", "id": job_id, "status": "running", "error": ""}),
        ("console", {"job": "source", "stream": "stdout", "text": "one\n"}),
    ]
    assert watch.changes() == []
    with project.transaction():
        stdout += "o"
    assert watch.changes() == []
    with project.transaction():
        job["status"] = "succeeded"
    assert watch.changes() == [
        ("console", {"job": "source", "stream": "stdout", "text": "two"}),
        ("job", {"job": "source", "id": job_id, "status": "succeeded", "error": ""}),
    ]
    project.executions.finish(execution, "succeeded")
    assert watch.changes() == [
        ("execution", {"status": "succeeded", "error": ""}),
        ("end", {"status": "succeeded", "error": ""}),
    ]
    assert watch.ended


def test_every_status_a_job_takes_between_two_looks_is_told_in_order() -> None:
    project, execution, _, job = _one_job_execution()
    with ExecutionWatch(project, execution) as watch, ExecutionWatch(project, execution) as other:
        watch.changes()
        for status in ("queued", "running", "succeeded"):  # three transactions before the next look
            with project.transaction():
                job["status"] = status
        told = [data["status"] for kind, data in watch.changes() if kind == "job"]
        assert told == ["queued", "running", "succeeded"]
        assert [data["status"] for kind, data in other.changes() if kind == "job"] == ["queued", "running", "succeeded"]
    with ExecutionWatch(project, execution) as late:
        assert [data["status"] for kind, data in late.changes() if kind == "job"] == ["succeeded"]
    with project.transaction():
        job["status"] = "failed"
    assert watch.taken == {}, "a watch that left hears nothing more"
