"""Argument values both ways between the document and the widgets: shapes, nested shapes, JSON."""

from __future__ import annotations

import pytest

from deepforge_panel.components.layer_arguments import display_value, parse_value

SHAPE = {"name": "padding", "type": "tuple", "default": [1, 1]}
ANY = {"name": "mean", "type": "any", "default": None}


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (3, "3"),
        ([3, 3], "3, 3"),
        ([None, 4], "None, 4"),
        ([5], "5,"),
        ([[0, 1], [0, 1]], "(0, 1), (0, 1)"),
        ([[1, 1], [2, 2], [3, 3]], "(1, 1), (2, 2), (3, 3)"),
    ],
)
def test_shapes_show_as_python_and_read_back(value: object, shown: str) -> None:
    assert display_value(SHAPE, {"padding": value}) == shown
    assert parse_value(SHAPE, shown) == value


def test_what_is_not_a_shape_is_refused_with_an_example() -> None:
    assert parse_value(SHAPE, "") is None and parse_value(SHAPE, "()") is None
    assert parse_value(SHAPE, "[3, 3]") == [3, 3] and parse_value(SHAPE, "(3, 3)") == [3, 3]
    for bad in ("3.5, 2", "a, b", "(0, 1), 'x'", "((0, 1)", "True"):
        with pytest.raises(
            ValueError, match=r"is not integers separated by commas, e.g. 3, 3 \(or \(0, 1\), \(0, 1\)\)"
        ):
            parse_value(SHAPE, bad)


def test_any_is_json() -> None:
    assert display_value(ANY, {"mean": [0.5, 1.0]}) == "[0.5, 1.0]"
    assert parse_value(ANY, '{"k": 2}') == {"k": 2} and parse_value(ANY, "word") == "word"
