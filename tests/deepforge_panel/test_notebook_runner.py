"""Running notebooks: outputs in the document, stale cells, ancestors run first, auto-run of dependents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deepforge_panel.adapters.compute.local import LocalCompute
from deepforge_panel.adapters.testing.loop_thread import LoopThread
from deepforge_panel.notebook_runner import NotebookRunner
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import new_project


@pytest.fixture(scope="module")
def aio() -> Iterator[LoopThread]:
    with LoopThread() as loop:
        yield loop


@pytest.fixture
def setup(aio: LoopThread, tmp_path: Path) -> Iterator[tuple[Project, str, list[str], NotebookRunner]]:
    project = new_project(tmp_path)
    cells = [("code", "a = 2"), ("markdown", "# notes"), ("code", "b = a * 10\nprint('b is', b)"), ("code", "b + 1")]
    notebook = project.notebooks.create("explore", cells=cells)
    ids = [cell.id for cell in project.notebooks.get(notebook).cells]
    adapter = LocalCompute(max_workers=2)
    runner = NotebookRunner(project, notebook, adapter, tmp_path / "sessions")
    yield project, notebook, ids, runner
    aio.run(runner.shutdown())
    project.close()


def stale(aio: LoopThread, runner: NotebookRunner) -> set[str]:
    """The runner's stale cells, read on its loop (the thread that runs its cells)."""

    async def read() -> set[str]:
        return runner.stale()

    return aio.run(read())


def _result(project: Project, cell: str) -> str | None:
    results = [o["text"] for o in project.notebooks.run_of(cell).outputs if o["type"] == "result"]
    return results[-1] if results else None


def test_running_a_cell_runs_its_stale_ancestors_first_and_writes_outputs(
    aio: LoopThread, setup: tuple[Project, str, list[str], NotebookRunner]
) -> None:
    project, _, (a, _md, b, c), runner = setup
    assert aio.run(runner.run_cell(c)) == "done"
    assert _result(project, c) == "21"
    runs = {cell: project.notebooks.run_of(cell) for cell in (a, b, c)}
    assert [runs[cell].status for cell in (a, b, c)] == ["done", "done", "done"]
    assert runs[a].count < runs[b].count < runs[c].count, "ancestors ran first, in dependency order"
    assert {"type": "stream", "name": "stdout", "text": "b is 20\n"} in runs[b].outputs
    assert stale(aio, runner) == set()


def test_editing_a_cell_makes_it_and_its_dependents_stale_and_auto_run_reruns_them(
    aio: LoopThread, setup: tuple[Project, str, list[str], NotebookRunner]
) -> None:
    project, notebook, (a, _md, b, c), runner = setup
    aio.run(runner.run_all())
    project.notebooks.set_code(notebook, a, "a = 5")
    assert stale(aio, runner) == {a, b, c}, "the edited cell, and what depends on it"
    assert aio.run(runner.run_cell(a)) == "done"
    assert stale(aio, runner) == {b, c}, "what depends on it is stale now"
    assert _result(project, c) == "21", "left as it was: the notebook only marks"
    project.notebooks.set_auto_run(notebook, True)
    project.notebooks.set_code(notebook, a, "a = 7")
    assert aio.run(runner.run_cell(a)) == "done"
    assert stale(aio, runner) == set() and _result(project, c) == "71"
    counts = [project.notebooks.run_of(cell).count for cell in (a, b, c)]
    assert counts == sorted(counts), "dependents ran after, in order"


def test_a_failing_cell_stops_the_run_and_says_why(
    aio: LoopThread, setup: tuple[Project, str, list[str], NotebookRunner]
) -> None:
    project, notebook, (a, _md, b, c), runner = setup
    project.notebooks.set_code(notebook, b, "b = a * undefined_name")
    done = aio.run(runner.run_all())
    assert done == [(a, "done"), (b, "error")]
    error = next(o for o in project.notebooks.run_of(b).outputs if o["type"] == "error")
    assert error["ename"] == "NameError" and "line 1" in error["traceback"]
    assert project.notebooks.run_of(c).status == "idle"
    assert stale(aio, runner) >= {b, c}


