"""Read an operation's interface (inputs, outputs, attributes, references) from its Python source.

An operation is a plain class in the DeepForge style::

    class Train:
        def __init__(self, architecture, epochs: int = 10, batch_size=32):  # reference, attributes
            ...
        def execute(self, train_data):                                      # inputs
            ...
            return model                                                    # outputs

Parameters of ``__init__`` are attributes (typed by annotation or default; one without a default is a
text, empty until set), except those the operation declares as references (to other resources, such as
an architecture): as in DeepForge, where references are the operation's pointers, whether a parameter is
one is not read from the code but declared beside it. Parameters of ``execute`` are inputs (required
unless they have a default). What ``execute`` returns are its outputs, named as DeepForge names them.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from deepforge_panel.errors import ProjectError

ANY = "Any"
_SCALARS = {"int", "float", "str", "bool"}


class InterfaceError(ProjectError, ValueError):
    """Source that does not define a usable operation, located at a line and column."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(f"line {line}, column {column}: {message}" if line else message)
        self.message = message
        self.line = line
        self.column = column

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class Port:
    """A named input or output; ``type`` is an annotation string, ``Any`` when absent."""

    name: str
    type: str = ANY
    required: bool = True


@dataclass(frozen=True)
class Attribute:
    """A design-time constant passed to ``__init__``; ``choices`` come from ``Literal[...]``."""

    name: str
    type: str
    default: Any
    choices: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Reference:
    """An ``__init__`` parameter without default: a pointer to another resource (an architecture)."""

    name: str
    type: str = ANY


@dataclass(frozen=True)
class Interface:
    """Everything a pipeline needs to know about an operation, read from its code."""

    class_name: str
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    references: tuple[Reference, ...] = ()
    doc: str = ""
    deterministic: bool = True
    """False when the class says ``deterministic = False`` (it reads the clock, the network, ...): its jobs always
    run, never taking an earlier result of the same inputs."""

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def attribute(self, name: str) -> Attribute | None:
        return next((a for a in self.attributes if a.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interface:
        return cls(
            class_name=data["class_name"],
            inputs=tuple(Port(**p) for p in data.get("inputs", ())),
            outputs=tuple(Port(**p) for p in data.get("outputs", ())),
            attributes=tuple(
                Attribute(**{**a, "choices": tuple(a["choices"]) if a.get("choices") is not None else None})
                for a in data.get("attributes", ())
            ),
            references=tuple(Reference(**r) for r in data.get("references", ())),
            doc=data.get("doc", ""),
            deterministic=data.get("deterministic", True),
        )


def parse_interface(source: str, references: Collection[str] = ()) -> Interface:
    """The interface of the operation class in ``source``, whose ``__init__`` parameters named in
    ``references`` are references; raises :class:`InterfaceError`."""
    cls = _operation_class(source)
    execute = _method(cls, "execute")
    assert execute is not None
    init = _method(cls, "__init__")
    attributes, refs = _init_params(init, frozenset(references)) if init is not None else ((), ())
    return Interface(
        class_name=cls.name,
        inputs=_execute_inputs(execute),
        outputs=_execute_outputs(execute),
        attributes=attributes,
        references=refs,
        doc=ast.get_docstring(cls) or "",
        deterministic=_class_flag(cls, "deterministic", True),
    )


def _class_flag(cls: ast.ClassDef, name: str, default: bool) -> bool:
    """The value of a class attribute ``name = True | False`` in the class body; ``default`` when not set so."""
    for statement in cls.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        value = getattr(statement, "value", None)
        named = any(isinstance(t, ast.Name) and t.id == name for t in targets)
        if named and isinstance(value, ast.Constant) and isinstance(value.value, bool):
            return value.value
    return default


def init_parameters(source: str, *, without_default: bool = False) -> list[str]:
    """The names of the operation's ``__init__`` parameters (only those without a default, if asked);
    none when the source does not parse."""
    try:
        init = _method(_operation_class(source), "__init__")
        params = _params(init) if init is not None else []
    except InterfaceError:
        return []
    return [arg.arg for arg, default in params if default is None or not without_default]


def _operation_class(source: str) -> ast.ClassDef:
    """The first class in ``source`` with an ``execute`` method."""
    try:
        module = ast.parse(source)
    except SyntaxError as exc:
        raise InterfaceError(exc.msg, exc.lineno or 0, exc.offset or 0) from None
    classes = [n for n in module.body if isinstance(n, ast.ClassDef)]
    with_execute = [c for c in classes if _method(c, "execute") is not None]
    if not with_execute:
        where = classes[0] if classes else None
        raise InterfaceError(
            "no operation found: define a class with an execute(self, ...) method",
            where.lineno if where else 1,
            (where.col_offset + 1) if where else 1,
        )
    return with_execute[0]


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[ast.arg, ast.expr | None]]:
    """Positional and keyword parameters after ``self``, each with its default (or None)."""
    args = fn.args
    positional = args.posonlyargs + args.args
    if not positional or positional[0].arg not in ("self", "cls"):
        raise InterfaceError(f"{fn.name}() must take self as its first parameter", fn.lineno, fn.col_offset + 1)
    positional = positional[1:]
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults, strict=True))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    return pairs


