"""A layer's arguments as widgets fitting their catalog types, and the document values the widgets hold.

Shapes are typed as integers separated by commas (``3, 3``), nested ones with parentheses
(``(0, 1), (0, 1)``); ``any`` values as JSON; functions as a choice of Keras' names and the
architecture's own functions. Each widget carries the argument's documentation as its tooltip.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import panel as pn

__all__ = ["arg_row", "arg_widget", "display_value", "parse_value"]


def display_value(spec: dict[str, Any], args: dict[str, Any]) -> Any:
    """What the widget shows: the value set in the document, else the catalog default."""
    value = args.get(spec["name"], spec.get("default"))
    kind = spec["type"]
    if kind == "tuple":
        if value is None:
            return ""
        if not isinstance(value, list):
            return str(value)
        return ", ".join(_tuple_text(v) for v in value) + ("," if len(value) == 1 else "")
    if kind in ("str",):
        return "" if value is None else str(value)
    if kind == "any":
        return "" if value is None else json.dumps(value)
    if kind == "bool":
        return bool(value)
    return value


def _tuple_text(value: Any) -> str:
    if isinstance(value, list):
        return "(" + ", ".join(_tuple_text(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return "None" if value is None else str(value)


def _int_tuple(value: Any) -> Any:
    """A parsed shape as the document holds it (lists), or ValueError where it holds anything but integers and None."""
    if isinstance(value, (list, tuple)) and value:
        return [_int_tuple(v) for v in value]
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError(value)


def parse_value(spec: dict[str, Any], shown: Any) -> Any:
    """The document value for what a widget holds; ValueError with a readable reason when it is not one."""
    kind = spec["type"]
    if kind == "tuple":
        text = str(shown).strip()
        if not text.strip("()[] "):
            return None
        try:
            return _int_tuple(ast.literal_eval(text))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise ValueError(
                f"{spec['name']}: {shown!r} is not integers separated by commas, e.g. 3, 3 (or (0, 1), (0, 1))"
            ) from None
    if kind == "any":
        text = str(shown).strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text
    if kind == "str":
        return shown if shown != "" or spec.get("default") == "" else None
    return shown


def arg_widget(spec: dict[str, Any], args: dict[str, Any], functions: list[str]) -> pn.widgets.Widget:
    """One widget fitting the argument's catalog type, its documentation as the tooltip."""
    kind, value = spec["type"], display_value(spec, args)
    label = spec["name"] + (" *" if spec.get("required") else "")
    common: dict[str, Any] = {"label": label, "sizing_mode": "stretch_width", "margin": (2, 5)}
    doc = (spec.get("doc") or "").strip()
    if doc:
        common["description"] = doc[:400]
    if kind == "int":
        return pn.widgets.IntInput(value=value, **common)
    if kind == "float":
        return pn.widgets.FloatInput(value=value, **common)
    if kind == "bool":
        common.pop("description", None)  # a Checkbox has no tooltip of its own: see arg_row
        return pn.widgets.Checkbox(value=value, **common)
    if kind == "choice" or kind.startswith("function:"):
        names = list(spec.get("choices") or []) if kind == "choice" else [None, *functions]
        options = {"(none)" if c is None else str(c): c for c in names}
        if value not in options.values():
            options[str(value)] = value
        return pn.widgets.Select(options=options, value=value, **common)
    placeholder = "e.g. 3, 3" if kind == "tuple" else ("JSON, e.g. [1, 2]" if kind == "any" else "")
    return pn.widgets.TextInput(value=value, placeholder=placeholder, **common)


def arg_row(widget: pn.widgets.Widget, spec: dict[str, Any]) -> pn.viewable.Viewable:
    """The widget as laid out: a Checkbox gets its documentation from a tooltip icon beside it."""
    doc = (spec.get("doc") or "").strip()
    if isinstance(widget, pn.widgets.Checkbox) and doc:
        return pn.Row(widget, pn.widgets.TooltipIcon(value=doc[:400], margin=(2, 0)), sizing_mode="stretch_width")
    return widget
