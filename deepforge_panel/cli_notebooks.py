"""``deepforge-panel notebook import|export|list``: notebooks as percent-format .py files, for editors and CI."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from deepforge_panel.errors import ProjectError


def _open(args: argparse.Namespace):
    from deepforge_panel.workspace import Workspace

    return Workspace(args.home).open(args.project)


def cmd_notebook_import(args: argparse.Namespace) -> int:
    from deepforge_panel.notebook_format import from_percent

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProjectError(f"no file {str(path)!r} to import") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read {str(path)!r}: {exc}") from None
    cells = from_percent(text)
    name = args.name or path.stem
    project = _open(args)
    try:
        if any(notebook.name == name for notebook in project.notebooks.all()):
            raise ProjectError(
                f"project {project.name!r} already has a notebook named {name!r}: choose another with --name NAME"
            )
        project.notebooks.create(name, cells=cells)
        project.commit(f"Import notebook {name} from {path.name}")
    finally:
        project.store.close()
    print(f"imported {path.name} into {project.name} as notebook {name!r} ({len(cells)} cells)")
    return 0


def cmd_notebook_export(args: argparse.Namespace) -> int:
    from deepforge_panel.notebook_format import to_percent

    out = Path(args.out)
    if not out.parent.is_dir():
        raise ProjectError(f"cannot write {str(out)!r}: folder {str(out.parent)!r} does not exist")
    if out.is_dir():
        raise ProjectError(f"cannot write {str(out)!r}: it is a folder; give a file name such as notebook.py")
    project = _open(args)
    try:
        notebook = project.notebooks.find(args.notebook)
    finally:
        project.store.close()
    try:
        out.write_text(to_percent(notebook), encoding="utf-8")
    except OSError as exc:
        raise ProjectError(f"cannot write {str(out)!r}: {exc}") from None
    print(f"exported notebook {notebook.name!r} ({len(notebook.cells)} cells) to {out}")
    return 0


def cmd_notebook_run(args: argparse.Namespace) -> int:
    """Run every code cell top to bottom in a fresh session, printing each cell's outputs; 1 if a cell failed."""
    from deepforge_panel.adapters.compute import compute as make_compute
    from deepforge_panel.cli import _compute_options
    from deepforge_panel.workspace import Workspace

    workspace = Workspace(args.home)
    project = workspace.open(args.project)
    try:
        notebook = project.notebooks.find(args.notebook)
        args.compute = args.compute or notebook.adapter
        adapter = make_compute(args.compute, **_compute_options(args))
        folder = workspace.project_dir(project) / "sessions" / notebook.id
        storage = workspace.orchestrator(project, compute=adapter).storage
        return asyncio.run(_run_notebook(project, notebook.id, adapter, folder, storage))
    finally:
        project.close()


async def _run_notebook(project: Any, notebook_id: str, adapter: Any, folder: Path, storage: Any) -> int:
    from deepforge_panel.notebook_runner import NotebookRunner

    code_cells = [cell.id for cell in project.notebooks.get(notebook_id).cells if cell.kind == "code"]

    def show(cell_id: str, status: str) -> None:
        number = code_cells.index(cell_id) + 1
        print(f"# %% cell {number} of {len(code_cells)}: {status}", flush=True)
        for output in project.notebooks.run_of(cell_id).outputs:
            print(describe_output(output), end="", flush=True)

    async with adapter:
        runner = NotebookRunner(project, notebook_id, adapter, folder, storage=storage)
        try:
            results = await runner.run_all(on_done=show)
        finally:
            await runner.shutdown()
    failed = [(cell, status) for cell, status in results if status != "done"]
    if failed:
        cell, status = failed[0]
        print(f"stopped at cell {code_cells.index(cell) + 1}: {status}", file=sys.stderr)
        return 1
    print(f"all {len(code_cells)} cells ran", flush=True)
    return 0


def describe_output(output: dict[str, Any]) -> str:
    """An output as text for a terminal, ending in a newline."""
    kind = output.get("type")
    if kind == "stream" or kind == "result":
        text = str(output.get("text", ""))
    elif kind == "error":
        text = str(output.get("traceback") or f"{output.get('ename')}: {output.get('evalue')}")
    elif kind == "figure":
        titles = [str(ax.get("title") or "") for ax in (output.get("figure") or {}).get("axes", [])]
        text = f"[figure: {', '.join(t for t in titles if t) or 'untitled'}]"
    elif kind == "embedding":
        count = len((output.get("points") or {}).get("x") or [])
        text = f"[explorer: {output.get('name')}, {count} points, {output.get('method')} embedding]"
    else:
        text = f"[{output.get('text', '')}]"
    return text if text.endswith("\n") else text + "\n"


def cmd_notebook_list(args: argparse.Namespace) -> int:
    project = _open(args)
    try:
        notebooks = project.notebooks.all()
    finally:
        project.store.close()
    if not notebooks:
        print(
            f"{project.name} has no notebooks (import one with: deepforge-panel notebook import {args.project} FILE.py)"
        )
    for notebook in notebooks:
        auto = "auto-run" if notebook.auto_run else "mark stale"
        print(f"{notebook.name}\t{len(notebook.cells)} cells\tadapter {notebook.adapter}\t{auto}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> Any:
    """Add ``notebook`` with its subcommands; returns their subparsers, where more (``run``) can be added."""
    parser = sub.add_parser("notebook", parents=[common], help="import, export and list a project's notebooks")
    actions = parser.add_subparsers(dest="notebook_command", required=True)
    p = actions.add_parser(
        "import", parents=[common], help="add a notebook read from a percent-format .py file (# %%%% cell markers)"
    )
    p.add_argument("project")
    p.add_argument("file", help="the .py file, as jupytext, VS Code or Spyder write it")
    p.add_argument("--name", help="the notebook's name (default: the file's name without .py)")
    p.set_defaults(func=cmd_notebook_import)
    p = actions.add_parser("export", parents=[common], help="write a notebook as a percent-format .py file")
    p.add_argument("project")
    p.add_argument("notebook", help="the notebook's name or id")
    p.add_argument("--out", required=True, help="the .py file to write (overwritten if it exists)")
    p.set_defaults(func=cmd_notebook_export)
    p = actions.add_parser(
        "run", parents=[common], help="run a notebook top to bottom in a fresh session, printing each cell's output"
    )
    p.add_argument("project")
    p.add_argument("notebook", help="the notebook's name or id")
    p.add_argument("--compute", default=None, help="compute adapter: local or dask (default: the notebook's)")
    p.add_argument(
        "--compute-option",
        action="append",
        metavar="KEY=VALUE",
        help="an option of the compute adapter, e.g. n_workers=2, or address=tcp://host:8786 for dask",
    )
    p.set_defaults(func=cmd_notebook_run)
    p = actions.add_parser("list", parents=[common], help="a project's notebooks")
    p.add_argument("project")
    p.set_defaults(func=cmd_notebook_list)
    return actions
