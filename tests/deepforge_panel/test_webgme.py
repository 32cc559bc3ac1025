"""The WebGME export reader: inheritance, pointers, sets and META as WebGME's core resolves them."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepforge_panel.webgme import WebGMEError, WebGMEProject
from tests.deepforge_panel.webgmex_files import WebGMEBuilder


def _tree() -> tuple[WebGMEBuilder, dict[str, str]]:
    b = WebGMEBuilder()
    fco = b.node("", "FCO", relid="1", meta=True)
    lang = b.node("", "Language", fco)
    shape = b.node(lang, "Shape", fco, meta=True, atr={"color": "red", "sides": 3})
    corner = b.node(shape, "corner", fco, relid="c")
    b.pointer(shape, "anchor", corner)  # a pointer inside the prototype
    b.pointer(shape, "other", None)
    square = b.node(lang, "Square", shape, meta=True, atr={"sides": 4})
    drawing = b.node("", "drawing", fco)
    first = b.node(drawing, None, square, atr={"color": "blue"})
    second = b.node(drawing, None, square)
    b.member(drawing, "order", second, {"index": 0})
    b.member(drawing, "order", first, {"index": 1})
    return b, {"shape": shape, "square": square, "first": first, "second": second, "drawing": drawing}


def test_attributes_children_and_types_are_inherited(tmp_path: Path) -> None:
    b, n = _tree()
    gme = WebGMEProject.read(b.write(tmp_path / "t.webgmex"))
    assert gme.attributes(n["first"]) == {"name": "Square", "color": "blue", "sides": 4}
    assert gme.own_attributes(n["first"]) == {"color": "blue"}
    assert gme.children(n["first"]) == [f"{n['first']}/c"], "the prototype's child comes with every instance"
    chain = list(gme.chain(f"{n['first']}/c"))
    assert chain[1:3] == [f"{n['square']}/c", f"{n['shape']}/c"], "an inherited child's base is the base's child"
    assert gme.type_name(n["first"]) == "Square" and gme.is_a(n["first"], "Shape")
    assert gme.type_name(n["drawing"]) == "FCO"


def test_pointers_resolve_with_nulls_and_move_into_instances(tmp_path: Path) -> None:
    b, n = _tree()
    gme = WebGMEProject.read(b.write(tmp_path / "t.webgmex"))
    assert gme.pointer(n["shape"], "anchor") == f"{n['shape']}/c"
    assert gme.pointer(n["first"], "anchor") == f"{n['first']}/c", "a pointer within the prototype is the instance's"
    assert gme.pointer(n["first"], "other") is None
    assert gme.pointer(n["first"], "missing") is None


def test_set_members_carry_their_attributes(tmp_path: Path) -> None:
    b, n = _tree()
    gme = WebGMEProject.read(b.write(tmp_path / "t.webgmex"))
    members = gme.set_members(n["drawing"], "order")
    assert sorted(members, key=lambda m: m[1]["index"]) == [(n["second"], {"index": 0}), (n["first"], {"index": 1})]
    assert n["square"] in gme.meta_nodes and n["drawing"] not in gme.meta_nodes


def test_a_loop_of_bases_is_an_error_naming_the_node(tmp_path: Path) -> None:
    b = WebGMEBuilder()
    one = b.node("", "one")
    two = b.node("", "two", one)
    b.pointer(one, "base", two)
    gme = WebGMEProject.read(b.write(tmp_path / "loop.webgmex"))
    with pytest.raises(WebGMEError, match=f"node {one}: its bases form a loop"):
        gme.attributes(one)
