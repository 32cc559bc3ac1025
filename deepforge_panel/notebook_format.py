"""The percent format (``# %%`` cell markers, as jupytext, VS Code and Spyder write): notebooks as plain .py files.

A code cell's text is kept exactly, blank lines inside it included; only the whitespace at its end is
dropped, on import and export alike, so export then import gives back the same cells.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from deepforge_panel.notebooks import Notebook

__all__ = ["from_percent", "to_percent"]

_MARKER: Final = re.compile(r"^#\s*%%(?!%)(?P<rest>.*)$")
_MARKDOWN: Final = re.compile(r"^\s*\[(markdown|md)\]")


def to_percent(notebook: Notebook) -> str:
    """The notebook as a percent-format script: one ``# %%`` block per cell, a blank line between cells."""
    blocks = []
    for cell in notebook.cells:
        if cell.kind == "markdown":
            lines = [f"# {line}".rstrip() for line in cell.code.rstrip().splitlines()]
            blocks.append("\n".join(["# %% [markdown]", *lines]))
        else:
            code = cell.code.rstrip()
            blocks.append(f"# %%\n{code}" if code else "# %%")
    return "\n\n".join(blocks) + "\n" if blocks else ""


def from_percent(text: str) -> list[tuple[str, str]]:
    """The cells of a percent-format script as (kind, code); a title or metadata after ``# %%`` is ignored.

    Text before the first marker is a code cell if it is not blank.
    """
    cells: list[tuple[str, list[str]]] = []
    kind, lines = "code", []
    first = True
    for line in text.splitlines():
        marker = _MARKER.match(line)
        if marker is None:
            lines.append(line)
            continue
        if not first or "\n".join(lines).strip():
            cells.append((kind, lines))
        first = False
        kind = "markdown" if _MARKDOWN.match(marker["rest"]) else "code"
        lines = []
    if not first or "\n".join(lines).strip():
        cells.append((kind, lines))
    return [(kind, _markdown(lines) if kind == "markdown" else "\n".join(lines).rstrip()) for kind, lines in cells]


def _markdown(lines: list[str]) -> str:
    """Markdown text from its ``# ``-commented lines."""
    out = []
    for line in lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.startswith("#"):
            out.append(line[1:])
        else:
            out.append(line)
    return "\n".join(out).strip("\n").rstrip()
