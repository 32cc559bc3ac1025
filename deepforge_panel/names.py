"""Names chosen by users, checked where they enter a project: one rule, one message saying what is allowed."""

from __future__ import annotations

import keyword
import re
from collections.abc import Collection

from deepforge_panel.crdt.names import MAX_NAME_LENGTH, NAME_RULE, name_problem
from deepforge_panel.errors import ProjectError

__all__ = ["MAX_NAME_LENGTH", "NAME_RULE", "check_name", "name_problem", "python_name"]

_NOT_IDENTIFIER = re.compile(r"[\W_]+")


def check_name(what: str, name: object, error: type[ProjectError] = ProjectError, element: str | None = None) -> str:
    """``name`` if it may name a ``what`` (e.g. "node"); else ``error`` saying why and what is allowed."""
    problem = name_problem(name)
    if problem is not None or not isinstance(name, str):
        raise error(f"{what} name {name!r} is not allowed: {problem} ({NAME_RULE})", element)
    return name


def python_name(text: str, taken: Collection[str] = (), fallback: str = "data") -> str:
    """``text`` (a user's name for something) as a Python identifier not in ``taken`` (nor a keyword, nor
    ``self``), numbered if need be: ``"digits.data"`` -> ``digits_data``, ``"1st"`` -> ``data_1st``."""
    base = _NOT_IDENTIFIER.sub("_", text).strip("_") or fallback
    if base[0].isdigit() or keyword.iskeyword(base) or base == "self":
        base = f"{fallback}_{base}"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def numbered(base: str, taken: Collection[str]) -> str:
    """``base``, or ``base 2``, ``base 3``, ... the first that is not in ``taken``."""
    name, i = base, 2
    while name in taken:
        name, i = f"{base} {i}", i + 1
    return name
