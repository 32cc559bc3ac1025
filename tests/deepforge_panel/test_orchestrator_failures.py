"""Whatever goes wrong while a run is driven, its execution ends in a final state that says why.

Real subprocesses on the local adapter and real files; the failures are provoked for real (a storage
adapter that raises, a workdir that cannot hold folders, feedback the document cannot store).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.adapters.storage.fsspec_storage import FsspecStorage
from deepforge_panel.events import ExecutionStatus, JobStatus, ListenerEvent
from deepforge_panel.executions import FINAL
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.pipelines import PipelineError
from deepforge_panel.project import Project
from deepforge_panel.runners import current_runner
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project, start_sleepy_run

NO_FINAL_NEWLINE = """
class Done:
    def execute(self):
        print("done", end="")
        result = 1
        return result
"""

HUGE_FEEDBACK = """
from deepforge import feedback, metric, progress

class Huge:
    def execute(self):
        progress(1, 10**23, "epoch")
        metric("loss", 0.5, 10**23)
        feedback.emit({"type": "metric", "name": "big", "value": 10**30, "step": 1})
        progress(2, 3, "epoch")
        result = 1
        return result
"""

NAN_METRIC = """
from deepforge import metric

class Nan:
    def execute(self):
        metric("loss", float("nan"), 0)
        metric("loss", float("inf"), 1)
        result = 1
        return result
"""


class UnreachableStorage(FsspecStorage):
    """A storage adapter that cannot tell jobs how to reach it: an error no job folder can survive."""

    def job_config(self) -> dict[str, Any]:
        raise RuntimeError("storage credentials expired")


def _orchestrator(project: Project, tmp_path: Path, **kwargs: Any) -> Orchestrator:
    store = kwargs.pop("store", None) or storage((tmp_path / "artifacts").as_uri())
    workdir = kwargs.pop("workdir", tmp_path / "jobs")
    return Orchestrator(project, compute("local", max_workers=2), store, workdir, **kwargs)


def _chain(project: Project) -> None:
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, source, name="src")
    project.pipelines.add_node(pid, add, name="add")
    project.pipelines.add_node(pid, add, name="again")
    project.pipelines.add_edge(pid, "src", "data", "add", "data")
    project.pipelines.add_edge(pid, "add", "result", "again", "data")


def _single(project: Project, code: str, name: str = "job") -> None:
    project.pipelines.add_node(project.pipelines.create("p"), project.operations.add(code), name=name)


def _run(orchestrator: Orchestrator, overrides: dict[str, Any] | None = None, listener: Any = None):
    async def go():
        return await asyncio.wait_for(orchestrator.run("p", overrides, listener=listener), 60)

    return asyncio.run(go())


# -- defect 5: output without a final newline ----------------------------------------------------
def test_output_without_a_final_newline_before_return_succeeds(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _single(project, NO_FINAL_NEWLINE)
    execution = _run(_orchestrator(project, tmp_path))
    job = execution.job("job")
    assert execution.status == "succeeded" and job.status == "succeeded", job.error
    assert job.stdout == "done" and set(job.outputs) == {"result"}


SHOUT = """
import sys

class Shout:
    def __init__(self, mib: int = 0):
        self.mib = mib

    def execute(self):
        chunk = "x" * (1 << 20)
        for _ in range(self.mib):
            sys.stdout.write(chunk)
        sys.stdout.flush()
        done = self.mib
        return done
"""

PEAK_RSS = """
import asyncio, json, resource, sys
from pathlib import Path
from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.crdt import Home
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project

