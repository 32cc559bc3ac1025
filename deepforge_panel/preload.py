"""What a job is going to import, for an adapter's warm processes to import ahead (``JobSpec.preload``).

Every job imports the job runtime and fsspec; beyond that, the modules the operation imports anywhere in its
code (running it runs its methods) and the modules its other code (references, library init code, utility
modules) imports when loaded (not inside functions, which may never run), when their package is one known to
import cleanly ahead of a fork: no threads of its own left running, no state tied to the importing process.
Other imports are left to the job itself.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable

__all__ = ["ALWAYS", "PRELOADABLE", "imported_packages", "job_preload"]

ALWAYS: tuple[str, ...] = ("deepforge.runtime", "fsspec", "fsspec.implementations.local")
"""What every job imports."""

PRELOADABLE = frozenset(
    {"numpy", "pandas", "scipy", "sklearn", "matplotlib", "PIL", "h5py", "tensorflow", "keras", "torch", "s3fs"}
)
"""Top-level packages whose modules may be imported ahead."""


def job_preload(operation: str, loaded: Iterable[str] = ()) -> tuple[str, ...]:
    """The modules to import ahead for a job running ``operation`` (code) with ``loaded`` (the other code it
    loads), in the order the code names them."""
    modules = dict.fromkeys(ALWAYS)
    names = [*_imports(operation, functions=True)]
    for source in loaded:
        names += _imports(source, functions=False)
    for name in names:
        if name.partition(".")[0] in PRELOADABLE:
            modules.setdefault(name)
    return tuple(modules)


def imported_packages(sources: Iterable[str]) -> set[str]:
    """The top-level names of every module ``sources`` import by absolute name, anywhere in them."""
    return {name.partition(".")[0] for source in sources for name in _imports(source, functions=True)}


@functools.lru_cache(maxsize=512)
def _imports(source: str, *, functions: bool) -> tuple[str, ...]:
    """Every module ``source`` imports by absolute name (``import a.b``, ``from a.b import c``), inside function
    bodies too if ``functions``; none if it does not parse (the job will say why)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    names: list[str] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        if functions or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(reversed(list(ast.iter_child_nodes(node))))
    return tuple(names)
