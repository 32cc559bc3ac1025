"""The Python every export format shares: the run function, the embedded runtime, operations as code.

The run function constructs and executes each operation with jobgen's own calls (:func:`construct_call`,
:func:`execute_call`), as a job's ``main.py`` does, with :class:`deepforge.standalone.Run` in place of the
job: inputs read from paths or URLs, outputs written to a folder as the workbench stores them.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from deepforge_panel.exports.plan import RESERVED, ExportPlan, OperationCode, Step
from deepforge_panel.jobgen import construct_call, execute_call, runtime_files

GENERATED = RESERVED | {"_MODULES", "_install", "_reference", "_standalone", "library_init", "operations", "references"}
"""Top-level names the generated code binds: an operation binding one is kept as a module."""

RUNTIME_MODULES = ("__init__", "feedback", "serialization", "storage", "standalone")
"""The job runtime's modules an export needs (the events channel stays off: no workbench is listening)."""


def runtime_sources() -> dict[str, str]:
    """Module name -> source of the runtime pieces an export carries (the ``deepforge`` package)."""
    files = runtime_files()
    return {
        "deepforge" if name == "__init__" else f"deepforge.{name}": files[f"{name}.py"].decode()
        for name in RUNTIME_MODULES
    }


def literal(text: str) -> str:
    """``text`` as a Python string literal that reads as the text: triple-quoted, lines kept."""
    if "\r" in text or any(ord(c) < 32 and c not in "\n\t" for c in text):
        return repr(text)
    body = text.replace("\\", "\\\\")
    last = len(body) - 1
    escaped = "".join(
        "\\'" if c == "'" and (i == last or "'" in body[max(i - 1, 0) : i] + body[i + 1 : i + 2]) else c
        for i, c in enumerate(body)
    )  # a quote in a run of quotes, or the last character, would end the literal
    return f"'''{escaped}'''"


def value(data: Any) -> str:
    """``data`` (JSON-like attribute values) as Python that evaluates to it."""
    text = repr(data)
    try:
        if ast.literal_eval(text) == data:
            return text
    except (ValueError, SyntaxError):
        pass
    return f"__import__('json').loads({json.dumps(json.dumps(data))})"  # NaN and the like: JSON spells them


BOOTSTRAP = '''

def _install(sources):
    """Make the modules in ``sources`` (name -> code) importable, as files of a folder would be."""
    import importlib.abc
    import importlib.util
    import sys

    packages = {name.rpartition(".")[0] for name in sources if "." in name}

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name in sources or name in packages:
                return importlib.util.spec_from_loader(name, self, is_package=name in packages)
            return None

        def create_module(self, spec):
            return None

        def exec_module(self, module):
            exec(compile(sources.get(module.__name__, ""), f"<{module.__name__}>", "exec"), module.__dict__)

    sys.meta_path.insert(0, Finder())


_install(_MODULES)
'''
"""Installs the modules a single-file export embeds in ``_MODULES``."""


def embedded_modules(plan: ExportPlan, wrapped: list[OperationCode]) -> str:
    """``_MODULES = {...}``: the runtime, the init code, utilities, references and ``wrapped`` operations, as
    source text a single file carries; then the code that makes them importable."""
    modules: dict[str, str] = {}
    for op in wrapped:
        modules[f"operations.{op.module}"] = op.code
    for name, code in plan.references.items():
        modules[f"references.{name}"] = code
    for name, code in plan.utilities.items():
        modules[f"utils.{name}"] = code
    if plan.init_code:
        modules["library_init"] = plan.init_code
    modules.update(runtime_sources())
    entries = "".join(f"    {name!r}: {literal(code)},\n" for name, code in modules.items())
    return f"_MODULES = {{\n{entries}}}\n{BOOTSTRAP}"