def test_a_restart_makes_every_cell_stale(
    aio: LoopThread, setup: tuple[Project, str, list[str], NotebookRunner]
) -> None:
    _, _, (a, _md, b, c), runner = setup
    aio.run(runner.run_all())
    aio.run(runner.restart())
    assert stale(aio, runner) == {a, b, c}
    assert aio.run(runner.run_cell(c)) == "done", "its ancestors ran again in the fresh session"


@pytest.fixture
def with_storage(aio: LoopThread, tmp_path: Path) -> Iterator[tuple[Project, str, NotebookRunner]]:
    from deepforge_panel.adapters.storage import storage

    project = new_project(tmp_path)
    cells = [
        ("code", "import numpy as np\nraw = np.arange(6)"),
        ("code", "clean = raw * 2\nartifacts.save(clean, 'clean_data')"),
        ("code", "again = artifacts.load('clean_data')\nint(again.sum())"),
    ]
    notebook = project.notebooks.create("io", cells=cells)
    store = storage((tmp_path / "artifacts").as_uri())
    runner = NotebookRunner(project, notebook, LocalCompute(max_workers=2), tmp_path / "sessions", storage=store)
    yield project, notebook, runner
    aio.run(runner.shutdown())
    project.close()


def test_a_saved_artifact_records_the_cells_that_made_it_and_loads_back(
    aio: LoopThread, with_storage: tuple[Project, str, NotebookRunner]
) -> None:
    project, notebook, runner = with_storage
    assert [status for _, status in aio.run(runner.run_all())] == ["done", "done", "done"]
    first, second, third = project.notebooks.get(notebook).cells
    (saved,) = project.artifacts.all()
    assert saved.name == "clean_data" and saved.type.startswith("numpy")
    provenance = saved.provenance
    assert provenance is not None and provenance["kind"] == "ImplicitOperation"
    assert [c["id"] for c in provenance["cells"]] == [first.id, second.id], "the chain of cells, in order"
    assert provenance["cells"][0]["code"] == first.code and provenance["adapter"] == "local"
    assert any(
        "saved artifact 'clean_data'" in o["text"]
        for o in project.notebooks.run_of(second.id).outputs
        if o["type"] == "note"
    )
    assert _result(project, third.id) == "30", "loaded back through the storage"


def test_loading_what_is_missing_or_unreachable_is_a_clear_error_on_the_cell(
    aio: LoopThread, with_storage: tuple[Project, str, NotebookRunner]
) -> None:
    project, notebook, runner = with_storage
    cell = project.notebooks.add_cell(notebook, code="artifacts.load('nope')")
    assert aio.run(runner.run_cell(cell)) == "error"
    error = next(o for o in project.notebooks.run_of(cell).outputs if o["type"] == "error")
    assert error["ename"] == "ArtifactError" and "no artifact 'nope'" in error["evalue"]
    project.artifacts.add("far", "bytes", "file:///elsewhere/peer/far", "0" * 64, 3, None)
    project.notebooks.set_code(notebook, cell, "artifacts.load('far')")
    assert aio.run(runner.run_cell(cell)) == "error"
    error = next(o for o in project.notebooks.run_of(cell).outputs if o["type"] == "error")
    assert "not reachable from here" in error["evalue"]
    assert aio.run(runner.run_cell(cell)) == "error" and runner.status == "idle", "the session goes on"


def test_cells_import_the_projects_utility_modules_as_jobs_do(
    aio: LoopThread, setup: tuple[Project, str, list[str], NotebookRunner]
) -> None:
    project, notebook, _ids, runner = setup
    project.utilities.add("helpers", "def twice(x):\n    return 2 * x\n")
    cell = project.notebooks.add_cell(notebook, code="from utils.helpers import twice\ntwice(21)")
    assert aio.run(runner.run_cell(cell)) == "done"
    assert _result(project, cell) == "42"
