from __future__ import annotations

import pytest

from deepforge_panel.interface import InterfaceError, init_parameters, parse_interface, ports_compatible

# An operation in the form DeepForge itself generated, unchanged.
DEEPFORGE_STYLE = """
import numpy as np

class TrainValidate():
    def __init__(self, model, batch_size=32, epochs=10, loss="categorical_crossentropy", shuffle=True, lr=0.01):
        self.model = model
        self.batch_size = batch_size
        self.epochs = epochs
        return

    def execute(self, dataset, labels):
        self.model.fit(dataset, labels, batch_size=self.batch_size, epochs=self.epochs)
        model = self.model
        return model
"""


def test_deepforge_operation_reads_unchanged() -> None:
    iface = parse_interface(DEEPFORGE_STYLE, references=["model"])  # its pointer in DeepForge
    assert iface.class_name == "TrainValidate"
    assert [r.name for r in iface.references] == ["model"]
    assert [(a.name, a.type, a.default) for a in iface.attributes] == [
        ("batch_size", "int", 32),
        ("epochs", "int", 10),
        ("loss", "str", "categorical_crossentropy"),
        ("shuffle", "bool", True),
        ("lr", "float", 0.01),
    ]
    assert [p.name for p in iface.inputs] == ["dataset", "labels"]
    assert [p.name for p in iface.outputs] == ["model"]


def test_annotations_choices_optional_inputs_and_tuple_outputs() -> None:
    iface = parse_interface(
        '''
from typing import Literal

class Split:
    """Split data."""
    def __init__(self, mode: Literal["random", "ordered"] = "random", ratio: float = 1):
        pass

    def execute(self, data: "Table", weights=None) -> tuple[Table, Table]:
        def helper():
            return 42
        if data is None:
            return None
        return train, test
'''
    )
    assert iface.doc == "Split data."
    mode = iface.attribute("mode")
    assert mode is not None and mode.type == "choice" and mode.choices == ("random", "ordered")
    assert iface.attribute("ratio").type == "float"
    assert [(p.name, p.type, p.required) for p in iface.inputs] == [
        ("data", "'Table'", True),
        ("weights", "Any", False),
    ]
    assert [(p.name, p.type) for p in iface.outputs] == [("train", "Table"), ("test", "Table")]


@pytest.mark.parametrize(
    ("body", "outputs"),
    [  # DeepForge's own cases (its OperationCode.js and tests): names, self.x, result, result_1 by position
        ("return 1, f()", ["result", "result_1"]),
        ("return 1 + 1", ["result"]),
        ("return self.myOutput", ["myOutput"]),
        ("return concat, count", ["concat", "count"]),
        ("return a + 1, b", ["result", "b"]),
        ("return a + 1, b + 2, 7", ["result", "result_1", "result_2"]),
        ("return a.x, foo.y", ["result", "result_1"]),
        ("return (a, b)", ["a", "b"]),
        ("return [a, b]", ["result"]),
        ("if a:\n            return c, d\n        return b, e", ["b", "e"]),  # the top-level return names them
        ("if a:\n            return c, d", ["c", "d"]),  # no top-level return: the first one (DeepForge: none)
        ("return", []),
        ("return None", []),
    ],
)
def test_outputs_are_named_as_deepforge_names_them(body: str, outputs: list[str]) -> None:
    iface = parse_interface(f"class A:\n    def execute(self, a=1, b=2):\n        {body}\n")
    assert [p.name for p in iface.outputs] == outputs


def test_a_parameter_is_a_reference_only_when_declared_so_else_an_attribute_as_in_deepforge() -> None:
    iface = parse_interface(DEEPFORGE_STYLE)  # no pointer declared: every parameter is an attribute
    assert iface.references == ()
    assert iface.attributes[0].name == "model" and (iface.attributes[0].type, iface.attributes[0].default) == (
        "str",
        None,
    ), "a parameter without a default: a text, empty until set"
    typed = parse_interface("class A:\n    def __init__(self, n: int, ref):\n        pass\n"
                            "    def execute(self):\n        pass\n", references=["ref"])  # fmt: skip
    assert [(a.name, a.type) for a in typed.attributes] == [("n", "int")] and typed.references[0].name == "ref"
    assert init_parameters(DEEPFORGE_STYLE) == ["model", "batch_size", "epochs", "loss", "shuffle", "lr"]
    assert init_parameters(DEEPFORGE_STYLE, without_default=True) == ["model"]
    assert init_parameters("class A:\n    def execute(self)\n") == [], "does not parse: none"


def test_a_none_default_is_a_text_attribute_as_in_deepforge() -> None:
    iface = parse_interface("class A:\n    def __init__(self, label=None, size: int = None):\n        pass\n"
                            "    def execute(self):\n        pass\n")  # fmt: skip
    assert [(a.name, a.type, a.default) for a in iface.attributes] == [("label", "str", None), ("size", "int", None)]


@pytest.mark.parametrize(
    ("source", "message", "line"),
    [
        ("class A:\n    def execute(self)\n        return x\n", "expected ':'", 2),
        ("class A:\n    def run(self):\n        pass\n", "no operation found", 1),
        ("x = 1\n", "no operation found", 1),
        ("class A:\n    def execute(data):\n        pass\n", "must take self", 2),
        (
            "class A:\n    def __init__(self, n=len('x')):\n        pass\n    def execute(self):\n        pass\n",
            "must be a literal",
            2,
        ),
        (
            "class A:\n    def execute(self):\n        if x:\n            return a\n        return a, b\n",
            "same outputs",
            4,
        ),
        (
            "from typing import Literal\nclass A:\n    def __init__(self, m: Literal['a'] = 'b'):\n        pass\n"
            "    def execute(self):\n        pass\n",
            "not one of its choices",
            3,
        ),
    ],
)
def test_bad_code_is_located(source: str, message: str, line: int) -> None:
    with pytest.raises(InterfaceError, match=message) as info:
        parse_interface(source)
    assert info.value.line == line
    assert info.value.column >= 1


def test_port_compatibility() -> None:
    assert ports_compatible("Any", "Table")
    assert ports_compatible("Table", "Table")
    assert not ports_compatible("Table", "Model")


def test_interface_round_trips_through_dict() -> None:
    iface = parse_interface(DEEPFORGE_STYLE, references=["model"])
    from deepforge_panel.interface import Interface

    assert Interface.from_dict(iface.to_dict()) == iface
