"""A project's history acts on the design; the records of what ran are never restored away nor undone."""

from __future__ import annotations

from pathlib import Path

from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project


def _record_a_run(project: Project, pipeline_id: str) -> tuple[str, str]:
    """An execution and an artifact as the orchestrator writes them; their ids."""
    pipeline = project.pipelines.get(pipeline_id)
    attributes = {nid: {} for nid in pipeline.nodes}
    execution_id, _jobs = project.executions.create(pipeline, project.head() or "", attributes, author="ada")
    project.executions.finish(execution_id, "succeeded")
    artifact_id = project.artifacts.add("result", "int", "file:///tmp/result", "h" * 8, 8, {"job": "j"})
    return execution_id, artifact_id


def test_restore_brings_back_the_old_design_and_keeps_executions_and_artifacts(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    source = project.operations.add(SOURCE)
    pid = project.pipelines.create("first")
    project.pipelines.add_node(pid, source, name="source")
    old = project.commit("only first")

    project.pipelines.add_node(pid, project.operations.add(ADD), name="add")
    project.pipelines.create("second")
    execution_id, artifact_id = _record_a_run(project, pid)
    project.commit("after a run")

    project.restore(old)
    assert {p.name for p in project.pipelines.all()} == {"first"}
    assert [n.name for n in project.pipelines.get(pid).nodes.values()] == ["source"]
    assert [op.id for op in project.operations.all()] == [source]
    assert project.executions.ids() == [execution_id] and project.executions.get(execution_id).status == "succeeded"
    assert project.artifacts.ids() == [artifact_id] and project.artifacts.get(artifact_id).name == "result"


def test_undo_never_takes_back_a_record(tmp_path: Path) -> None:
    base = new_project(tmp_path)
    pid = base.pipelines.create("p")
    user = base.as_user("tab-1")
    undo = user.undo_manager()
    user.pipelines.rename(pid, "renamed")
    artifact_id = user.artifacts.add("saved", "int", "file:///tmp/saved", "h" * 8, 8)

    assert undo.undo()
    assert base.pipelines.get(pid).name == "p"
    assert base.artifacts.ids() == [artifact_id], "an artifact is a record: undo leaves it"