def top_level_bindings(code: str) -> dict[str, str] | None:
    """Name -> the top-level statement (dumped) that binds it in ``code``; None when the code cannot share a
    namespace with others (it does not parse, imports from ``__future__`` or ``*``)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    found: dict[str, str] = {}
    for statement in tree.body:
        dump = ast.dump(statement)
        for node in _walk_outside_scopes(statement):
            if isinstance(node, ast.ImportFrom) and (node.module == "__future__" or node.names[0].name == "*"):
                return None
            names: list[str] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [(alias.asname or alias.name).split(".")[0] for alias in node.names]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names = [node.id]
            elif isinstance(node, ast.ExceptHandler) and node.name:
                names = [node.name]
            for name in names:
                found[name] = dump
    return found


def _walk_outside_scopes(node: ast.AST) -> list[ast.AST]:
    """``node`` and what it holds, not looking inside functions, classes and lambdas (their own scopes)."""
    out = [node]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
        return out
    for child in ast.iter_child_nodes(node):
        out.extend(_walk_outside_scopes(child))
    return out


def inlined(operations: list[OperationCode]) -> list[OperationCode]:
    """The operations whose code can stand as written in one shared namespace (a script, a notebook's cells):
    none binds a name another binds differently, nor one the generated code uses; the rest become modules."""
    bound: dict[str, str] = {}
    chosen: list[OperationCode] = []
    for op in operations:
        names = top_level_bindings(op.code)
        if names is None or op.symbol != op.class_name:
            continue
        if any(name in GENERATED for name in names):
            continue
        if any(bound.get(name, dump) != dump for name, dump in names.items()):
            continue
        bound.update(names)
        chosen.append(op)
    return chosen


def module_import(op: OperationCode) -> str:
    """How the run function's namespace gets an operation kept as a module."""
    alias = "" if op.symbol == op.class_name else f" as {op.symbol}"
    return f"from operations.{op.module} import {op.class_name}{alias}\n"


def run_function(plan: ExportPlan) -> str:
    """``def run_pipeline(run)``: every node in the workbench's order, each as its job runs it; returns the
    outputs by file name."""
    lines = [
        "def run_pipeline(run):",
        f'    """Run {_what(plan)} with ``run`` (a ``deepforge.standalone.Run``); the outputs by file name."""',
    ]
    returned: list[tuple[str, str]] = []
    for step in plan.steps:
        lines += _step_lines(step)
        returned += [(step.files[port], var) for port, var in step.outputs.items() if port in step.files]
    lines.append("    return {" + ", ".join(f"{file!r}: {var}" for file, var in returned) + "}")
    return "\n".join(lines) + "\n"


def _what(plan: ExportPlan) -> str:
    if plan.pipeline:
        return f"pipeline {plan.pipeline!r} of project {plan.project!r}".replace('"', "'")
    return f"operation {plan.steps[-1].node!r} of project {plan.project!r}".replace('"', "'")


def _step_lines(step: Step) -> list[str]:
    if step.kind == "input":
        return [f"    # input {step.node!r}", f"    {step.var} = run.input({step.key!r})"]
    if step.kind == "output":
        ((port, source),) = step.inputs.items()
        file = step.files[port]
        return [
            f"    # output {step.node!r}: saved as {file!r}",
            f"    run.output({step.node!r}, {port!r}, {source}, {file!r})",
        ]
    assert step.operation is not None and step.interface is not None
    references = {name: f"_reference({module!r})" for name, module in step.references.items()}
    outputs = [step.outputs[p.name] for p in step.interface.outputs]
    lines = [
        f"    # {step.node!r}: operation {step.operation.name}",
        f"    run.start({step.node!r})",
        f"    operation = {construct_call(step.operation.symbol, references, value(step.attributes))}",
        f"    {execute_call('operation', step.inputs, outputs)}",
    ]
    for port, var in step.outputs.items():
        lines.append(f"    {var} = run.output({step.node!r}, {port!r}, {var}, {step.files[port]!r})")
    lines.append(f"    run.end({step.node!r}, {step.var!r})")
    return lines


REFERENCE_HELPER = '''

def _reference(module):
    """The object a reference names (e.g. a Keras model), built by its library's generated code."""
    import importlib

    return importlib.import_module(f"references.{module}").build()
'''
"""Builds a reference from its generated module, as the job runtime's ``Job.reference`` does."""


def inputs_block(plan: ExportPlan) -> str:
    """``INPUTS`` (input name -> where it is read from by default) and ``HASHES`` (location -> the content hash of
    what the workbench stored there)."""
    inputs = {source.key: source.url for source in plan.inputs}
    hashes = {source.url: source.hash for source in plan.inputs if source.hash and source.url}
    notes = "".join(
        f"# {source.key}: artifact {source.artifact!r} of the project, as the workbench stored it\n"
        for source in plan.inputs
        if source.artifact
    )
    return f"{notes}INPUTS = {value(inputs)}\nHASHES = {value(hashes)}\n"
