"""A pipeline as a Jupyter notebook: a setup cell, one cell per operation, a parameters cell and a run cell.

Written as nbformat 4 JSON directly (the format is small and stable), so exporting needs no Jupyter package.
The kernel cannot be restarted with ``PYTHONHASHSEED=0`` from inside, so the setup cell says when it lacks it.
"""

from __future__ import annotations

import json
from typing import Any

from deepforge_panel.exports.plan import ExportPlan
from deepforge_panel.exports.render import (
    REFERENCE_HELPER,
    embedded_modules,
    inlined,
    inputs_block,
    literal,
    module_import,
    run_function,
)
from deepforge_panel.exports.script import usage

NBFORMAT = (4, 5)


def _cell(kind: str, source: str, number: int) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": f"cell-{number}",
        "metadata": {},
        "source": source.strip("\n").splitlines(keepends=True),
    }
    if kind == "code":
        cell |= {"execution_count": None, "outputs": []}
    return cell


def notebook_cells(plan: ExportPlan, requirements: list[str]) -> list[tuple[str, str]]:
    """(kind, source) of every cell, in order."""
    inline = inlined(plan.operations)
    text = usage(plan, "jupyter nbconvert --to notebook --execute THIS.ipynb", requirements)
    intro = text.replace("--input NAME=PATH", "(set INPUTS in the parameters cell)", 1).replace(
        "[--out FOLDER]", "(OUT sets the output folder)", 1
    )
    cells = [("markdown", "```text\n" + intro + "```")]
    setup = embedded_modules(plan, []) + "\nimport deepforge.standalone as _standalone\n\n"
    setup += "if _standalone.hash_seed_note():\n    print(_standalone.hash_seed_note())\n"
    if plan.init_code:
        setup += "\nimport library_init  # noqa: F401  (the libraries' and the project's init code)\n"
    if plan.references:
        setup += REFERENCE_HELPER
    cells.append(("code", setup))
    for op in plan.operations:
        if op in inline:
            cells.append(("code", f"# operation {op.name}, as written in the project\n\n{op.code.strip()}\n"))
        else:
            body = f"_install({{{f'operations.{op.module}'!r}: {literal(op.code)}}})\n{module_import(op)}"
            cells.append(("code", f"# operation {op.name}, as written in the project (kept as a module)\n{body}"))
    cells.append(
        (
            "code",
            "# Parameters: where each input is read from (a path or URL) and the folder the outputs go to.\n"
            f"{inputs_block(plan)}OUT = 'outputs'\n",
        )
    )
    cells.append(
        (
            "code",
            run_function(plan)
            + "\n\noutputs = run_pipeline(_standalone.Run(OUT, INPUTS, HASHES, close_figures=False))\n",
        )
    )
    return cells


def render_notebook(plan: ExportPlan, requirements: list[str]) -> str:
    """The ``.ipynb`` JSON."""
    cells = [_cell(kind, source, i) for i, (kind, source) in enumerate(notebook_cells(plan, requirements), start=1)]
    document = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": NBFORMAT[0],
        "nbformat_minor": NBFORMAT[1],
    }
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"
