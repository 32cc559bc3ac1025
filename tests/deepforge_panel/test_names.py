"""Names chosen by users: one rule, applied wherever a name enters a project, with a message saying what is allowed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.crdt import Home, StoreError
from deepforge_panel.errors import ProjectError
from deepforge_panel.libraries.keras.architectures import ArchitectureError, ArchitecturesView
from deepforge_panel.names import MAX_NAME_LENGTH, NAME_RULE, check_name, name_problem
from deepforge_panel.pipelines import PipelineError
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project

TRAVERSAL = "../../../../tmp/x/j"
BAD = [
    "",
    "   ",
    " padded",
    "padded ",
    "nul\x00byte",
    "new\nline",
    "tab\there",
    "bidi\u202eoverride",
    TRAVERSAL,
    "back\\slash",
    "..",
    "x" * (MAX_NAME_LENGTH + 1),
    3,
]
GOOD = ["train", "digits-cnn", "reproduce train.model (2)", "a.b", "<img src=x>", "Ünïcödé 名前", "x" * MAX_NAME_LENGTH]


@pytest.mark.parametrize("name", BAD, ids=repr)
def test_bad_names_are_refused_saying_why_and_what_is_allowed(name: Any) -> None:
    assert name_problem(name) is not None
    with pytest.raises(PipelineError) as caught:
        check_name("node", name, PipelineError, "n1")
    message = str(caught.value)
    assert message.startswith(f"node name {name!r} is not allowed: ") and NAME_RULE in message
    assert caught.value.element == "n1"


@pytest.mark.parametrize("name", GOOD)
def test_names_people_use_are_accepted(name: str) -> None:
    assert name_problem(name) is None and check_name("pipeline", name) == name


def test_every_view_refuses_a_bad_name_where_it_enters_and_changes_nothing(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    pid = project.pipelines.create("p")
    node = project.pipelines.add_node(pid, source, name="src")
    project.commit("start")
    before = project.doc.get_update()

    refusals = [
        (PipelineError, lambda: project.pipelines.create(TRAVERSAL)),
        (PipelineError, lambda: project.pipelines.rename(pid, "a\x00b")),
        (PipelineError, lambda: project.pipelines.add_node(pid, add, name=TRAVERSAL)),
        (PipelineError, lambda: project.pipelines.add_node(pid, add, name="y" * 300)),
        (PipelineError, lambda: project.pipelines.rename_node(pid, node, TRAVERSAL)),
        (PipelineError, lambda: project.pipelines.rename_node(pid, node, "")),
        (ProjectError, lambda: project.operations.add(name="Not A Class")),
        (ProjectError, lambda: project.operations.rename(source, "a/b")),
        (ProjectError, lambda: project.artifacts.add("x\ny", "int", "file:///nowhere", "0" * 64, 1)),
        (StoreError, lambda: project.branch(TRAVERSAL)),
        (StoreError, lambda: project.branch("ok\x00")),
    ]
    for error, attempt in refusals:
        with pytest.raises(error, match="is not allowed"):
            attempt()
    assert project.doc.get_update() == before, "a refused name leaves the document as it was"
    assert project.branches() == ["main"]


def test_a_pipeline_cannot_be_renamed_to_another_pipelines_name(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    first = project.pipelines.create("first")
    project.pipelines.create("second")
    with pytest.raises(PipelineError, match="already exists"):
        project.pipelines.rename(first, "second")
    project.pipelines.rename(first, "first again")
    assert sorted(p.name for p in project.pipelines.all()) == ["first again", "second"]


def test_architectures_and_layers_refuse_bad_names(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    view = ArchitecturesView(project)
    with pytest.raises(ArchitectureError, match=r"architecture name .* is not allowed"):
        view.create("cnn/../../x")
    arch = view.create("cnn")
    with pytest.raises(ArchitectureError, match=r"layer name .* is not allowed: a layer name is a Python identifier"):
        view.add_layer(arch, "InputLayer", {"shape": [4]}, name="<img src=x>")
    with pytest.raises(ArchitectureError, match="is not allowed"):
        view.add_layer(arch, "InputLayer", {"shape": [4]}, name="x" * (MAX_NAME_LENGTH + 1))
    layer = view.add_layer(arch, "InputLayer", {"shape": [4]}, name="pixels")
    with pytest.raises(ArchitectureError, match="is not allowed"):
        view.rename_layer(arch, layer, "../x")
    view.add_layer(arch, "Dense", {"units": 2}, name="dense")
    with pytest.raises(ArchitectureError, match="already has a layer named 'dense'"):
        view.rename_layer(arch, layer, "dense")
    assert sorted(layer.name for layer in view.get(arch).layers.values()) == ["dense", "pixels"]


def test_project_names_are_checked_on_rename_too(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.create("alpha").close()
    for bad in ("beta\n", "../beta", ""):
        with pytest.raises(StoreError, match="invalid project name"):
            home.create(bad)
        with pytest.raises(StoreError, match="invalid project name"):
            home.rename("alpha", bad)
    assert [entry.name for entry in home.entries()] == ["alpha"]
