"""Built-in operations, one plain Python file each (the file name is the class name)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deepforge_panel.operations import OperationId
    from deepforge_panel.project import Project

_HERE = Path(__file__).parent

REFERENCES: dict[str, tuple[str, ...]] = {"TrainArchitecture": ("architecture",)}
"""The ``__init__`` parameters of each built-in that are references (declared beside the code, as DeepForge
keeps an operation's pointers)."""


def builtin_operations() -> dict[str, str]:
    """Name -> source code of every built-in operation."""
    return {path.stem: path.read_text() for path in sorted(_HERE.glob("[A-Z]*.py"))}


def add_builtin(project: Project, name: str) -> OperationId:
    """Add built-in operation ``name`` to ``project`` (with its references declared); its id."""
    return project.operations.add(builtin_operations()[name], name=name, references=REFERENCES.get(name, ()))


__all__ = ["REFERENCES", "add_builtin", "builtin_operations"]
