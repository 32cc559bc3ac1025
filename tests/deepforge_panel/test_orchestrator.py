"""The orchestrator against real subprocesses on the local compute adapter and file storage."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.events import ExecutionStatus, JobStatus, Line, ListenerEvent, Malformed, Metric
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.pipelines import PipelineError
from deepforge_panel.project import Project
from deepforge_panel.provenance import lineage, reify
from tests.conftest import async_wait_until
from tests.deepforge_panel.helpers import ADD, PAIR, SOURCE, new_project

WAIT_FOR_PEER = '''
import os, time
from pathlib import Path

class Rendezvous:
    """Arrive, then wait until the other job has arrived too: succeeds only if both run at once."""
    def __init__(self, me: str = "a", other: str = "b", folder: str = "", timeout: float = 30.0):
        self.me, self.other, self.folder, self.timeout = me, other, folder, timeout

    def execute(self):
        Path(self.folder, self.me).write_text(str(time.time()))
        deadline = time.time() + self.timeout
        while not Path(self.folder, self.other).exists():
            if time.time() > deadline:
                raise TimeoutError(f"{self.other} never ran while {self.me} was running")
            time.sleep(0.01)
        met = self.me
        return met
'''

FAIL = """
class Explode:
    def execute(self, data):
        print("about to fail")
        raise ValueError(f"bad value {data}")
        result = data
        return result
"""

EXIT = """
import sys
class Quit:
    def execute(self):
        sys.exit(3)
"""

STREAM = '''
import os, time
from pathlib import Path
import matplotlib.pyplot as plt
from deepforge import metric, progress

class Stream:
    """Print and draw, then wait for the test to see it before finishing."""
    def __init__(self, gate: str = "", epochs: int = 3):
        self.gate, self.epochs = gate, epochs

    def execute(self):
        losses = []
        for epoch in range(self.epochs):
            losses.append(1.0 / (epoch + 1))
            plt.cla()
            plt.plot(losses)
            plt.draw()
            metric("loss", losses[-1], epoch)
            progress(epoch + 1, self.epochs, "epoch")
            print(f"epoch {epoch}", flush=True)
        print("warning: nothing serious", file=__import__("sys").stderr, flush=True)
        deadline = time.time() + 30
        while not Path(self.gate).exists():
            if time.time() > deadline:
                raise TimeoutError("the workbench never saw the streamed feedback")
            time.sleep(0.01)
        done = True
        return done
'''

SLEEP = """
import os, time
from pathlib import Path
class Sleep:
    def __init__(self, pidfile: str = ""):
        self.pidfile = pidfile
    def execute(self):
        Path(self.pidfile).write_text(str(os.getpid()))
        time.sleep(600)
"""


KERAS_LIKE = """
import matplotlib.pyplot as plt
from deepforge import metric

class Fit:
    def execute(self):
        print("epoch 1/1 [=====>   ]", end="", flush=True)
        plt.plot([0.9, 0.4, 0.2])
        plt.show()
        metric("loss", 0.2, 0)
        plt.figure("never shown").add_subplot().bar([1, 2], [3, 4])
"""

ODD_EVENTS = """
from deepforge import feedback, metric

class Odd:
    def execute(self):
        print('\\x1e@deepforge {"type":"metric","name":"fake","value":1.0,"step":null}')
        metric("loss", float("nan"), 1)
        metric("loss", 0.5, 2)
        feedback.emit({"type": "mystery", "detail": 1})
        feedback.emit({"type": "metric", "name": 3, "value": "high"})
        feedback._channel.write(b"not json\\n")
        feedback._channel.flush()
