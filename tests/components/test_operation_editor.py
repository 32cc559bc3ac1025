"""The operation editor: code into the document, and which parameters are references, declared beside it."""

from __future__ import annotations

from deepforge_panel.components.operation_editor import OperationEditor
from deepforge_panel.components.session import Session


def test_references_are_chosen_among_the_init_parameters(digits_session: Session) -> None:
    project = digits_session.project
    train = project.operations.find("TrainArchitecture")
    editor = OperationEditor(project=project, operation=train.id)
    assert editor.references.value == ["architecture"], "the built-in declares its architecture a reference"
    assert editor.references.options == ["architecture"], "offered: the parameters without a default"

    op_id = project.operations.add("class Fit:\n    def __init__(self, model, epochs=3):\n        pass\n"
                                   "    def execute(self):\n        pass\n")  # fmt: skip
    editor.operation = op_id
    assert editor.references.options == ["model"] and editor.references.value == []
    assert "attributes: model, epochs" in editor.ports.object
    editor.references.value = ["model"]
    assert project.operations.references_of(op_id) == ["model"]
    assert "references: model" in editor.ports.object and "attributes: epochs" in editor.ports.object
    project.as_user("peer").operations.set_references(op_id, [])
    assert editor.references.value == [], "someone else's change shows"
    editor.operation = project.operations.find("TrainClassifier").id
    assert not editor.references.visible, "every parameter has a default: nothing to choose"


def test_the_environment_field_writes_through_to_the_document(digits_session: Session) -> None:
    from deepforge_panel.environments import Environment

    project = digits_session.project
    op_id = project.operations.find("TrainClassifier").id
    editor = OperationEditor(project=project, operation=op_id)
    assert editor.requirements.value == "" and editor.python.value == ""
    editor.requirements.value = "# jokes while training\npyjokes>=0.8\n"
    assert project.operations.environment_of(op_id) == Environment(("pyjokes>=0.8",))
    assert editor.requirements.value.startswith("# jokes"), "what one typed stays as typed"
    editor.python.value = "3.11"
    assert project.operations.environment_of(op_id) == Environment(("pyjokes>=0.8",), "3.11")

    editor.requirements.value = "pyjokes>=0.8\nnot a requirement!"
    assert editor.environment_error.visible and "line 2: 'not a requirement!'" in editor.environment_error.object
    assert project.operations.environment_of(op_id) == Environment(("pyjokes>=0.8",), "3.11"), "nothing changed"

    project.as_user("peer").operations.set_environment(op_id, Environment(("tabulate",)))
    assert editor.requirements.value == "tabulate" and editor.python.value == "", "someone else's change shows"
    assert not editor.environment_error.visible
    editor.requirements.value = ""
    assert project.operations.environment_of(op_id) is None, "both fields empty: the workbench's own Python"


def test_the_operation_exports_as_a_runnable_py_and_one_with_references_says_why_not(digits_session: Session) -> None:
    import ast

    project = digits_session.project
    editor = OperationEditor(project=project, operation=project.operations.find("ScoreClassifier").id)
    assert editor.download.visible and editor.download.filename == "ScoreClassifier.py"
    sent = editor.export()
    assert sent is not None
    tree = ast.parse(sent.getvalue().decode())
    assert "ScoreClassifier" in {n.name for n in tree.body if isinstance(n, ast.ClassDef)}

    editor.operation = project.operations.find("TrainArchitecture").id
    assert editor.export() is None
    assert editor.status.visible and "takes references (architecture)" in editor.status.object
