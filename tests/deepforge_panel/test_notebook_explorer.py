"""The data explorer: an embedding computed in a real session, drawn from the document, a selection saved."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.adapters.testing.loop_thread import LoopThread
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.jobruntime.deepforge.explore import Explorer, ExplorerError, take
from deepforge_panel.notebook_runner import NotebookRunner
from deepforge_panel.notebooks import NotebookError
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project
from deepforge_panel.provenance import reify
from tests.deepforge_panel.helpers import new_project

CELLS = [
    (
        "code",
        "from sklearn.datasets import load_digits\ndigits = load_digits()\nimages, target = digits.data[:300], digits.target[:300]",
    ),
    ("code", "guess = (target + (target == 7)) % 10  # a classifier that mistakes every 7 for an 8"),
    ("code", "explorer.show(images, labels=target, predictions=guess, name='digits')"),
]


@pytest.fixture(scope="module")
def aio() -> Iterator[LoopThread]:
    with LoopThread() as loop:
        yield loop


@pytest.fixture
def explored(aio: LoopThread, tmp_path: Path) -> Iterator[tuple[Project, str, NotebookRunner, list[str]]]:
    project = new_project(tmp_path)
    notebook = project.notebooks.create("explore", cells=CELLS)
    store = storage((tmp_path / "artifacts").as_uri())
    runner = NotebookRunner(project, notebook, LocalCompute(max_workers=2), tmp_path / "sessions", storage=store)
    ids = [cell.id for cell in project.notebooks.get(notebook).cells]
    yield project, notebook, runner, ids
    aio.run(runner.shutdown())
    project.close()


def test_an_embedding_is_computed_in_the_session_and_kept_in_the_document(
    aio: LoopThread, explored: tuple[Project, str, NotebookRunner, list[str]]
) -> None:
    project, _notebook, runner, ids = explored
    assert {status for _, status in aio.run(runner.run_all())} == {"done"}
    (shown,) = [o for o in project.notebooks.run_of(ids[2]).outputs if o["type"] == "embedding"]
    assert shown["name"] == "digits" and shown["method"] == "t-SNE"
    points = shown["points"]
    assert len(points["x"]) == len(points["y"]) == 300
    columns = points["columns"]
    assert columns["label"][:3] == ["0", "1", "2"] and set(columns["error"]) == {"right", "wrong"}
    wrong = [i for i, e in enumerate(columns["error"]) if e == "wrong"]
    assert wrong and all(columns["label"][i] == "7" and columns["prediction"][i] == "8" for i in wrong)
    x, y = np.array(points["x"]), np.array(points["y"])
    same = np.array(columns["label"]) == "0"
    spread = np.hypot(x - x.mean(), y - y.mean()).mean()
    zeros = np.hypot(x[same] - x[same].mean(), y[same] - y[same].mean()).mean()
    assert zeros < spread / 2, "t-SNE keeps a digit's images together"


def test_a_selection_is_saved_in_the_session_with_provenance_and_recreates(
    aio: LoopThread, explored: tuple[Project, str, NotebookRunner, list[str]], tmp_path: Path
) -> None:
    project, _notebook, runner, ids = explored
    aio.run(runner.run_all())
    rows = [5, 1, 3, 3]
    assert aio.run(runner.save_selection(ids[2], "digits", rows, "picked")) == "done"
    picked = project.artifacts.find("picked")
    stored = serialization.loads(runner.storage.get(picked.url))  # type: ignore[union-attr]
    from sklearn.datasets import load_digits

    assert np.array_equal(stored, load_digits().data[[1, 3, 5]]), "the selected rows, once each, in order"
    cells = picked.provenance["cells"]  # type: ignore[index]
    assert [c["id"] for c in cells] == [ids[0], ids[1], ids[2], "selection"]
    assert cells[-1]["code"] == "artifacts.save(explorer.take('digits', [1, 3, 5]), 'picked')"
    notes = [o["text"] for o in project.notebooks.run_of(ids[2]).outputs if o["type"] == "note"]
    assert any("saved artifact 'picked'" in note for note in notes), "said under the explorer's cell"

    pipeline = project.pipelines.get(reify(project, picked.id))
    orchestrator = Orchestrator(project, LocalCompute(max_workers=2), runner.storage, tmp_path / "jobs")  # type: ignore[arg-type]
    execution = aio.run(orchestrator.run(pipeline.name))
    assert execution.status == "succeeded", execution.error
    (job,) = execution.jobs.values()
    assert project.artifacts.get(next(iter(job.outputs.values()))).hash == picked.hash


def test_a_bad_selection_is_refused_or_said_under_the_cell(
    aio: LoopThread, explored: tuple[Project, str, NotebookRunner, list[str]]
) -> None:
    project, _notebook, runner, ids = explored
    with pytest.raises(NotebookError, match=re.escape("artifact name '../x' is not allowed")):
        aio.run(runner.save_selection(ids[2], "digits", [1], "../x"))
    assert aio.run(runner.save_selection(ids[2], "digits", [1], "early")) == "error", "the cell never ran"
    assert "run the cell again first" in project.notebooks.run_of(ids[2]).outputs[-1]["text"]
    aio.run(runner.run_all())
    assert aio.run(runner.save_selection(ids[2], "nothing", [1], "x")) == "error"
    error = project.notebooks.run_of(ids[2]).outputs[-1]
    assert error["type"] == "error" and "no data shown as 'nothing'" in error["evalue"]
    assert project.artifacts.all() == [] and runner.status == "idle"


def test_rows_of_tables_and_arrays_and_what_the_explorer_refuses() -> None:
    table = pd.DataFrame({"a": [1.0, 2.0, 3.0], "kind": ["x", "y", "x"]})
    assert take(table, [2, 0])["kind"].tolist() == ["x", "x"]
    assert take([[1, 2], [3, 4]], [1]).tolist() == [[3, 4]]
    shown: list[dict] = []
    explorer = Explorer(shown.append)
    explorer.show(table, labels="kind", method="pca", name="t")
    assert shown[0]["method"] == "PCA" and shown[0]["points"]["columns"] == {"label": ["x", "y", "x"]}
    with pytest.raises(ExplorerError, match="'species' is not a column"):
        explorer.show(table, labels="species")
    with pytest.raises(ExplorerError, match="labels has 2 values for 3 points"):
        explorer.show(table, labels=[1, 2])
    with pytest.raises(ExplorerError, match="at most 5000 points, not 5001"):
        explorer.show(np.zeros((5001, 2)))
    with pytest.raises(ExplorerError, match="method is one of"):
        explorer.show(table, method="magic")
    with pytest.raises(ExplorerError, match="no data shown as 'u'"):
        explorer.take("u", [0])


def test_a_data_set_is_shown_by_its_x_labelled_by_its_y_and_its_rows_taken_whole() -> None:
    data = {"x": np.arange(12.0).reshape(6, 2), "y": np.array([0, 1, 0, 1, 0, 1]), "classes": ["even", "odd"]}
    shown: list[dict] = []
    Explorer(shown.append).show(data, method="pca", name="set")
    assert shown[0]["points"]["columns"] == {"label": ["0", "1", "0", "1", "0", "1"]}
    picked = take(data, [4, 1])
    assert picked["x"].tolist() == [[8.0, 9.0], [2.0, 3.0]] and picked["y"].tolist() == [0, 1]
    assert picked["classes"] == ["even", "odd"], "what has no row per point is kept whole"