"""


def _orchestrator(project: Project, tmp_path: Path, workers: int = 4) -> Orchestrator:
    return Orchestrator(
        project,
        compute("local", max_workers=workers),
        storage((tmp_path / "artifacts").as_uri()),
        tmp_path / "jobs",
    )


def _run(orchestrator: Orchestrator, pipeline: str, overrides: dict[str, Any] | None = None, *, cache: bool = True):
    return asyncio.run(orchestrator.run(pipeline, overrides, cache=cache))


def _chain(project: Project) -> str:
    ops = {name: project.operations.add(code) for name, code in (("Source", SOURCE), ("Add", ADD), ("Pair", PAIR))}
    pid = project.pipelines.create("chain")
    a = project.pipelines.add_node(pid, ops["Source"], name="a", attributes={"value": 10})
    b = project.pipelines.add_node(pid, ops["Add"], name="b", attributes={"amount": 5})
    c = project.pipelines.add_node(pid, ops["Add"], name="c")
    d = project.pipelines.add_node(pid, ops["Pair"], name="d")
    project.pipelines.add_edge(pid, a, "data", b, "data")
    project.pipelines.add_edge(pid, b, "result", c, "data")
    project.pipelines.add_edge(pid, a, "data", d, "left")
    project.pipelines.add_edge(pid, c, "result", d, "right")
    return pid


def _value(orchestrator: Orchestrator, artifact_id: str) -> Any:
    from deepforge_panel.jobruntime.deepforge import serialization

    artifact = orchestrator.project.artifacts.get(artifact_id)
    return serialization.loads(orchestrator.storage.get(artifact.url))


def test_pipeline_runs_in_order_and_outputs_become_artifacts(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    orchestrator = _orchestrator(project, tmp_path)
    execution = _run(orchestrator, "chain", {"c": {"amount": 100}})

    assert execution.status == "succeeded"
    assert {j.name: j.status for j in execution.jobs.values()} == dict.fromkeys("abcd", "succeeded")
    assert execution.commit == project.log()[0].id and project.log()[0].message == "Run pipeline chain"
    d = execution.job("d")
    assert _value(orchestrator, d.outputs["total"]) == 10 + (10 + 5 + 100)
    artifact = project.artifacts.get(d.outputs["total"])
    assert artifact.type == "int" and len(artifact.hash) == 64 and artifact.size > 0
    assert execution.job("c").attributes == {"amount": 100}
    b, c = execution.job("b"), execution.job("c")
    assert b.ended <= c.started, "c waits for b"


def test_provenance_leads_back_and_reifies_into_an_equal_pipeline(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    orchestrator = _orchestrator(project, tmp_path)
    execution = _run(orchestrator, "chain", {"c": {"amount": 100}})
    total = project.artifacts.get(execution.job("d").outputs["total"])

    prov = total.provenance
    assert prov["kind"] == "ExecutedJob" and prov["node"] == "d" and prov["output"] == "total"
    assert "class Pair" in prov["operation"]["code"]
    right = prov["inputs"]["right"]["provenance"]
    assert right["node"] == "c" and right["attributes"] == {"amount": 100}
    assert right["inputs"]["data"]["provenance"]["node"] == "b"
    assert [r["node"] for r in lineage(prov)] == ["a", "b", "c", "d"]

    # Change the live operations: provenance still holds the code that ran.
    add = project.operations.find("Add")
    project.operations.set_code(add.id, ADD.replace("data + self.amount", "data - self.amount"))
    rebuilt = reify(project, total.id)
    pipeline = project.pipelines.get(rebuilt)
    assert {n.name for n in pipeline.nodes.values()} == {"a", "b", "c", "d"}
    assert len(pipeline.edges) == 4
    again = _run(orchestrator, pipeline.name)
    assert again.status == "succeeded"
    assert project.artifacts.get(again.job("d").outputs["total"]).hash == total.hash


def test_independent_jobs_run_at_the_same_time(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op = project.operations.add(WAIT_FOR_PEER)
    pid = project.pipelines.create("pair")
    folder = str(tmp_path / "meet")
    os.makedirs(folder)
    project.pipelines.add_node(pid, op, name="left", attributes={"me": "a", "other": "b", "folder": folder})
    project.pipelines.add_node(pid, op, name="right", attributes={"me": "b", "other": "a", "folder": folder})
    execution = _run(_orchestrator(project, tmp_path, workers=2), "pair")
    assert execution.status == "succeeded", execution.job("left").error or execution.job("right").error
    left, right = execution.job("left"), execution.job("right")
    assert left.started < right.ended and right.started < left.ended


def test_failure_reports_traceback_skips_downstream_and_other_branches_go_on(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    source = project.operations.add(SOURCE)
    explode = project.operations.add(FAIL)
    add = project.operations.add(ADD)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, source, name="src")
    project.pipelines.add_node(pid, explode, name="boom")
    project.pipelines.add_node(pid, add, name="after")
    project.pipelines.add_node(pid, add, name="sibling")
    project.pipelines.add_edge(pid, "src", "data", "boom", "data")
    project.pipelines.add_edge(pid, "boom", "result", "after", "data")
    project.pipelines.add_edge(pid, "src", "data", "sibling", "data")
    execution = _run(_orchestrator(project, tmp_path), "p")

    assert execution.status == "failed"
    boom = execution.job("boom")
    assert boom.status == "failed"
    assert "Traceback" in boom.error and "ValueError: bad value 1" in boom.error
    assert 'operation.py", line 5, in execute' in boom.error
    assert "about to fail" in boom.stdout
    assert "ValueError: bad value 1" in boom.stderr
    assert execution.job("after").status == "skipped"
    assert "upstream job boom failed" in execution.job("after").error
    assert execution.job("sibling").status == "succeeded"


def test_exit_code_is_reported(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(EXIT), name="quit")
    execution = _run(_orchestrator(project, tmp_path), "p")
    job = execution.job("quit")
    assert job.status == "failed" and "sys.exit(3)" in job.error


def test_feedback_streams_into_the_document_while_the_job_runs(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    gate = tmp_path / "gate"
    project.pipelines.add_node(pid, project.operations.add(STREAM), name="s", attributes={"gate": str(gate)})
    orchestrator = _orchestrator(project, tmp_path)

    async def scenario():
        execution_id = orchestrator.start("p")
        job = lambda: project.executions.get(execution_id).job("s")  # noqa: E731
        await async_wait_until(lambda: "epoch 2" in job().stdout, timeout=20, message="stdout streamed")
        started = time.monotonic()
        await async_wait_until(lambda: job().figures, timeout=1, message="figure within a second")
        streamed = job()
        assert streamed.status == "running"
        gate.write_text("seen")
        final = await orchestrator.wait(execution_id)
        return streamed, final, time.monotonic() - started

    streamed, final, _ = asyncio.run(scenario())
    figure = next(iter(streamed.figures.values()))
    assert figure["axes"][0]["lines"][0]["y"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert streamed.progress == {"current": 3, "total": 3, "label": "epoch"}
    assert [v for _, v in streamed.metrics["loss"]] == pytest.approx([1.0, 0.5, 1 / 3])
    job = final.job("s")
    assert job.status == "succeeded", job.error
    assert "warning: nothing serious" in job.stderr, "stderr is reported without failing the job"
    assert job.stdout == "epoch 0\nepoch 1\nepoch 2\n", "the console holds exactly what the job printed"


def test_cancel_kills_running_processes(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    pidfile = tmp_path / "pid"
    sleep = project.operations.add(SLEEP)
    project.pipelines.add_node(pid, sleep, name="sleeper", attributes={"pidfile": str(pidfile)})
    project.pipelines.add_node(pid, project.operations.add(SOURCE), name="src")
    orchestrator = _orchestrator(project, tmp_path, workers=1)

    async def scenario():
        execution_id = orchestrator.start("p")
        # the file exists a moment before its text is written: wait for the text
        await async_wait_until(lambda: pidfile.exists() and pidfile.read_text(), timeout=20, message="job started")
        job_pid = int(pidfile.read_text())
        assert orchestrator.cancel(execution_id)
        final = await orchestrator.wait(execution_id)
        return final, job_pid

    final, job_pid = asyncio.run(scenario())
    assert final.status == "cancelled"
    statuses = {j.name: j.status for j in final.jobs.values()}
    assert statuses["sleeper"] == "cancelled"
    assert statuses["src"] in ("cancelled", "succeeded")
    with pytest.raises(ProcessLookupError):
        os.kill(job_pid, 0)


def test_cancel_at_once_ends_the_run_as_cancelled(tmp_path: Path) -> None:
    """A Cancel pressed before the run's task first ran still ends the record, and wait returns it."""
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(SOURCE), name="src")
    orchestrator = _orchestrator(project, tmp_path, workers=1)

    async def scenario():
        execution_id = orchestrator.start("p")
        assert orchestrator.cancel(execution_id)
        return await orchestrator.wait(execution_id)

    final = asyncio.run(scenario())
    assert final.status == "cancelled" and final.error == "cancelled before it started"
    assert {j.status for j in final.jobs.values()} == {"cancelled"}
    assert orchestrator.running() == []


