"""Input and Output nodes: artifacts into and out of a pipeline, on the real local adapter and file storage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.io_nodes import INPUT, find_artifact, input_operation, is_input, output_operation
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.pipelines import PipelineError
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project


def _orchestrator(project: Project, tmp_path: Path) -> Orchestrator:
    return Orchestrator(project, compute("local"), storage((tmp_path / "artifacts").as_uri()), tmp_path / "jobs")


def _made(project: Project, orchestrator: Orchestrator, value: int) -> str:
    """An artifact made by a one-node pipeline: Source(value)."""
    name = f"make{value}"
    pid = project.pipelines.create(name)
    project.pipelines.add_node(pid, project.operations.add(SOURCE), name="source", attributes={"value": value})
    execution = asyncio.run(orchestrator.run(name))
    assert execution.status == "succeeded", execution.error
    return execution.job("source").outputs["data"]


def _fed(project: Project, artifact: str) -> str:
    """A pipeline: Input(artifact) -> Add(1)."""
    pid = project.pipelines.create("fed")
    source = project.pipelines.add_node(pid, input_operation(project), attributes={"artifact": artifact})
    add = project.pipelines.add_node(pid, project.operations.add(ADD), name="add")
    project.pipelines.add_edge(pid, source, "data", add, "data")
    return pid


def test_an_input_feeds_the_stored_artifact_on_without_running_a_job(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    orchestrator = _orchestrator(project, tmp_path)
    made = _made(project, orchestrator, 41)
    _fed(project, "source.data")

    execution = asyncio.run(orchestrator.run("fed"))

    assert execution.status == "succeeded", execution.error
    fed = execution.job("input")
    assert fed.status == "succeeded" and fed.outputs == {"data": made}
    assert "feeds artifact 'source.data'" in fed.stdout
    assert not (tmp_path / "jobs" / execution.id / fed.id).exists(), "an Input runs no job"
    result = project.artifacts.get(execution.job("add").outputs["result"])
    assert serialization.loads(orchestrator.storage.get(result.url)) == 42
    fed_in = result.provenance["inputs"]["data"]
    assert fed_in["artifact"] == made and fed_in["provenance"]["node"] == "source", "the artifact's own provenance"


def test_an_input_names_the_newest_artifact_of_that_name_or_an_id(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    orchestrator = _orchestrator(project, tmp_path)
    first, second = _made(project, orchestrator, 1), _made(project, orchestrator, 2)
    assert find_artifact(project, "source.data").id == second
    assert find_artifact(project, first).id == first
    _fed(project, first)
    execution = asyncio.run(orchestrator.run("fed"))
    result = project.artifacts.get(execution.job("add").outputs["result"])
    assert serialization.loads(orchestrator.storage.get(result.url)) == 2


@pytest.mark.parametrize(
    ("artifact", "said"),
    [
        ("", "no artifact chosen"),
        ("nothing.here", "no artifact 'nothing.here' in project 'test' (artifacts: none yet)"),
    ],
)
def test_a_run_naming_no_artifact_is_refused_before_anything_runs(tmp_path: Path, artifact: str, said: str) -> None:
    project = new_project(tmp_path)
    _fed(project, artifact)
    before = project.log()
    with pytest.raises(PipelineError, match="input: " + said.replace("(", r"\(").replace(")", r"\)")):
        asyncio.run(_orchestrator(project, tmp_path).run("fed"))
    assert project.executions.all() == [] and project.log() == before


def test_an_artifact_this_storage_cannot_reach_fails_the_input_saying_where_it_is(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    project.artifacts.add("elsewhere", "int", "s3://another-bucket/abc", "0" * 64, 3)
    _fed(project, "elsewhere")
    execution = asyncio.run(_orchestrator(project, tmp_path).run("fed"))
    assert execution.status == "failed"
    assert "s3://another-bucket/abc, not reachable from here" in execution.job("input").error
    assert execution.job("add").status == "skipped"


def test_the_input_operation_is_added_once_and_lookalikes_are_not_inputs(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op = input_operation(project)
    assert input_operation(project) == op and project.operations.get(op).name == INPUT
    assert is_input(project.operations.get(op).interface)
    other = project.operations.add(
        "class Input:\n    def __init__(self, artifact: str = ''):\n        self.artifact = artifact\n"
        "    def execute(self, extra):\n        data = extra\n        return data\n"
    )
    assert not is_input(project.operations.get(other).interface), "an input port: an operation of its own"


def test_an_output_names_what_reached_it_as_an_artifact_of_the_project(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    orchestrator = _orchestrator(project, tmp_path)
    pid = _fed(project, _made(project, orchestrator, 1))
    add = project.pipelines.get(pid).node("add")
    saved = project.pipelines.add_node(pid, output_operation(project), attributes={"name": "two"})
    project.pipelines.add_edge(pid, add.id, "result", saved, "data")
    assert output_operation(project) == project.pipelines.get(pid).nodes[saved].operation, "added once"

    execution = asyncio.run(orchestrator.run("fed"))

    assert execution.status == "succeeded", execution.error
    made = project.artifacts.get(execution.job("add").outputs["result"])
    named = project.artifacts.find("two")
    assert (named.url, named.hash, named.type) == (made.url, made.hash, made.type), "the same stored data"
    assert named.provenance == made.provenance and named.provenance["node"] == "add"
    assert execution.job("output").outputs == {"data": named.id}
    assert not (tmp_path / "jobs" / execution.id / execution.job("output").id).exists(), "no job runs"


def test_an_output_with_a_name_no_artifact_may_have_is_refused_before_the_run(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    source = project.pipelines.add_node(pid, project.operations.add(SOURCE), name="source")
    saved = project.pipelines.add_node(pid, output_operation(project), attributes={"name": "../escape"})
    project.pipelines.add_edge(pid, source, "data", saved, "data")
    with pytest.raises(PipelineError, match="output: the artifact's name is not allowed"):
        asyncio.run(_orchestrator(project, tmp_path).run("p"))
    unconnected = project.pipelines.create("q")
    project.pipelines.add_node(unconnected, output_operation(project))
    with pytest.raises(PipelineError, match="required input 'data' is not connected"):
        asyncio.run(_orchestrator(project, tmp_path).run("q"))
    assert project.executions.all() == []
