from __future__ import annotations

from dataclasses import dataclass

import pytest

from deepforge_panel.notebook_deps import analyze, ancestors, descendants, names, run_plan, stale_after


@dataclass(frozen=True)
class C:
    id: str
    code: str
    kind: str = "code"


def defines(code: str) -> set[str]:
    return set(names(code)[0])


def uses(code: str) -> set[str]:
    return set(names(code)[1])


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("a = 1", {"a"}),
        ("a, (b, *c) = 1, (2, 3)", {"a", "b", "c"}),
        ("a = b = 0", {"a", "b"}),
        ("n += 1", {"n"}),
        ("x: int = 1\ny: int", {"x"}),
        ("if (m := 3) > 2: pass", {"m"}),
        ("for i, j in pairs:\n    k = i", {"i", "j", "k"}),
        ("with open(p) as f, lock as (g, h):\n    pass", {"f", "g", "h"}),
        ("import os.path\nimport numpy as np\nfrom a.b import c as d, e", {"os", "np", "d", "e"}),
        ("def f(x):\n    y = x\nclass K:\n    z = 1\nasync def g(): pass", {"f", "K", "g"}),
        ("total = sum([v for v in range(3)])", {"total"}),
        ("[w := 1 for _ in range(2)]", {"w"}),
        ("try:\n    pass\nexcept ValueError as err:\n    msg = str(err)", {"msg"}),
        ("if flag:\n    on = 1\nelse:\n    off = 0", {"on", "off"}),
        ("obj.attr = 1\nitems[0] = 2", set()),
        ("lambda q: q", set()),
    ],
)
def test_defines(code: str, expected: set[str]) -> None:
    assert defines(code) == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("a = b + c", {"b", "c"}),
        ("a = 1\nb = a", set()),
        ("b = a\na = 1", {"a"}),
        ("x = x + 1", {"x"}),
        ("n += 1", {"n"}),
        ("print(len(data), artifacts.load('m'))", {"data"}),
        ("def f(p, *args, k=default, **kw):\n    local = p + args[0]\n    return local + glob", {"default", "glob"}),
        ("def f():\n    return later\nlater = 1", set()),
        ("def outer():\n    v = 1\n    def inner():\n        return v + w\n    return inner", {"w"}),
        ("squares = [i * i for i in xs if i > lo]", {"xs", "lo"}),
        ("pairs = {k: v for k, v in d.items() for _ in rows}", {"d", "rows"}),
        ("g = (y for y in range(n))", {"n"}),
        ("f = lambda a, b=dflt: a + b + c", {"dflt", "c"}),
        ("class K(Base):\n    x = 1\n    y = x + z\n    def m(self):\n        return x + q", {"Base", "z", "x", "q"}),
        ("obj.attr = 1\nitems[0] = v", {"obj", "items", "v"}),
        ("with ctx() as f:\n    f.write(s)", {"ctx", "s"}),
        ("try:\n    pass\nexcept Err as e:\n    e.note", {"Err"}),
        ("del old", {"old"}),
        ("@deco\ndef f() -> Ret:\n    pass", {"deco", "Ret"}),
        ("def f():\n    global g\n    g = 1\n    return g", {"g"}),
        ("import numpy as np\nnp.zeros(1)", set()),
        ("match v:\n    case [first, *rest]:\n        out = first + rest[0]", {"v"}),
        ("x: Annot = value", {"Annot", "value"}),
    ],
)
def test_uses(code: str, expected: set[str]) -> None:
    assert uses(code) == expected


def test_syntax_errors_raise_from_names_and_are_recorded_by_analyze() -> None:
    with pytest.raises(SyntaxError):
        names("def (:")
    analysis = analyze([C("a", "x = 1"), C("b", "y = (x\n"), C("c", "z = y")])
    assert set(analysis.errors) == {"b"} and analysis.errors["b"].startswith("line 1, column")
    assert analysis.defines["b"] == frozenset() and analysis.parents["c"] == []


def test_markdown_cells_define_and_use_nothing() -> None:
    analysis = analyze([C("m", "x = y", kind="markdown"), C("a", "z = x")])
    assert analysis.defines["m"] == analysis.uses["m"] == frozenset()
    assert analysis.parents["a"] == [] and analysis.errors == {}


def test_parents_prefer_the_nearest_definition_above() -> None:
    cells = [
        C("a", "x = 1"),
        C("b", "y = x"),
        C("c", "x = 2"),
        C("d", "print(x, y)"),
        C("e", "w = later"),
        C("f", "later = 1"),
    ]
    analysis = analyze(cells)
    assert analysis.parents == {"a": [], "b": ["a"], "c": [], "d": ["b", "c"], "e": ["f"], "f": []}
    assert analysis.duplicates == {"x": ["a", "c"]}


def test_a_cell_that_redefines_a_name_does_not_depend_on_itself() -> None:
    analysis = analyze([C("a", "x = 1"), C("b", "x = x + 1")])
    assert analysis.parents["b"] == ["a"] and analysis.parents["a"] == []


def test_builtins_count_only_when_a_cell_shadows_them() -> None:
    plain = analyze([C("a", "v = len(items)"), C("b", "items = []")])
    assert plain.uses["a"] == {"items"} and plain.parents["a"] == ["b"]
    shadowed = analyze([C("a", "def len(x):\n    return 0"), C("b", "n = len([])"), C("c", "artifacts.save(n, 'n')")])
    assert shadowed.parents["b"] == ["a"]
    assert shadowed.parents["c"] == ["b"]


def test_descendants_ancestors_and_staleness() -> None:
    cells = [
        C("load", "import numpy as np\ndata = np.arange(10)"),
        C("clean", "clean = data[data > 2]"),
        C("note", "# Notes", kind="markdown"),
        C("plot", "import matplotlib.pyplot as plt\nplt.plot(clean)"),
        C("stats", "mean = clean.mean()\nprint(mean, np.pi)"),
        C("other", "unrelated = 1"),
    ]
    analysis = analyze(cells)
    assert descendants(analysis, "load") == ["clean", "plot", "stats"]
    assert descendants(analysis, "stats") == []
    assert ancestors(analysis, "stats") == ["load", "clean"]
    assert stale_after(analysis, "clean") == ["plot", "stats"]
    assert run_plan(analysis, "stats", {"clean", "load", "plot"}) == ["load", "clean", "stats"]
    assert run_plan(analysis, "stats", set()) == ["stats"]


def test_run_plan_follows_dependencies_not_positions() -> None:
    cells = [C("use", "print(b)"), C("b", "b = a + 1"), C("a", "a = 1")]
    analysis = analyze(cells)
    assert run_plan(analysis, "use", {"a", "b"}) == ["a", "b", "use"]


def test_cycles_do_not_hang() -> None:
    analysis = analyze([C("p", "x = y + 1"), C("q", "y = x + 1")])
    assert analysis.parents == {"p": ["q"], "q": ["p"]}
    assert descendants(analysis, "p") == ["q"] and ancestors(analysis, "p") == ["q"]
    assert run_plan(analysis, "p", {"p", "q"}) == ["q", "p"]
