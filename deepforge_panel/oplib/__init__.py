"""Built-in operations, one plain Python file each (the file name is the class name)."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).parent


def builtin_operations() -> dict[str, str]:
    """Name -> source code of every built-in operation."""
    return {path.stem: path.read_text() for path in sorted(_HERE.glob("[A-Z]*.py"))}


__all__ = ["builtin_operations"]
