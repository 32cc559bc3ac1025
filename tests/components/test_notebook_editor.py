"""The Notebooks tab on a real hub: cells run in a real local session, outputs rendered inert, marks follow."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from bokeh.models import LayoutDOM

from deepforge_panel.components.notebook_editor import CellView, NotebookEditor, render_output
from deepforge_panel.components.session import Session
from deepforge_panel.hub import ProjectHub
from deepforge_panel.workspace import Workspace


@pytest.fixture
def editor(hub: ProjectHub, runner: asyncio.Runner) -> Iterator[NotebookEditor]:
    session = Session(hub=hub, project=hub.project("digits").as_user("me"), tab="Notebooks")
    component = NotebookEditor(project=session.project, session=session)
    yield component
    component.dispose()
    runner.run(hub.close())


def _cells(editor: NotebookEditor) -> list[str]:
    assert editor.notebook is not None
    return [cell.id for cell in editor.project.notebooks.get(editor.notebook).cells]


def _type(view: CellView, code: str) -> None:
    """What the browser does as someone types: the editor's value changes."""
    view.editor.value = code


def _outputs(view: CellView) -> str:
    return "\n".join(str(getattr(pane, "object", "")) for pane in view.outputs.objects)


def _new(editor: NotebookEditor, *codes: str) -> list[str]:
    editor.create("scratch")
    first = _cells(editor)[0]
    for _code in codes[1:]:
        editor.add_cell("code")
    editor.refresh()
    for cell_id, code in zip(_cells(editor), codes, strict=True):
        _type(editor.views[cell_id], code)
    editor.refresh()
    assert _cells(editor)[0] == first
    return _cells(editor)


def test_cells_run_through_the_editor_and_their_outputs_show_escaped(
    editor: NotebookEditor, runner: asyncio.Runner
) -> None:
    first, second, third, fourth = _new(
        editor,
        "import matplotlib.pyplot as plt\nn = 3\nprint('<b>n</b> is', n)",
        "plt.plot(range(n)); n * 2",
        "class Table:\n    def _repr_html_(self):\n        return '<table><tr><td>x</td></tr></table>'\nTable()",
        "1 / 0",
    )
    keep = editor.views[first]
    done = runner.run(editor.run_all())
    assert [status for _, status in done] == ["done", "done", "done", "error"]
    editor.refresh()
    views = editor.views
    assert views[first] is keep and views[first].editor is keep.editor, "a cell keeps its widgets"
    assert "&lt;b&gt;n&lt;/b&gt; is 3" in _outputs(views[first]) and "<b>" not in _outputs(views[first])
    assert "<pre class='df-out df-result'>6</pre>" in _outputs(views[second])
    figures = views[second].outputs.figures
    assert len(figures) == 1 and isinstance(figures[0].model, LayoutDOM), "the figure is an interactive Bokeh plot"
    table = _outputs(views[third])
    assert "<iframe class='df-html' sandbox" in table and "srcdoc='&lt;table&gt;" in table and "<table>" not in table
    assert "df-error" in _outputs(views[fourth]) and "ZeroDivisionError" in _outputs(views[fourth])
    assert "[1]" in views[first].info.object and "done" in views[first].info.object
    assert "stale" not in views[second].info.object
    assert "idle" in editor.status.object

    # An upstream edit: the cells using n are stale; running the cell itself runs what it needs first.
    _type(views[first], "import matplotlib.pyplot as plt\nn = 5")
    editor.refresh()
    assert "stale" in views[second].info.object and "stale" in views[first].info.object
    assert runner.run(editor.run_cell(second)) == "done"
    editor.refresh()
    assert "<pre class='df-out df-result'>10</pre>" in _outputs(views[second])
    assert "stale" not in views[first].info.object + views[second].info.object

    # With auto-run, the dependents run after the cell.
    editor.auto_run.value = True
    assert editor.project.notebooks.get(editor.notebook or "").auto_run
    _type(views[first], "import matplotlib.pyplot as plt\nn = 7")
    runner.run(editor.run_cell(first))
    editor.refresh()
    assert "<pre class='df-out df-result'>14</pre>" in _outputs(views[second])

    # A fresh page with no session of its own marks only what changed since it ran.
    other = NotebookEditor(project=editor.project, session=editor.session, notebook=editor.notebook)
    assert "stale" not in other.views[second].info.object
    assert "no session" in other.status.object
    other.dispose()


def test_marks_markdown_and_cell_edits(editor: NotebookEditor) -> None:
    first, second, third = _new(editor, "n = 3", "n = 4\nm = 1", "def broken(:\n    pass")
    editor.refresh()
    assert "defines n — also defined in cell 2" in editor.views[first].warning.object
    assert "defines n — also defined in cell 1" in editor.views[second].warning.object
    assert editor.views[first].warning.visible and not editor.views[first].markdown.visible
    assert "Syntax error: line 1" in editor.views[third].warning.object
    assert [(a["row"], a["type"]) for a in editor.views[third].editor.annotations] == [(0, "error")]
    assert "stale" in editor.views[first].info.object, "never ran"

    editor.toggle_kind(third)
    editor.refresh()
    view = editor.views[third]
    assert view.editor.language == "markdown" and not view.warning.visible and view.editor.annotations == []
    _type(view, "# Results <script>alert(1)</script>\n\n*fine*")
    editor.refresh()
    assert view.markdown.visible
    assert "<h1>Results &lt;script&gt;" in view.markdown.object and "<em>fine</em>" in view.markdown.object

    added = editor.add_cell("markdown", after=first)
    editor.refresh()
    assert _cells(editor) == [first, added, second, third]
    assert [p for p in editor.cells.objects] == [editor.views[c].panel for c in _cells(editor)]
    editor.move(third, -1)
    editor.move(first, 1)
    editor.refresh()
    assert _cells(editor) == [added, first, third, second]
    editor.delete(added)
    editor.refresh()
    assert _cells(editor) == [first, third, second] and added not in editor.views
    assert "df-cell-" + first in editor.views[first].panel.css_classes