def _annotation(node: ast.expr | None) -> str:
    return ast.unparse(node) if node is not None else ANY


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InterfaceError(
            f"default value {ast.unparse(node)!r} must be a literal (number, string, bool, None, list, dict)",
            node.lineno,
            node.col_offset + 1,
        ) from None


def _choices(annotation: ast.expr | None) -> tuple[Any, ...] | None:
    """``Literal["a", "b"]`` (or ``typing.Literal``) gives choices."""
    if not isinstance(annotation, ast.Subscript):
        return None
    base = ast.unparse(annotation.value)
    if base not in ("Literal", "typing.Literal"):
        return None
    items = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
    return tuple(ast.literal_eval(i) for i in items)


def _attribute_type(annotation: ast.expr | None, default: Any, choices: tuple[Any, ...] | None) -> str:
    if choices is not None:
        return "choice"
    text = _annotation(annotation)
    if text in _SCALARS:
        return text
    if text.replace(" ", "") in (
        "int|None",
        "float|None",
        "str|None",
        "Optional[int]",
        "Optional[float]",
        "Optional[str]",
    ):
        return text.replace("Optional[", "").replace("]", "").split("|")[0].strip()
    if isinstance(default, bool):
        return "bool"
    for scalar in (int, float, str):
        if isinstance(default, scalar):
            return scalar.__name__
    if isinstance(default, (list, tuple, dict)):
        return "json"
    if annotation is None and default is None:
        return "str"  # as DeepForge types a None default: a text, empty until set
    return text if annotation is not None else "json"


def _init_params(
    init: ast.FunctionDef | ast.AsyncFunctionDef, declared: frozenset[str]
) -> tuple[tuple[Attribute, ...], tuple[Reference, ...]]:
    attributes: list[Attribute] = []
    references: list[Reference] = []
    for arg, default_node in _params(init):
        if arg.arg in declared:
            references.append(Reference(arg.arg, _annotation(arg.annotation)))
            continue
        default = None if default_node is None else _literal(default_node)
        choices = _choices(arg.annotation)
        if choices is not None and default not in choices:
            where = default_node or arg
            raise InterfaceError(
                f"default {default!r} of attribute {arg.arg!r} is not one of its choices {list(choices)}",
                where.lineno,
                where.col_offset + 1,
            )
        attributes.append(Attribute(arg.arg, _attribute_type(arg.annotation, default, choices), default, choices))
    return tuple(attributes), tuple(references)


def _execute_inputs(execute: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[Port, ...]:
    return tuple(
        Port(arg.arg, _annotation(arg.annotation), required=default is None) for arg, default in _params(execute)
    )


def _returns(fn: ast.AST) -> list[ast.Return]:
    """Return statements of ``fn`` itself, not of functions or classes nested in it."""
    found: list[ast.Return] = []
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return):
            found.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda r: (r.lineno, r.col_offset))


def _return_types(execute: ast.FunctionDef | ast.AsyncFunctionDef, count: int) -> list[str]:
    ann = execute.returns
    if ann is None:
        return [ANY] * count
    if count > 1 and isinstance(ann, ast.Subscript) and ast.unparse(ann.value) in ("tuple", "Tuple", "typing.Tuple"):
        items = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if len(items) == count:
            return [ast.unparse(i) for i in items]
    return [ast.unparse(ann)] * count if count == 1 else [ANY] * count


def _output_name(value: ast.expr, index: int) -> str:
    """An output's name as DeepForge gives it: a returned name keeps its name, ``self.x`` gives ``x``, anything
    else is ``result``, ``result_1``, ... by its position."""
    if isinstance(value, ast.Name):
        return value.id
    if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "self":
        return value.attr
    return f"result_{index}" if index else "result"


def _execute_outputs(execute: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[Port, ...]:
    """Outputs from ``execute``'s returns: named after its first top-level return, as DeepForge reads them
    (else after the first return anywhere); every return must give as many values."""
    returns = [r for r in _returns(execute) if r.value is not None and not _is_none(r.value)]
    top = [r for r in returns if r in execute.body]
    names: list[str] | None = None
    for ret in ([top[0]] if top else []) + returns:
        assert ret.value is not None
        values = ret.value.elts if isinstance(ret.value, ast.Tuple) else [ret.value]
        if names is None:
            names = [_output_name(value, index) for index, value in enumerate(values)]
        elif len(values) != len(names):
            raise InterfaceError(
                f"execute() returns {len(names)} values in one place and {len(values)} in another; "
                "every return must give the same outputs",
                ret.lineno,
                ret.col_offset + 1,
            )
    if names is None:
        return ()
    if len(set(names)) != len(names):
        raise InterfaceError(f"execute() returns the same name twice: {names}", execute.lineno, execute.col_offset + 1)
    return tuple(Port(n, t) for n, t in zip(names, _return_types(execute, len(names)), strict=True))


def _is_none(value: ast.expr) -> bool:
    return isinstance(value, ast.Constant) and value.value is None


def ports_compatible(source: str, target: str) -> bool:
    """Whether an output of type ``source`` may feed an input of type ``target``."""
    return ANY in (source, target) or source == target