root, mib, code = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
project = Project.open(Home(root / "home").create("loud"))
op = project.operations.add(code)
project.pipelines.add_node(project.pipelines.create("p"), op, name="shout")
orchestrator = Orchestrator(project, compute("local"), storage((root / "artifacts").as_uri()), root / "jobs")
warm = asyncio.run(orchestrator.run("p", {"shout": {"mib": 1}}))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
execution = asyncio.run(orchestrator.run("p", {"shout": {"mib": mib}}))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
job = execution.job("shout")
log = next((root / "jobs" / execution.id).iterdir()) / "stdout.log"
print(json.dumps({"status": job.status, "error": job.error, "grew_kib": after - before,
                  "console": len(job.stdout), "log": log.stat().st_size}))
"""


def test_reading_a_long_line_without_newline_takes_bounded_memory(tmp_path: Path) -> None:
    """64 MiB printed without a newline: the driving process grows by far less than the line, and the
    console in the document is capped while the job folder's log keeps everything."""
    import json

    from deepforge_panel.orchestrator import MAX_CONSOLE

    mib = 64
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(tmp_path), str(mib), SHOUT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == "succeeded", report["error"]
    assert report["log"] == mib << 20 and MAX_CONSOLE <= report["console"] < MAX_CONSOLE + 100
    assert report["grew_kib"] < (mib << 10) // 2, f"the driver grew by {report['grew_kib'] >> 10} MiB"


