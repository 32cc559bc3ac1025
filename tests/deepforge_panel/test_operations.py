from __future__ import annotations

from pathlib import Path

import pytest
from pycrdt import Doc

from deepforge_panel.errors import ProjectError
from deepforge_panel.operations import splice
from tests.deepforge_panel.helpers import ADD, new_project


def test_interface_follows_code_and_keeps_last_good(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op_id = project.operations.add(ADD)
    op = project.operations.get(op_id)
    assert op.name == "Add" and op.error is None
    assert [p.name for p in op.interface.inputs] == ["data"]

    project.operations.set_code(op_id, ADD.replace("def execute(self, data):", "def execute(self, data, scale):"))
    assert [p.name for p in project.operations.get(op_id).interface.inputs] == ["data", "scale"]

    error = project.operations.set_code(op_id, ADD.replace("def execute(self, data):", "def execute(self, data:"))
    assert error is not None and error.line == 6
    op = project.operations.get(op_id)
    assert op.error is not None and op.error.line == 6
    assert [p.name for p in op.interface.inputs] == ["data", "scale"], "last good interface kept"
    assert "def execute(self, data:" in op.code, "the broken code itself is kept too"

    project.operations.set_code(op_id, ADD)
    op = project.operations.get(op_id)
    assert op.error is None and [p.name for p in op.interface.inputs] == ["data"]


def test_blank_operation_parses(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op = project.operations.get(project.operations.add(name="Normalize"))
    assert op.error is None and op.interface.class_name == "Normalize"


def test_splice_edits_only_the_middle_so_concurrent_edits_merge() -> None:
    a, b = Doc(), Doc()
    text_a = a.get("t", type=__import__("pycrdt").Text)
    text_a += "def f():\n    return 1\n"
    b.apply_update(a.get_update())
    text_b = b.get("t", type=__import__("pycrdt").Text)
    splice(text_a, "# top\ndef f():\n    return 1\n")
    splice(text_b, "def f():\n    return 2\n")
    a.apply_update(b.get_update(a.get_state()))
    b.apply_update(a.get_update(b.get_state()))
    assert str(text_a) == str(text_b) == "# top\ndef f():\n    return 2\n"


def test_code_with_non_ascii_text_is_edited_exactly(tmp_path: Path) -> None:
    """The code is a CRDT Text indexed in UTF-8 bytes: an edit after 'é' or '∑' lands where it was made."""
    project = new_project(tmp_path)
    code = 'class Résumé:\n    def execute(self):\n    """∑ of things"""\n        return 1\n'
    op_id = project.operations.add(code.replace('    """∑ of things"""\n', ""))
    project.operations.set_code(op_id, code.replace('    """∑ of things"""\n', "").replace("1", "2"))
    edited = 'class Résumé:\n    """∑ of things"""\n    def execute(self):\n        return 2\n'
    project.operations.set_code(op_id, edited)
    assert project.operations.get(op_id).code == edited


USES_A_MODEL = """
class Fit:
    def __init__(self, model, epochs=3):
        self.model, self.epochs = model, epochs

    def execute(self, data):
        fitted = self.model
        return fitted
"""


def test_references_are_declared_beside_the_code_and_the_rest_are_attributes(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op_id = project.operations.add(USES_A_MODEL)
    interface = project.operations.get(op_id).interface
    assert interface.references == () and [a.name for a in interface.attributes] == ["model", "epochs"]
    project.operations.set_references(op_id, ["model"])
    interface = project.operations.get(op_id).interface
    assert [r.name for r in interface.references] == ["model"] and [a.name for a in interface.attributes] == ["epochs"]
    project.operations.set_code(op_id, USES_A_MODEL.replace("epochs=3", "epochs=3, seed=0"))
    assert [r.name for r in project.operations.get(op_id).interface.references] == ["model"], "kept across edits"
    with pytest.raises(
        ProjectError, match=r"no __init__ parameter 'optimizer' .*\(its parameters: model, epochs, seed\)"
    ):
        project.operations.set_references(op_id, ["optimizer"])
    assert project.operations.references_of(op_id) == ["model"], "nothing changed"


def test_an_operation_from_before_declared_references_keeps_them(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    op_id = project.operations.add(USES_A_MODEL, references=["model"])
    with project.transaction():  # a record written before references were declared
        del project.map("operations")[op_id]["references"]
    assert project.operations.references_of(op_id) == ["model"], "the rule then: parameters without a default"
    project.operations.set_code(op_id, USES_A_MODEL.replace("epochs=3", "epochs=4"))
    assert [r.name for r in project.operations.get(op_id).interface.references] == ["model"]
    assert "references" in project.map("operations")[op_id], "declared from then on"
