"""Content-addressed job results on real subprocesses: cached jobs, stale nodes, what is never reused."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from deepforge_panel import job_cache
from deepforge_panel.environments import Environment
from deepforge_panel.interface import parse_interface
from deepforge_panel.job_cache import freshness, installed_versions, job_key
from deepforge_panel.project import Project
from deepforge_panel.snapshots import Snapshot
from tests.deepforge_panel.helpers import ADD, new_project
from tests.deepforge_panel.test_orchestrator import _chain, _orchestrator, _run, _value

FLAKY = """
from pathlib import Path


class Flaky:
    def __init__(self, gate: str = ""):
        self.gate = gate

    def execute(self, data):
        if not Path(self.gate).exists():
            raise RuntimeError("the gate is closed")
        result = data
        return result
"""

CLOCK = '''
import time


class Clock:
    """Reads the clock: the same inputs give another result each time."""

    deterministic = False

    def execute(self):
        now = time.time()
        return now
'''


def _statuses(execution) -> dict[str, str]:
    return {job.name: job.status for job in execution.jobs.values()}


def _stale(project: Project, pipeline_id: str) -> dict[str, str]:
    pipeline = project.pipelines.get(pipeline_id)
    return {pipeline.nodes[n].name: state for n, state in freshness(project, pipeline).items()}


def test_a_second_run_takes_every_result_and_makes_no_new_artifact(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = _chain(project)
    assert set(_stale(project, pid).values()) == {"new"}
    orchestrator = _orchestrator(project, tmp_path)
    first = _run(orchestrator, "chain")
    assert set(_statuses(first).values()) == {"succeeded"}
    assert set(_stale(project, pid).values()) == {"fresh"}
    artifacts = len(project.artifacts.all())

    second = _run(orchestrator, "chain")
    assert second.status == "succeeded" and set(_statuses(second).values()) == {"cached"}
    assert len(project.artifacts.all()) == artifacts, "a cached job makes no new artifact"
    made, taken = first.job("d"), second.job("d")
    assert taken.outputs == made.outputs and _value(orchestrator, taken.outputs["total"]) == 10 + 16
    assert taken.cached_from == {"execution": first.id, "job": made.id}
    assert taken.key == made.key and len(taken.key) == 64
    assert f"cached: same code, attributes and inputs as job d of execution {first.id}" in taken.stdout
    assert not (tmp_path / "jobs" / second.id).exists(), "no job folder: nothing ran"

    everything = _run(orchestrator, "chain", cache=False)
    assert set(_statuses(everything).values()) == {"succeeded"}, "run all ignores the results"


def test_an_edit_runs_what_it_changes_and_what_is_below_it_only(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = _chain(project)
    orchestrator = _orchestrator(project, tmp_path)
    _run(orchestrator, "chain")

    project.pipelines.set_attributes(pid, "d", {})  # nothing changed: all fresh
    assert set(_stale(project, pid).values()) == {"fresh"}
    project.pipelines.set_attributes(pid, "c", {"amount": 7})
    assert _stale(project, pid) == {"a": "fresh", "b": "fresh", "c": "stale", "d": "stale"}
    after_attribute = _run(orchestrator, "chain")
    assert _statuses(after_attribute) == {"a": "cached", "b": "cached", "c": "succeeded", "d": "succeeded"}
    assert _value(orchestrator, after_attribute.job("d").outputs["total"]) == 10 + 22

    add = project.pipelines.get(pid).node("b").operation
    project.operations.set_code(add, ADD.replace("data + self.amount", "self.amount + data  # same sum"))
    assert _stale(project, pid) == {"a": "fresh", "b": "stale", "c": "stale", "d": "stale"}
    after_code = _run(orchestrator, "chain")
    assert _statuses(after_code) == {"a": "cached", "b": "succeeded", "c": "succeeded", "d": "cached"}, (
        "b and c ran again and gave the same content, so d's inputs (their hashes) and its key did not change"
    )
    assert set(_stale(project, pid).values()) == {"fresh"}

    project.utilities.add("helpers", "X = 1\n")  # every job could import it
    assert set(_stale(project, pid).values()) == {"stale"}


def test_a_failed_job_is_never_reused_and_a_non_deterministic_one_always_runs(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    clock = project.pipelines.add_node(pid, project.operations.add(CLOCK), name="clock")
    gate = tmp_path / "gate"
    flaky = project.pipelines.add_node(pid, project.operations.add(FLAKY), name="flaky", attributes={"gate": str(gate)})
    project.pipelines.add_edge(pid, clock, "now", flaky, "data")
    assert parse_interface(CLOCK).deterministic is False and parse_interface(FLAKY).deterministic is True
    orchestrator = _orchestrator(project, tmp_path)

    failed = _run(orchestrator, "p")
    assert _statuses(failed) == {"clock": "succeeded", "flaky": "failed"}
    assert _stale(project, pid) == {"clock": "always", "flaky": "new"}
    gate.write_text("open")
    passed = _run(orchestrator, "p")
    assert _statuses(passed) == {"clock": "succeeded", "flaky": "succeeded"}, "the failure was not kept"
    again = _run(orchestrator, "p")
    assert again.job("clock").status == "succeeded", "a non-deterministic job runs every time"
    assert again.job("flaky").status == "succeeded", "its input (the time) changed, so its key did"
    assert _value(orchestrator, again.job("clock").outputs["now"]) > _value(
        orchestrator, passed.job("clock").outputs["now"]
    )


def test_a_result_whose_artifact_is_gone_from_storage_runs_again(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    _chain(project)
    orchestrator = _orchestrator(project, tmp_path)
    first = _run(orchestrator, "chain")
    orchestrator.storage.delete(project.artifacts.get(first.job("c").outputs["result"]).url)
    second = _run(orchestrator, "chain")
    assert _statuses(second) == {"a": "cached", "b": "cached", "c": "succeeded", "d": "cached"}


def test_output_nodes_record_an_artifact_once_for_the_same_content(tmp_path: Path) -> None:
    from deepforge_panel.io_nodes import output_operation

    project = new_project(tmp_path)
    pid = _chain(project)
    saved = project.pipelines.add_node(pid, output_operation(project), name="saved", attributes={"name": "sum"})
    project.pipelines.add_edge(pid, project.pipelines.get(pid).node("d").id, "total", saved, "data")
    orchestrator = _orchestrator(project, tmp_path)
    first = _run(orchestrator, "chain")
    second = _run(orchestrator, "chain")
    assert second.job("saved").status == "cached"
    assert second.job("saved").outputs == first.job("saved").outputs
    assert [a.name for a in project.artifacts.all()].count("sum") == 1


def test_the_command_line_prints_cached_and_can_run_everything(tmp_path: Path) -> None:
    from deepforge_panel.workspace import Workspace

    home = tmp_path / "home"
    project = Workspace(home, examples=False).create("cli")
    _chain(project)
    project.close()
    command = [sys.executable, "-m", "deepforge_panel.cli", "run", "cli", "chain", "--home", str(home)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and "[d] succeeded" in first.stdout, first.stderr
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0 and "[d] cached" in second.stdout and "[d] succeeded" not in second.stdout
    third = subprocess.run([*command, "--no-cache"], capture_output=True, text=True, timeout=120)
    assert third.returncode == 0 and "[d] succeeded" in third.stdout


def test_a_key_covers_python_and_the_installed_versions_of_what_the_code_imports(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    versions = installed_versions({"numpy", "sklearn", "json", "utils"})
    assert versions == {
        "python": platform.python_version(),
        "numpy": importlib.metadata.version("numpy"),
        "scikit-learn": importlib.metadata.version("scikit-learn"),
    }  # the standard library and the project's own modules are not packages

    code = "import numpy\n\nclass Mean:\n    def execute(self, data):\n        result = numpy.mean(data)\n        return result\n"
    plain = Snapshot("mean", "Mean", code, parse_interface(code), {}, {})
    declared = replace(plain, environment=Environment(requirements=("numpy==2.0",)))
    keys = job_key(plain, {}, [], {}), job_key(declared, {}, [], {})
    installed = job_cache._version
    # numpy upgraded in the workbench's interpreter (this machine has one numpy: its version is what changes)
    monkeypatch.setattr(job_cache, "_version", lambda name: "99.0" if name == "numpy" else installed(name))
    assert job_key(plain, {}, [], {}) != keys[0], "the same code and inputs on another numpy run again"
    assert job_key(declared, {}, [], {}) == keys[1], "a job in its own environment does not run on ours"
