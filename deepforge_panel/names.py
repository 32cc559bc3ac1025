"""Names chosen by users, checked where they enter a project: one rule, one message saying what is allowed."""

from __future__ import annotations

from deepforge_panel.crdt.names import MAX_NAME_LENGTH, NAME_RULE, name_problem
from deepforge_panel.errors import ProjectError

__all__ = ["MAX_NAME_LENGTH", "NAME_RULE", "check_name", "name_problem"]


def check_name(what: str, name: object, error: type[ProjectError] = ProjectError, element: str | None = None) -> str:
    """``name`` if it may name a ``what`` (e.g. "node"); else ``error`` saying why and what is allowed."""
    problem = name_problem(name)
    if problem is not None or not isinstance(name, str):
        raise error(f"{what} name {name!r} is not allowed: {problem} ({NAME_RULE})", element)
    return name
