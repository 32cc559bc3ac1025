from __future__ import annotations

import json
from pathlib import Path

import pytest
from pycrdt import Doc, Map, Text

from deepforge_panel.crdt import ROOTS, splice_text
from deepforge_panel.errors import NotFound
from deepforge_panel.notebooks import OUTPUT_LIMIT, CellRun, NotebookError
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import new_project


def peer(project: Project) -> Project:
    """A second replica of ``project``'s document, cloned from its state (as a peer is)."""
    doc = Doc()
    doc.apply_update(project.doc.get_update())
    return Project(doc, name=project.name)


def sync(a: Project, b: Project) -> None:
    a.doc.apply_update(b.doc.get_update(a.doc.get_state()))
    b.doc.apply_update(a.doc.get_update(b.doc.get_state()))


def codes(project: Project, nb: str) -> list[str]:
    return [c.code for c in project.notebooks.get(nb).cells]


def test_roots_are_declared_with_their_kinds() -> None:
    assert "notebooks" in ROOTS.design
    assert "notebook_outputs" in ROOTS.records


def test_create_cells_and_settings(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("explore")
    first = project.notebooks.add_cell(nb, code="x = 1")
    last = project.notebooks.add_cell(nb, "markdown", "# Title")
    middle = project.notebooks.add_cell(nb, code="y = x", index=1)
    project.notebooks.set_adapter(nb, "dask")
    project.notebooks.set_auto_run(nb, True)
    notebook = project.notebooks.get(nb)
    assert notebook.name == "explore" and notebook.adapter == "dask" and notebook.auto_run is True
    assert [c.id for c in notebook.cells] == [first, middle, last]
    assert project.notebooks.cell(nb, last).kind == "markdown"
    assert project.notebooks.find("explore").id == nb
    reopened = reopen(tmp_path, project)
    assert [c.code for c in reopened.notebooks.get(nb).cells] == ["x = 1", "y = x", "# Title"]


def reopen(tmp_path: Path, project: Project) -> Project:
    assert project.store is not None
    project.store.close()
    from deepforge_panel.workspace import Workspace

    return Workspace(tmp_path / "home", examples=False).open(project.name)


def test_names_are_unique_and_checked(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("a")
    other = project.notebooks.create("b", adapter="dask")
    with pytest.raises(NotebookError, match="already exists"):
        project.notebooks.create("a")
    with pytest.raises(NotebookError, match="already exists"):
        project.notebooks.rename(other, "a")
    with pytest.raises(NotebookError, match="not allowed"):
        project.notebooks.create("")
    project.notebooks.rename(nb, "a")
    project.notebooks.rename(nb, "c")
    assert sorted(n.name for n in project.notebooks.all()) == ["b", "c"]
    project.notebooks.remove(nb)
    with pytest.raises(NotFound, match="no notebook"):
        project.notebooks.get(nb)


def test_bad_edits_are_refused_and_change_nothing(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("n")
    cell = project.notebooks.add_cell(nb, code="a = 1")
    before = project.doc.get_update()
    with pytest.raises(NotebookError, match="code or markdown"):
        project.notebooks.add_cell(nb, kind="raw")
    with pytest.raises(NotebookError, match="position"):
        project.notebooks.move_cell(nb, cell, -1)
    with pytest.raises(NotFound, match="has no cell"):
        project.notebooks.set_code(nb, "c-missing", "x")
    with pytest.raises(NotebookError, match="adapter"):
        project.notebooks.set_adapter(nb, "")
    assert project.doc.get_update() == before


def test_move_and_remove_cells(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("n")
    a, b, c = (project.notebooks.add_cell(nb, code=x) for x in "abc")
    project.notebooks.move_cell(nb, a, 2)
    assert codes(project, nb) == ["b", "c", "a"]
    project.notebooks.move_cell(nb, a, 0)
    assert codes(project, nb) == ["a", "b", "c"]
    project.notebooks.move_cell(nb, a, 99)
    assert codes(project, nb) == ["b", "c", "a"]
    project.notebooks.move_cell(nb, c, 0)
    assert codes(project, nb) == ["c", "b", "a"]
    project.notebooks.remove_cell(nb, b)
    assert codes(project, nb) == ["c", "a"]
    assert list(project.notebooks.record(nb)["order"]) == [c, a]


def test_concurrent_edits_of_one_cell_both_survive(tmp_path: Path) -> None:
    alice = new_project(tmp_path)
    nb = alice.notebooks.create("n")
    cell = alice.notebooks.add_cell(nb, code="import numpy as np\n\nx = np.zeros(3)\nprint(x)\n")
    bob = peer(alice)
    alice.notebooks.set_code(nb, cell, "import numpy as np\nimport pandas as pd\n\nx = np.zeros(3)\nprint(x)\n")
    bob.notebooks.set_code(nb, cell, "import numpy as np\n\nx = np.zeros(3)\nprint(x.sum())\n")
    sync(alice, bob)
    merged = "import numpy as np\nimport pandas as pd\n\nx = np.zeros(3)\nprint(x.sum())\n"
    assert alice.notebooks.cell(nb, cell).code == bob.notebooks.cell(nb, cell).code == merged


def test_set_code_edits_by_characters_not_bytes() -> None:
    doc = Doc()
    project = Project(doc)
    nb = project.notebooks.create("n")
    cell = project.notebooks.add_cell(nb, code="é = 'ü'\n")
    project.notebooks.set_code(nb, cell, "é = 'üü' # ∑\n")
    assert project.notebooks.cell(nb, cell).code == "é = 'üü' # ∑\n"
    project.notebooks.set_code(nb, cell, "x = '😀'")
    assert project.notebooks.cell(nb, cell).code == "x = '😀'"


def test_splice_text_touches_only_the_middle() -> None:
    doc = Doc()
    text = doc.get("t", type=Text)
    text += "abcdef"
    events: list[object] = []
    text.observe(lambda event: events.append(event.delta))
    splice_text(text, "abXYef")
    assert str(text) == "abXYef"
    assert events == [[{"retain": 2}, {"delete": 2}], [{"retain": 2}, {"insert": "XY"}]]


def test_order_tolerates_concurrent_moves_and_removals(tmp_path: Path) -> None:
    alice = new_project(tmp_path)
    nb = alice.notebooks.create("n")
    a, b, c = (alice.notebooks.add_cell(nb, code=x) for x in "abc")
    bob = peer(alice)
    alice.notebooks.move_cell(nb, a, 2)
    bob.notebooks.move_cell(nb, a, 1)
    bob.notebooks.remove_cell(nb, c)
    alice.notebooks.move_cell(nb, c, 0)
    sync(alice, bob)
    raw = list(alice.notebooks.record(nb)["order"])
    assert raw.count(a) == 2 and c in raw, "the merge left a duplicate and a removed cell in the order"
    for project in (alice, bob):
        assert [cell.id for cell in project.notebooks.get(nb).cells].count(a) == 1
        assert {cell.id for cell in project.notebooks.get(nb).cells} == {a, b}
    assert codes(alice, nb) == codes(bob, nb)
    target = 1 - codes(alice, nb).index("b")
    alice.notebooks.move_cell(nb, b, target)
    assert codes(alice, nb).index("b") == target and sorted(codes(alice, nb)) == ["a", "b"]
    assert list(alice.notebooks.record(nb)["order"]) == [cell.id for cell in alice.notebooks.get(nb).cells]


def test_cells_missing_from_the_order_come_last_by_id(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("n")
    a = project.notebooks.add_cell(nb, code="a")
    with project.transaction():
        project.notebooks.record(nb)["cells"]["c-zz"] = Map({"kind": "code", "code": Text("z")})
        project.notebooks.record(nb)["cells"]["c-00"] = Map({"kind": "code", "code": Text("0")})
    assert [c.id for c in project.notebooks.get(nb).cells] == [a, "c-00", "c-zz"]
    new = project.notebooks.add_cell(nb, code="n", index=1)
    assert [c.id for c in project.notebooks.get(nb).cells] == [a, new, "c-00", "c-zz"]


def test_runs_and_outputs_are_records(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("n")
    cell = project.notebooks.add_cell(nb, code="print(1)")
    assert project.notebooks.run_of(cell) == CellRun("idle", None, "", [])
    project.notebooks.set_status(cell, "queued")
    assert project.notebooks.run_of(cell).status == "queued"
    project.notebooks.start_run(cell, "print(1)", 3)
    for line in ("a\n", "b\n"):
        project.notebooks.append_output(cell, {"type": "stream", "name": "stdout", "text": line})
    project.notebooks.append_output(cell, {"type": "stream", "name": "stderr", "text": "warn\n"})
    project.notebooks.append_output(cell, {"type": "stream", "name": "stdout", "text": "c\n"})
    project.notebooks.append_output(cell, {"type": "result", "text": "42"})
    figure = {"axes": [{"lines": [{"x": [1, 2], "y": [3, 4]}]}], "title": None}
    project.notebooks.append_output(cell, {"type": "figure", "figure": figure})
    project.notebooks.append_output(cell, {"type": "error", "ename": "E", "evalue": "v", "traceback": "tb"})
    project.notebooks.set_status(cell, "error")
    run = project.notebooks.run_of(cell)
    assert run.status == "error" and run.count == 3 and isinstance(run.count, int) and run.code == "print(1)"
    assert run.outputs == [
        {"type": "stream", "name": "stdout", "text": "a\nb\n"},
        {"type": "stream", "name": "stderr", "text": "warn\n"},
        {"type": "stream", "name": "stdout", "text": "c\n"},
        {"type": "result", "text": "42", "html": None, "png": None},
        {"type": "figure", "figure": figure},
        {"type": "error", "ename": "E", "evalue": "v", "traceback": "tb"},
    ]
    assert isinstance(run.outputs[4]["figure"]["axes"][0]["lines"][0]["x"][0], int), "figure data keeps its types"
    json.dumps(project.map("notebook_outputs")[cell].to_py())
    project.notebooks.start_run(cell, "print(2)", 4)
    assert project.notebooks.run_of(cell) == CellRun("running", 4, "print(2)", [])


def test_outputs_survive_restore_and_undo(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("n")
    cell = project.notebooks.add_cell(nb, code="1")
    first = project.commit("notebook")
    user = project.as_user("alice")
    undo = user.undo_manager()
    user.notebooks.start_run(cell, "1", 1)
    user.notebooks.append_output(cell, {"type": "result", "text": "1"})
    user.notebooks.set_code(nb, cell, "2")
    undo.undo()
    assert project.notebooks.cell(nb, cell).code == "1", "the code edit is undone"
    assert project.notebooks.run_of(cell).outputs, "the output is not"
    project.notebooks.remove_cell(nb, cell)
    project.restore(first)
    assert project.notebooks.cell(nb, cell).code == "1"
    assert project.notebooks.run_of(cell).outputs == [{"type": "result", "text": "1", "html": None, "png": None}]


def test_stream_output_is_capped_with_a_counted_note(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    nb = project.notebooks.create("n")
    cell = project.notebooks.add_cell(nb, code="flood()")
    project.notebooks.start_run(cell, "flood()", 1)
    chunk = "x" * 99 + "\n"
    for _ in range(OUTPUT_LIMIT // 100 - 1):
        project.notebooks.append_output(cell, {"type": "stream", "name": "stdout", "text": chunk})
    project.notebooks.append_output(cell, {"type": "stream", "name": "stderr", "text": "e" * 150})
    project.notebooks.append_output(cell, {"type": "stream", "name": "stdout", "text": "y" * 30})
    project.notebooks.append_output(cell, {"type": "error", "ename": "E", "evalue": "", "traceback": ""})
    project.notebooks.append_output(cell, {"type": "stream", "name": "stdout", "text": "z" * 20})
    outputs = project.notebooks.run_of(cell).outputs
    assert [o["type"] for o in outputs] == ["stream", "stream", "note", "error"]
    assert len(outputs[0]["text"]) + len(outputs[1]["text"]) == OUTPUT_LIMIT
    assert outputs[1]["text"] == "e" * 100
    assert outputs[2] == {"type": "note", "text": "output truncated: 100 more characters not kept"}
    project.notebooks.start_run(cell, "flood()", 2)
    project.notebooks.append_output(cell, {"type": "stream", "name": "stdout", "text": "fresh"})
    assert project.notebooks.run_of(cell).outputs == [{"type": "stream", "name": "stdout", "text": "fresh"}]


@pytest.mark.parametrize(
    "output",
    [
        {"type": "stream", "name": "stdin", "text": "x"},
        {"type": "stream", "name": "stdout"},
        {"type": "picture"},
        {"type": "result", "text": "x", "extra": 1},
        {"type": "figure", "figure": {"f": object()}},
        "text",
    ],
)
def test_bad_outputs_are_refused(tmp_path: Path, output: object) -> None:
    project = new_project(tmp_path)
    with pytest.raises(NotebookError, match=r"output|stream|figure"):
        project.notebooks.append_output("c1", output)  # type: ignore[arg-type]
    with pytest.raises(NotebookError, match="status"):
        project.notebooks.set_status("c1", "sleeping")
