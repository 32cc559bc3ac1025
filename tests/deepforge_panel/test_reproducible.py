"""Reproducible by default: the example's CNN trained twice gives the same bytes, recreating it too, and a third
run takes every result from the cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deepforge_panel.provenance import reify
from deepforge_panel.workspace import Workspace


@pytest.mark.slow
def test_the_example_cnn_gives_the_same_artifacts_every_time(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "home")
    project = workspace.open("digits")
    orchestrator = workspace.orchestrator(project)

    def hashes(execution) -> dict[str, str]:
        assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
        return {
            f"{job.name}.{port}": project.artifacts.get(artifact).hash
            for job in execution.jobs.values()
            for port, artifact in job.outputs.items()
        }

    first = hashes(asyncio.run(orchestrator.run("train-cnn", cache=False)))
    second = hashes(asyncio.run(orchestrator.run("train-cnn", cache=False)))
    assert set(first) == {"load.dataset", "split.train", "split.test", "train.model", "score.accuracy"}
    assert second == first, "the same code, attributes and inputs give the same bytes"
    assert not [a.name for a in project.artifacts.all() if a.provenance.get("caveats")], "nothing said otherwise"

    model = next(a for a in project.artifacts.all() if a.name == "train.model")
    recreated = project.pipelines.get(reify(project, model.id)).name
    again = asyncio.run(orchestrator.run(recreated, cache=False))
    assert hashes(again)["train.model"] == first["train.model"], "its provenance recreates the same model"

    cached = asyncio.run(orchestrator.run("train-cnn"))
    assert {job.status for job in cached.jobs.values()} == {"cached"}
    assert hashes(cached) == first
