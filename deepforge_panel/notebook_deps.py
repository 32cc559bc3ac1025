"""Reactive notebooks, as marimo does it: which names each cell defines and uses, read from its code alone.

The code is parsed with :mod:`ast`, never run. A cell *defines* what it binds at top level; it *uses*
every name it reads that it has not bound before (in statement order) and that is not a builtin; names
bound inside functions, classes, lambdas and comprehensions stay there. A function body runs later, so
the global names it reads are uses unless the cell binds them anywhere at top level.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol

__all__ = [
    "PROVIDED",
    "Analysis",
    "analyze",
    "ancestors",
    "descendants",
    "names",
    "run_plan",
    "stale_after",
]

PROVIDED: Final = frozenset({"artifacts"})
"""Names every cell has without defining them: treated like builtins."""
_BUILTINS: Final = frozenset(dir(builtins)) | {"__name__", "__doc__", "__file__", "__builtins__", "__spec__"}


class _CellLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def code(self) -> str: ...


def names(code: str) -> tuple[frozenset[str], frozenset[str]]:
    """(names the cell defines at top level, names it uses from other cells); SyntaxError if it does not parse."""
    defines, uses = _scan(code)
    return defines, frozenset(uses - _BUILTINS - PROVIDED)


def _scan(code: str) -> tuple[frozenset[str], frozenset[str]]:
    """Like :func:`names`, keeping builtin names among the uses (a cell may shadow a builtin for the others)."""
    tree = ast.parse(code)
    scanner = _TopLevel()
    for statement in tree.body:
        scanner.visit(statement)
    deferred = {name for name in scanner.deferred if name not in scanner.bound}
    return frozenset(scanner.defines), frozenset(scanner.uses | deferred)


class _TopLevel(ast.NodeVisitor):
    """Walks a cell's top-level statements in evaluation order."""

    def __init__(self) -> None:
        self.defines: set[str] = set()
        self.bound: set[str] = set()
        """Names bound so far at top level, including the ones a cell does not export (``except ... as e``)."""
        self.uses: set[str] = set()
        self.deferred: set[str] = set()
        """Global names read by function bodies, which run after the whole cell has run."""

    def define(self, name: str, export: bool = True) -> None:
        self.bound.add(name)
        if export:
            self.defines.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.define(node.id)
        elif node.id not in self.bound:
            self.uses.add(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            if node.target.id not in self.bound:
                self.uses.add(node.target.id)
            self.define(node.target.id)
        else:
            self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)
        elif not isinstance(node.target, ast.Name):
            self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.define(node.target.id)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for statement in (*node.body, *node.orelse):
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.visit(item.optional_vars)
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.define(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                self.define(alias.asname or alias.name)

    def visit_Try(self, node: ast.Try | ast.TryStar) -> None:
        for statement in node.body:
            self.visit(statement)
        for handler in node.handlers:
            if handler.type is not None:
                self.visit(handler.type)
            if handler.name:
                self.define(handler.name, export=False)
            for statement in handler.body:
                self.visit(statement)
        for statement in (*node.orelse, *node.finalbody):
            self.visit(statement)

    visit_TryStar = visit_Try

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.define(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.define(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.define(node.rest)

    def visit_Global(self, node: ast.Global) -> None:
        return

    def _arguments(self, args: ast.arguments) -> None:
        for default in (*args.defaults, *(d for d in args.kw_defaults if d is not None)):
            self.visit(default)

    def _annotations(self, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self.visit(arg.annotation)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self._arguments(node.args)
        self._annotations(node.args)
        if node.returns is not None:
            self.visit(node.returns)
        self.define(node.name)
        self.deferred |= _free(node, deferred=True)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._arguments(node.args)
        self.deferred |= _free(node, deferred=True)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            self.visit(expr)
        now, later = _class_body(node)
        self.uses |= {name for name in now if name not in self.bound}
        self.deferred |= later
        self.define(node.name)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp) -> None:
        self.visit(node.generators[0].iter)
        for name in sorted(_walrus_targets(node)):
            self.define(name)
        self.uses |= {name for name in _free(node, deferred=False) if name not in self.bound}

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def _free(node: ast.AST, *, deferred: bool) -> set[str]:
    """Global names read inside the nested scope ``node`` (a function, lambda or comprehension).

    For a comprehension (run at once) the first iterable is left out: it is read in the enclosing scope.
    """
    local = _locals(node)
    reads: set[str] = set()
    children: list[ast.AST]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        children = list(node.body)
    elif isinstance(node, ast.Lambda):
        children = [node.body]
    elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        first, *rest = node.generators
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        children = [first.target, *first.ifs, *rest, *elements]
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        reads |= _reads(child)
    return reads - local


def _reads(node: ast.AST) -> set[str]:
    """Names read in ``node`` and not bound by a scope nested in it, seen from the scope holding ``node``."""
    reads: set[str] = set()
    if isinstance(node, ast.Name):
        return {node.id} if not isinstance(node.ctx, ast.Store) else set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        for expr in (*node.decorator_list, *node.args.defaults, *(d for d in node.args.kw_defaults if d)):
            reads |= _reads(expr)
        return reads | _free(node, deferred=True)
    if isinstance(node, ast.Lambda):
        for expr in (*node.args.defaults, *(d for d in node.args.kw_defaults if d)):
            reads |= _reads(expr)
        return reads | _free(node, deferred=True)
    if isinstance(node, ast.ClassDef):
        for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
            reads |= _reads(expr)
        now, later = _class_body(node)
        return reads | now | later
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        return _reads(node.generators[0].iter) | _free(node, deferred=False)
    for child in ast.iter_child_nodes(node):
        reads |= _reads(child)
    return reads


def _class_body(node: ast.ClassDef) -> tuple[set[str], set[str]]:
    """(names a class body reads as it runs, names its methods read later); the class's own names excluded."""
    local = _locals(node)
    now: set[str] = set()
    later: set[str] = set()
    for statement in node.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            for expr in (*statement.decorator_list, *statement.args.defaults):
                now |= _reads(expr) - local
            later |= _free(statement, deferred=True)
        else:
            now |= _reads(statement) - local
    return now, later


def _locals(node: ast.AST) -> set[str]:
    """Names bound in the scope ``node`` opens: parameters, assignments, imports, nested definitions."""
    bound: set[str] = set()
    declared_global: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        args = node.args
        for arg in (*args.posonlyargs, *args.args, args.vararg, *args.kwonlyargs, args.kwarg):
            if arg is not None:
                bound.add(arg.arg)
        body: list[ast.AST] = list(node.body) if isinstance(node.body, list) else [node.body]
    elif isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        body = [g.target for g in node.generators]
    elif isinstance(node, ast.ClassDef):
        body = list(node.body)
    else:
        body = [node]

    def collect(item: ast.AST) -> None:
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store | ast.Del):
            bound.add(item.id)
        elif isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(item.name)
            return
        elif isinstance(item, ast.Lambda):
            return
        elif isinstance(item, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            if not isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
                bound.update(_walrus_targets(item))
            return
        elif isinstance(item, ast.Import | ast.ImportFrom):
            for alias in item.names:
                if alias.name != "*":
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(item, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and item.name:
            bound.add(item.name)
        elif isinstance(item, ast.MatchMapping) and item.rest:
            bound.add(item.rest)
        elif isinstance(item, ast.Global | ast.Nonlocal):
            declared_global.update(item.names)
        for child in ast.iter_child_nodes(item):
            collect(child)

    for item in body:
        collect(item)
    return bound - declared_global


def _walrus_targets(node: ast.AST) -> set[str]:
    """Names a ``:=`` inside comprehension ``node`` binds in the enclosing scope (not in nested functions)."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.NamedExpr):
            found.add(child.target.id)
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            found |= _walrus_targets(child)
    return found


# -- the notebook's graph -------------------------------------------------------------------
@dataclass(frozen=True)
class Analysis:
    """What each cell of a notebook defines and uses, and which cells it depends on."""

    order: list[str]
    """The cells, in notebook order."""
    defines: dict[str, frozenset[str]] = field(default_factory=dict)
    uses: dict[str, frozenset[str]] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    """For each cell, the cells defining the names it uses, in notebook order."""
    duplicates: dict[str, list[str]] = field(default_factory=dict)
    """Names defined by more than one cell, with those cells: to flag."""
    errors: dict[str, str] = field(default_factory=dict)
    """Cells whose code does not parse, with where and why; they define and use nothing."""

    def children(self, cell: str) -> list[str]:
        return [other for other in self.order if cell in self.parents.get(other, ())]


def analyze(cells: Sequence[_CellLike]) -> Analysis:
    """The dependency graph of a notebook's cells (in notebook order); syntax errors are recorded, not raised."""
    order = [cell.id for cell in cells]
    defines: dict[str, frozenset[str]] = {}
    raw_uses: dict[str, frozenset[str]] = {}
    errors: dict[str, str] = {}
    for cell in cells:
        if cell.kind != "code":
            defines[cell.id], raw_uses[cell.id] = frozenset(), frozenset()
            continue
        try:
            defines[cell.id], raw_uses[cell.id] = _scan(cell.code)
        except SyntaxError as exc:
            errors[cell.id] = _describe(exc)
            defines[cell.id], raw_uses[cell.id] = frozenset(), frozenset()
    definers: dict[str, list[str]] = {}
    for cell_id in order:
        for name in sorted(defines[cell_id]):
            definers.setdefault(name, []).append(cell_id)
    shadowable = (_BUILTINS | PROVIDED) - definers.keys()
    uses = {cell_id: frozenset(raw_uses[cell_id] - shadowable) for cell_id in order}
    position = {cell_id: i for i, cell_id in enumerate(order)}
    parents: dict[str, list[str]] = {}
    for cell_id in order:
        found: set[str] = set()
        for name in uses[cell_id]:
            candidates = [c for c in definers.get(name, ()) if c != cell_id]
            above = [c for c in candidates if position[c] < position[cell_id]]
            if above:
                found.add(above[-1])
            elif candidates:
                found.add(candidates[0])
        parents[cell_id] = sorted(found, key=position.__getitem__)
    duplicates = {name: cells_ for name, cells_ in sorted(definers.items()) if len(cells_) > 1}
    return Analysis(order, defines, uses, parents, duplicates, errors)


def _describe(exc: SyntaxError) -> str:
    where = f"line {exc.lineno}" if exc.lineno else "the code"
    if exc.lineno and exc.offset:
        where += f", column {exc.offset}"
    return f"{where}: {exc.msg}"


def descendants(analysis: Analysis, cell: str) -> list[str]:
    """The cells depending on ``cell``, directly or not, in notebook order."""
    return _closure(analysis, cell, analysis.children)


def ancestors(analysis: Analysis, cell: str) -> list[str]:
    """The cells ``cell`` depends on, directly or not, in notebook order."""
    return _closure(analysis, cell, lambda c: analysis.parents.get(c, []))


def _closure(analysis: Analysis, start: str, step: _Step) -> list[str]:
    seen: set[str] = set()
    todo = list(step(start))
    while todo:
        cell = todo.pop()
        if cell not in seen and cell != start:
            seen.add(cell)
            todo.extend(step(cell))
    return [cell for cell in analysis.order if cell in seen]


class _Step(Protocol):
    def __call__(self, cell: str, /) -> Iterable[str]: ...


def stale_after(analysis: Analysis, ran_cell: str) -> list[str]:
    """The cells made stale by running ``ran_cell``: everything depending on it, in notebook order."""
    return descendants(analysis, ran_cell)


def run_plan(analysis: Analysis, target: str, stale: set[str] | frozenset[str]) -> list[str]:
    """What running ``target`` runs: its stale ancestors, each after the ones it depends on, then ``target``.

    Ties (and cells caught in a dependency cycle, which concurrent definitions can make) keep notebook order.
    """
    todo = [cell for cell in ancestors(analysis, target) if cell in stale]
    plan: list[str] = []
    while todo:
        ready = [c for c in todo if not any(p in todo and p != c for p in analysis.parents.get(c, ()))]
        chosen = ready[0] if ready else todo[0]
        plan.append(chosen)
        todo.remove(chosen)
    return [*plan, target]
