"""A notebook's artifact recreated as a pipeline: its chain of cells as one operation, fed by Input nodes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.adapters.testing.loop_thread import LoopThread
from deepforge_panel.implicit import IMPLICIT, loaded_inputs, operation_code
from deepforge_panel.interface import parse_interface
from deepforge_panel.io_nodes import is_input
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.notebook_runner import NotebookRunner
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.provenance import reify
from tests.deepforge_panel.helpers import new_project

CELLS = [
    ("code", "import numpy as np\nraw = np.arange(6)\nartifacts.save(raw, 'raw')"),
    ("code", "base = artifacts.load('raw')"),
    ("markdown", "Scale it, with a helper of our own."),
    ("code", "def double(x):\n    return x * 2\n\nscaled = double(base) + 1\nprint('scaled', scaled)"),
    ("code", "artifacts.save(scaled, 'scaled')"),
    ("code", "unrelated = 'not part of the chain'"),
]


@pytest.fixture(scope="module")
def aio() -> Iterator[LoopThread]:
    with LoopThread() as loop:
        yield loop


def test_recreating_a_notebook_artifact_runs_its_cells_as_a_pipeline_and_gives_the_same_content(
    aio: LoopThread, tmp_path: Path
) -> None:
    project = new_project(tmp_path)
    notebook = project.notebooks.create("scaling", cells=CELLS)
    store = storage((tmp_path / "artifacts").as_uri())
    adapter = LocalCompute(max_workers=2)
    runner = NotebookRunner(project, notebook, adapter, tmp_path / "sessions", storage=store)
    try:
        assert {status for _, status in aio.run(runner.run_all())} == {"done"}
    finally:
        aio.run(runner.shutdown())
    raw = project.artifacts.find("raw")
    scaled = project.artifacts.find("scaled")
    assert scaled.provenance is not None and scaled.provenance["kind"] == IMPLICIT
    assert [item["artifact"] for item in scaled.provenance["loaded"]] == [raw.id]

    pipeline = project.pipelines.get(reify(project, scaled.id))

    kinds = {n.name: project.operations.get(n.operation) for n in pipeline.nodes.values()}
    (fed,) = [name for name, op in kinds.items() if is_input(op.interface)]
    assert pipeline.node(fed).attributes == {"artifact": raw.id}, "fed the very artifact the notebook loaded"
    (made,) = [op for op in kinds.values() if not is_input(op.interface)]
    assert "unrelated" not in made.code and "np.arange" not in made.code, "only the chain of cells that made it"
    assert len(pipeline.edges) == 1

    orchestrator = Orchestrator(project, adapter, store, tmp_path / "jobs")
    execution = aio.run(orchestrator.run(pipeline.name))
    assert execution.status == "succeeded", execution.error
    (job,) = [j for j in execution.jobs.values() if j.name != fed]
    assert "scaled [ 1  3  5  7  9 11]" in job.stdout, "the cells' own output, in the job's console"
    again = project.artifacts.get(next(iter(job.outputs.values())))
    assert again.hash == scaled.hash, "the same content as the notebook saved"
    assert list(serialization.loads(store.get(again.url))) == [1, 3, 5, 7, 9, 11]
    project.close()


def test_the_operation_reads_as_plain_code_whatever_the_names() -> None:
    record = {
        "kind": IMPLICIT,
        "notebook": "my notebook",
        "output": "class",
        "cells": [
            {
                "id": "c1",
                "code": "x = artifacts.load('digits.data') + artifacts.load('a123')\nartifacts.save(x, 'class')",
            }
        ],
        "loaded": [
            {"artifact": "a1", "name": "digits.data", "hash": "h", "url": "u"},
            {"artifact": "a123", "name": "1st", "hash": "h", "url": "u"},
            {"artifact": "a1", "name": "digits.data", "hash": "h", "url": "u"},
        ],
        "adapter": "local",
    }
    assert [port for port, _ in loaded_inputs(record)] == ["digits_data", "data_1st"], "one input per artifact"
    code = operation_code(record)
    interface = parse_interface(code)
    assert [p.name for p in interface.inputs] == ["digits_data", "data_1st"]
    assert [p.name for p in interface.outputs] == ["result_class"]
    namespace: dict[str, object] = {}
    exec(compile(code, "recreated", "exec"), namespace)  # runs as written, outside the workbench
    operation = namespace[interface.class_name]()  # type: ignore[operator]
    assert operation.execute(digits_data=40, data_1st=2) == 42
    with pytest.raises(ValueError, match="not an ImplicitOperation"):
        operation_code({"kind": "ExecutedJob"})
