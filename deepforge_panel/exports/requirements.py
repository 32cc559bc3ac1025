"""An export's requirements.txt: the packages its code imports, pinned to the versions this workbench runs.

Read from the code itself (every ``import``, also those inside functions): each top-level module maps to the
distributions that install it (``importlib.metadata.packages_distributions``), pinned with
:func:`~deepforge_panel.environments.pinned`; the standard library and the export's own modules (``deepforge``,
``utils``, the operations and references) need nothing. Added to those: what the libraries of the references
need to build them (Keras: keras and tensorflow), what reading remote inputs needs (fsspec, s3fs), and the
requirements the operations declared, which win over a pin of the same package.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from deepforge_panel.environments import Environment, pinned, runtime_requirements
from deepforge_panel.exports.plan import ExportPlan

OWN = frozenset({"deepforge", "utils", "operations", "references", "library_init", "__future__"})
"""Modules an export carries itself."""


def imported_modules(code: str) -> set[str]:
    """The top-level modules ``code`` imports absolutely, anywhere in it; none if it does not parse."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def distributions(modules: Iterable[str]) -> tuple[list[str], list[str]]:
    """The installed distributions that provide ``modules`` (sorted, each once), and the modules that are neither
    in the standard library nor installed here (left for the reader to install)."""
    from importlib.metadata import packages_distributions

    provided = packages_distributions()
    found: dict[str, str] = {}
    unknown: list[str] = []
    for module in sorted(set(modules)):
        if module in sys.stdlib_module_names or module in OWN:
            continue
        names = provided.get(module)
        if not names:
            unknown.append(module)
            continue
        for name in names:
            found.setdefault(canonicalize_name(name), name)
    return [found[key] for key in sorted(found)], unknown


def requirements(plan: ExportPlan, local: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The requirements of ``plan`` (lines of requirements.txt) and the modules it imports that are not
    installed here; ``local`` names more modules the export carries (its operations' and references')."""
    from deepforge_panel.libraries import library

    modules: set[str] = set()
    for code in plan.code:
        modules |= imported_modules(code)
    own = set(local) | {op.module for op in plan.operations} | set(plan.utilities) | set(plan.references)
    names, unknown = distributions(modules - own)
    needed = [pinned(name) for name in names]
    for name in plan.libraries:
        needed += library(name).runtime_requirements()
    for source in plan.inputs:
        if source.url:
            needed += runtime_requirements(source.url)
    declared: tuple[str, ...] = ()
    for environment in plan.environments:
        declared = Environment(declared).with_requirements(environment.requirements).requirements
    merged = Environment(declared).with_requirements(tuple(dict.fromkeys(needed))).requirements
    return sorted(merged, key=lambda line: canonicalize_name(Requirement(line).name)), unknown


def requirements_text(plan: ExportPlan, lines: list[str], unknown: list[str]) -> str:
    """requirements.txt for ``lines``, saying where it came from and what it could not place."""
    what = f"pipeline {plan.pipeline!r}" if plan.pipeline else f"operation {plan.steps[-1].node!r}"
    head = [
        f"# The packages {what} of project {plan.project!r} imports, pinned to the versions its workbench runs.",
        f"# Python {sys.version_info.major}.{sys.version_info.minor} (the workbench's).",
    ]
    pythons = sorted({e.python for e in plan.environments if e.python})
    if pythons:
        head.append(f"# The operations declare Python {', '.join(pythons)}.")
    if unknown:
        head.append(
            f"# Imported but not installed where it was exported (install them if needed): {', '.join(unknown)}"
        )
    return "\n".join([*head, *lines]) + "\n"