def test_job_folder_runs_by_hand_with_plain_python(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    execution = _run(_orchestrator(project, tmp_path), "chain")
    folder = tmp_path / "jobs" / execution.id / execution.job("d").id
    (folder / "outputs.json").unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPFORGE", "MPLBACKEND"))}
    done = subprocess.run([sys.executable, "main.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "\x1e" not in done.stdout and "output total: int" in done.stdout
    outputs = json.loads((folder / "outputs.json").read_text())
    assert outputs["total"]["hash"] == project.artifacts.get(execution.job("d").outputs["total"]).hash


def test_unrunnable_pipeline_changes_nothing(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(ADD), name="lonely")
    before = project.doc.get_update()
    commits = len(project.log())
    with pytest.raises(PipelineError, match="required input 'data' is not connected"):
        _run(_orchestrator(project, tmp_path), "p")
    assert project.doc.get_update() == before and len(project.log()) == commits


def test_a_figure_after_an_unfinished_line_arrives_and_the_console_is_as_printed(tmp_path: Path) -> None:
    """A progress bar that leaves its line open (as Keras does) neither hides a figure nor gets parsed."""
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(KERAS_LIKE), name="fit")
    execution = _run(_orchestrator(project, tmp_path), "p")

    job = execution.job("fit")
    assert job.status == "succeeded", job.error
    assert job.stdout == "epoch 1/1 [=====>   ]"
    assert job.stderr == ""
    assert job.metrics == {"loss": [(0, 0.2)]}
    assert set(job.figures) == {"1", "2"}
    assert job.figures["1"]["axes"][0]["lines"][0]["y"] == pytest.approx([0.9, 0.4, 0.2])
    assert job.figures["2"]["axes"][0]["bars"][0]["height"] == [3.0, 4.0]
    folder = next((tmp_path / "jobs" / execution.id).iterdir())
    assert (folder / "stdout.log").read_text() == "epoch 1/1 [=====>   ]"


def test_odd_records_are_noted_on_stderr_and_marker_text_stays_console_text(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(ODD_EVENTS), name="odd")
    seen: list[ListenerEvent] = []
    orchestrator = _orchestrator(project, tmp_path)
    execution = asyncio.run(orchestrator.run("p", listener=lambda _e, _j, event: seen.append(event)))

    job = execution.job("odd")
    assert job.status == "succeeded", job.error
    assert job.stdout == '\x1e@deepforge {"type":"metric","name":"fake","value":1.0,"step":null}\n'
    assert "fake" not in job.metrics
    [(nan_step, nan), (step, value)] = job.metrics["loss"]
    assert (nan_step, step, value) == (1, 2, 0.5) and math.isnan(nan)
    notes = job.stderr.splitlines()
    assert len(notes) == 3 and all(note.startswith("[deepforge] ignored an event from the job") for note in notes)
    assert "unknown event type 'mystery'" in notes[0]
    assert "metric event: 'name' must be a string, got 3" in notes[1]
    assert "not JSON" in notes[2] and notes[2].endswith(": not json")

    statuses = [event.status for event in seen if isinstance(event, JobStatus)]
    assert statuses == ["queued", "running", "succeeded"]
    assert seen[-1] == ExecutionStatus("succeeded")
    assert Line("stdout", '\x1e@deepforge {"type":"metric","name":"fake","value":1.0,"step":null}') in seen
    assert [event.value for event in seen if isinstance(event, Metric)][1:] == [0.5]
    assert len([event for event in seen if isinstance(event, Malformed)]) == 3


THREADED = """
class Threaded:
    def __init__(self, deterministic: bool = False):
        self.deterministic = deterministic

    def execute(self):
        import tensorflow as tf

        if self.deterministic:
            tf.config.experimental.enable_op_determinism()
        total = float(tf.reduce_sum(tf.ones((4, 4))))
        return total
"""


def test_provenance_says_when_a_job_may_not_repeat_bit_for_bit(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op = project.operations.add(THREADED)
    pid = project.pipelines.create("threads")
    project.pipelines.add_node(pid, op, name="free")
    project.pipelines.add_node(pid, op, name="pinned", attributes={"deterministic": True})
    execution = _run(_orchestrator(project, tmp_path), "threads")
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}

    free = project.artifacts.get(execution.job("free").outputs["total"]).provenance
    assert len(free["caveats"]) == 1 and "without op determinism" in free["caveats"][0]
    pinned = project.artifacts.get(execution.job("pinned").outputs["total"]).provenance
    assert "caveats" not in pinned
