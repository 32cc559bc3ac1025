"""The session's run: a pipeline that cannot run is refused at once, in the session's message, naming the culprit."""

from __future__ import annotations

import asyncio

from deepforge_panel.components.session import Session
from deepforge_panel.libraries.keras.architectures import ArchitecturesView


def _nothing_happens(session: Session, pipeline: str) -> str:
    """Run ``pipeline``; assert it was refused before any commit or execution; return the message."""
    project = session.project
    commits, executions = len(project.log()), len(project.map("executions"))

    async def run() -> object:
        return session.run(pipeline)

    assert asyncio.run(run()) is None
    assert len(project.log()) == commits and len(project.map("executions")) == executions
    assert session.execution is None
    return session.message


def test_an_operation_with_a_code_error_is_refused_naming_node_and_operation(digits_session: Session) -> None:
    project = digits_session.project
    train = project.pipelines.find("train-cnn").node("train")
    project.operations.set_code(train.operation, "class TrainArchitecture:\n    def execute(self\n")
    message = _nothing_happens(digits_session, "train-cnn")
    assert "train: operation TrainArchitecture does not parse" in message


def test_an_architecture_that_cannot_be_built_is_refused_naming_node_reference_and_layer(
    digits_session: Session,
) -> None:
    project = digits_session.project
    views = ArchitecturesView(project)
    cnn = next(a for a in views.all() if a.name == "digits-cnn")
    views.add_layer(cnn.id, "Dense", {"units": 3}, name="stray")
    message = _nothing_happens(digits_session, "train-cnn")
    assert "pipeline 'train-cnn' cannot run" in message
    assert "train: reference 'architecture': keras resource 'digits-cnn' cannot be built" in message
    assert "stray (Dense) has no input connected" in message


def test_a_run_on_a_branch_page_runs_the_branch_and_is_recorded_there(digits_session: Session) -> None:
    hub = digits_session.hub
    main = hub.project("digits")
    main.branch("experiment")
    on_branch = hub.project("digits", "experiment").as_user("me")
    session = Session(hub=hub, project=on_branch)
    train = next(p for p in on_branch.pipelines.all() if p.name == "train")
    with on_branch.transaction():
        on_branch.pipelines.rename(train.id, "train-on-branch")

    async def run() -> object:
        execution_id = session.run(train.id)
        assert execution_id is not None, session.message
        assert session.cancel(execution_id), "the branch page cancels its own run"
        await session.orchestrator().wait(execution_id)
        return execution_id

    execution_id = asyncio.run(run())
    assert on_branch.executions.get(str(execution_id)).pipeline_name == "train-on-branch"
    assert str(execution_id) not in main.executions.ids(), "main's record holds no run of the branch"
    assert session.orchestrator() is hub.orchestrator("digits", "experiment") is not hub.orchestrator("digits")