# -- defect 2: feedback the document cannot hold --------------------------------------------------
def test_a_nan_metric_is_recorded_and_the_execution_ends(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _single(project, NAN_METRIC)
    execution = _run(_orchestrator(project, tmp_path))
    assert execution.status == "succeeded", execution.job("job").error
    [(_, nan), (_, inf)] = execution.job("job").metrics["loss"]
    assert nan != nan and inf != inf, "non-finite values arrive as NaN"


def test_integers_too_large_for_the_document_never_leave_the_execution_running(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _single(project, HUGE_FEEDBACK)
    seen: list[ListenerEvent] = []
    execution = _run(_orchestrator(project, tmp_path), listener=lambda _e, _j, event: seen.append(event))
    job = execution.job("job")
    assert execution.status == "succeeded" and job.status == "succeeded", job.error
    assert job.progress == {"current": 2, "total": 3, "label": "epoch"}
    assert job.metrics["big"] == [(1, 1e30)], "a huge value is a float: it fits"
    assert "loss" not in job.metrics
    notes = job.stderr.splitlines()
    assert len(notes) == 2 and all("ignored an event from the job" in note for note in notes)
    assert "'total' must be an integer" in notes[0] and "'step' must be an integer" in notes[1]
    assert seen[-1] == ExecutionStatus("succeeded")


def test_attributes_the_document_cannot_hold_are_refused_before_the_run(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    orchestrator = _orchestrator(project, tmp_path)
    commits = len(project.log())
    with pytest.raises(PipelineError, match=r"src.value = 99999999999999999999999: must be a whole number between"):
        _run(orchestrator, {"src": {"value": 99999999999999999999999}})
    with pytest.raises(PipelineError, match=r"add.amount = True: must be a whole number, not a boolean"):
        _run(orchestrator, {"add": {"amount": True}})
    assert len(project.log()) == commits and project.executions.ids() == []


# -- defect 3: crashes are failures ---------------------------------------------------------------
def _assert_failed_without_pending(execution: Any, cause: str) -> None:
    assert execution.status == "failed"
    assert cause in execution.error, execution.error
    assert all(job.status in FINAL for job in execution.jobs.values()), {
        j.name: j.status for j in execution.jobs.values()
    }
    assert execution.ended is not None


def test_a_storage_adapter_that_raises_fails_the_execution_naming_the_cause(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    broken = UnreachableStorage((tmp_path / "artifacts").as_uri())
    seen: list[ListenerEvent] = []
    execution = _run(_orchestrator(project, tmp_path, store=broken), listener=lambda _e, _j, ev: seen.append(ev))
    _assert_failed_without_pending(execution, "storage credentials expired")
    src = execution.job("src")
    assert src.status == "failed" and "RuntimeError: storage credentials expired" in src.error
    assert {execution.job(n).status for n in ("add", "again")} == {"skipped"}
    assert JobStatus("failed", src.error) in seen and seen[-1] == ExecutionStatus("failed")


def test_a_workdir_that_cannot_hold_job_folders_fails_the_execution(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the jobs folder should be")
    execution = _run(_orchestrator(project, tmp_path, workdir=blocker / "jobs"))
    _assert_failed_without_pending(execution, "src")
    assert "NotADirectoryError" in execution.job("src").error or "FileExistsError" in execution.job("src").error


def test_a_listener_that_raises_does_not_stop_the_run(tmp_path: Path) -> None:
    """A listener that raises (a CLI printing into a closed pipe) does not stop the run from being recorded."""
    project = new_project(tmp_path)
    _chain(project)

    def listener(_execution: str, _job: str, event: ListenerEvent) -> None:
        raise BrokenPipeError("stdout is gone")

    execution = _run(_orchestrator(project, tmp_path), listener=listener)
    assert execution.status == "succeeded", "a display that fails is no reason to fail the run"
    assert all(job.status == "succeeded" for job in execution.jobs.values())


def test_an_execution_records_why_it_failed_or_was_cancelled(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _single(project, "class Fail:\n    def execute(self):\n        raise ValueError('nope')\n", name="fail")
    execution = _run(_orchestrator(project, tmp_path))
    assert execution.status == "failed" and execution.error == "job fail failed: ValueError: nope"

    other = new_project(tmp_path, "other")
    _single(other, "import os\nclass Quit:\n    def execute(self):\n        os._exit(3)\n", name="quit")
    execution = _run(_orchestrator(other, tmp_path))
    assert execution.error == "job quit failed: job quit exited with code 3"


# -- defect 2: a driver that is gone ----------------------------------------------------------------
def _record_running(project: Project, runner: str) -> str:
    """An execution left ``running`` by ``runner``, as a killed process leaves it."""
    pipeline = project.pipelines.find("p")
    execution_id, _ = project.executions.create(pipeline, "c0", {n: {} for n in pipeline.nodes}, "ada", runner=runner)
    return execution_id


def test_executions_whose_driver_is_gone_are_settled_and_others_are_not(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        host = current_runner().split(":")[0]
        start = Path(f"/proc/{alive.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        ids = {
            "dead": _record_running(project, f"{host}:{dead.pid}:1"),
            "reused pid": _record_running(project, f"{host}:{alive.pid}:{int(start) + 1}"),
            "alive": _record_running(project, f"{host}:{alive.pid}:{start}"),
            "alive, old format": _record_running(project, f"{host}:{alive.pid}"),
            "other host": _record_running(project, f"elsewhere.example:{dead.pid}:1"),
            "this process": _record_running(project, current_runner()),
        }
        settled = project.executions.recover()
        assert sorted(settled) == sorted([ids["dead"], ids["reused pid"]])
        for what, execution_id in ids.items():
            execution = project.executions.get(execution_id)
            if execution_id in settled:
                assert execution.status == "failed" and "stopped" in execution.error, what
                assert {j.status for j in execution.jobs.values()} == {"cancelled"}, what
            else:
                assert execution.status == "running", what
        assert project.executions.recover() == []
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_cli_run_cancels_the_execution_cleanly(tmp_path: Path, signum: int) -> None:
    from deepforge_panel.workspace import Workspace

    home, runner, job_pid = start_sleepy_run(tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    runner.send_signal(signum)
    out, err = runner.communicate(timeout=30)
    assert runner.returncode == 128 + signum, out + err
    assert "Traceback" not in err, err
    assert "[sleep] cancelled" in out and "cancelled" in out.splitlines()[-1], out
    with pytest.raises(ProcessLookupError):
        os.kill(job_pid, 0)
    execution = Workspace(home, examples=False).open("sleepy").executions.all()[-1]
    assert execution.status == "cancelled" and execution.job("sleep").status == "cancelled"