def test_a_taken_name_is_refused_and_outputs_render_inert(editor: NotebookEditor) -> None:
    editor.create("scratch")
    chosen = editor.notebook
    editor.create("scratch")
    assert editor.notebook == chosen and "already exists" in (editor.session.message if editor.session else "")
    assert render_output({"type": "note", "text": "<i>x</i>"}) == "<div class='df-note'>&lt;i&gt;x&lt;/i&gt;</div>"
    png = render_output({"type": "result", "text": "", "html": None, "png": "iVBOR'><script>"})
    assert "<script>" not in png and "src='data:image/png;base64,iVBOR&#x27;&gt;" in png
    error = render_output({"type": "error", "ename": "E", "evalue": "<x>", "traceback": "\x1b[31mline 2\x1b[0m"})
    assert "df-error" in error and "&lt;x&gt;" in error and "\x1b" not in error


def test_shift_enter_runs_and_moves_on_adding_a_cell_at_the_end(
    editor: NotebookEditor, runner: asyncio.Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = _new(editor, "x = 20", "x + 1")
    focused: list[str] = []
    monkeypatch.setattr(editor.keys, "focus", focused.append)
    runner.run(editor.on_key("next", first))
    assert focused == [second] and editor.project.notebooks.run_of(first).status == "done"
    runner.run(editor.on_key("next", second))
    cells = _cells(editor)
    assert len(cells) == 3 and focused == [second, cells[2]], "the last cell moves on to a new one"
    runner.run(editor.on_key("here", second))
    editor.refresh()
    assert focused == [second, cells[2]] and "[3]" in editor.views[second].info.object
    assert "<pre class='df-out df-result'>21</pre>" in _outputs(editor.views[second])
    editor.toggle_kind(first)
    assert runner.run(editor.run_cell(first)) is None, "a markdown cell does not run"


def test_cells_are_built_when_the_tab_first_comes_to_the_front(hub: ProjectHub) -> None:
    session = Session(hub=hub, project=hub.project("digits").as_user("me"))
    editor = NotebookEditor(project=session.project, session=session)
    assert editor.notebook is not None and editor.views == {} and editor.cells.objects == []
    session.tab = "Notebooks"
    cells = _cells(editor)
    assert cells and list(editor.views) == cells and len(editor.cells.objects) == len(cells)
    editor.dispose()


def test_an_artifact_is_loaded_or_explored_in_a_new_cell_run_at_once(
    editor: NotebookEditor, runner: asyncio.Runner
) -> None:
    (first,) = _new(editor, "import numpy as np\nartifacts.save(np.arange(16.0).reshape(8, 2), 'grid.points')")
    assert runner.run(editor.run_cell(first)) == "done"
    editor.refresh()
    assert editor.artifact_pick.options[0] == "grid.points" and not editor.load_button.disabled

    loaded = runner.run(editor.use_artifact("grid.points"))
    assert loaded is not None
    cell = editor.project.notebooks.cell(editor.notebook, loaded)
    assert cell.code == "grid_points = artifacts.load('grid.points')\ngrid_points"
    assert "[14., 15.]" in _outputs(editor.views[loaded])

    explored = runner.run(editor.use_artifact("grid.points", explore=True))
    assert explored is not None
    code = editor.project.notebooks.cell(editor.notebook, explored).code
    assert code.startswith("grid_points_2 = artifacts.load('grid.points')"), "a name no cell defines yet"
    (view,) = editor.views[explored].outputs.explorers
    assert len(view.source.data["x"]) == 8 and "grid.points" in view.title.object


def test_a_page_shows_a_session_another_page_started_on_other_compute(tmp_path: Path, runner: asyncio.Runner) -> None:
    hub = ProjectHub(Workspace(tmp_path / "home"), compute="dask")  # never started: no pipeline runs here
    try:
        session = Session(hub=hub, project=hub.project("digits").as_user("me"), tab="Notebooks")
        first = NotebookEditor(project=session.project, session=session)
        assert first.notebook is not None and first.runner is None, "other compute: nothing started on opening"
        assert hub.running_notebook("digits", first.notebook) is None
        started = runner.run(first._attach())  # the first page runs something: a local session
        assert started is not None and started.adapter_name == "local"
        second = NotebookEditor(project=session.project, session=Session(hub=hub, project=session.project))
        assert second.runner is started, "the second page shows that session from the start"
        second.dispose()
        first.dispose()
    finally:
        runner.run(hub.close())
