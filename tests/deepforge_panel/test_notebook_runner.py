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
