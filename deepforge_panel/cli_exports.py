"""``deepforge-panel export``: a pipeline as a script, a notebook or a folder, or one operation as a ``.py`` file."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_export(args: argparse.Namespace) -> int:
    from deepforge_panel.exports import FORMATS, ExportError, export_operation, export_pipeline
    from deepforge_panel.workspace import Workspace

    if (args.pipeline is None) == (args.operation is None):
        raise ExportError("export a PIPELINE (with --format) or one --operation NAME, not both nor neither")
    project = Workspace(args.home).open(args.project)
    try:
        if args.operation is not None:
            done = export_operation(project, args.operation, args.out)
            what = f"operation {args.operation!r}"
        else:
            fmt = args.format or "script"
            if fmt not in FORMATS:
                raise ExportError(f"--format is one of {', '.join(FORMATS)}, not {fmt!r}")
            done = export_pipeline(project, args.pipeline, fmt, args.out)
            what = f"pipeline {args.pipeline!r} as a {fmt}"
    finally:
        if project.store is not None:
            project.store.close()
    run = {"folder": f"python {done.path}/run.py", "notebook": f"jupyter nbconvert --execute {done.path}"}
    print(f"exported {what} to {done.path}; run it with: {run.get(done.format, f'python {done.path}')}")
    print("it needs: " + (", ".join(done.requirements) or "nothing beyond the standard library"))
    if done.unknown:
        print(f"imported but not installed here (not pinned): {', '.join(done.unknown)}")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> Any:
    """Add ``export``; returns its parser."""
    p = sub.add_parser(
        "export",
        parents=[common],
        help="write a pipeline as a script, notebook or folder (or one operation as a .py) that runs without the "
        "workbench",
    )
    p.add_argument("project")
    p.add_argument("pipeline", nargs="?", help="the pipeline's name or id")
    p.add_argument(
        "--format",
        choices=["script", "notebook", "folder"],
        help="script: one .py file; notebook: an .ipynb, a cell per operation; folder: a file per operation, "
        "requirements.txt and run.py (default: script)",
    )
    p.add_argument("--operation", metavar="NAME", help="export this one operation as a .py file instead")
    p.add_argument("--out", required=True, metavar="PATH", help="the file (or folder) to write; overwritten")
    p.set_defaults(func=cmd_export)
    return p
