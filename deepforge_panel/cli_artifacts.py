"""``deepforge-panel artifact export|upload``: an artifact out as a file people can open, a file in as an artifact.

``export`` writes the format its ``--out`` extension names, through :mod:`deepforge_panel.downloads` (the
workbench's downloads, libraries' formats included: a Keras model as ``.keras``); ``upload`` brings a local file
in (:mod:`deepforge_panel.uploads`), a piece at a time, with where it came from as its provenance.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deepforge_panel.errors import NotFound, ProjectError

__all__ = ["add_commands"]


def cmd_artifact_export(args: argparse.Namespace) -> int:
    """Write an artifact in the format its ``--out`` extension names, as the workbench's download does."""
    import asyncio

    from deepforge_panel.artifacts import read_artifact
    from deepforge_panel.downloads import convert, format_for_path
    from deepforge_panel.io_nodes import InputError, find_artifact
    from deepforge_panel.workspace import Workspace

    out = Path(args.out)
    workspace = Workspace(args.home)
    project = workspace.open(args.project)
    try:
        artifact = find_artifact(project, args.artifact)
    except InputError as exc:
        raise NotFound(str(exc), args.artifact) from None
    if not out.parent.is_dir():
        raise ProjectError(f"{str(out)!r}: no folder {str(out.parent)!r} to write into; create it first")
    fmt = format_for_path(artifact.type, out, artifact.name)
    storage = workspace.orchestrator(project).storage
    out.write_bytes(asyncio.run(convert(read_artifact(artifact, storage), artifact.type, fmt, artifact.name)))
    print(f"wrote {artifact.name} ({artifact.id}) to {out}")
    return 0


def cmd_artifact_upload(args: argparse.Namespace) -> int:
    """Store a local file as an artifact of the project."""
    from deepforge_panel.project import default_author
    from deepforge_panel.uploads import upload_file
    from deepforge_panel.workspace import Workspace

    source = Path(args.file)
    if not source.is_file():
        raise ProjectError(f"{str(source)!r} is not a file")
    workspace = Workspace(args.home)
    project = workspace.open(args.project)
    storage = workspace.orchestrator(project).storage
    artifact = project.artifacts.get(upload_file(project, storage, source, args.name, author=default_author()))
    print(
        f"uploaded {source} as artifact {artifact.name} ({artifact.id}): {artifact.size} bytes, sha256 {artifact.hash}"
    )
    print(f"an Input node with artifact={artifact.name!r} feeds it to a pipeline")
    return 0


def add_commands(sub: Any, common: argparse.ArgumentParser) -> Any:
    """Add ``artifact export`` and ``artifact upload``; returns the ``artifact`` parser."""
    parser = sub.add_parser("artifact", parents=[common], help="export an artifact as a file, or upload a file")
    actions = parser.add_subparsers(dest="action", required=True)
    p = actions.add_parser(
        "export",
        parents=[common],
        help="an artifact as the file --out names: a model as .keras, an array as .npy, a table as .csv, "
        "a figure as .png or .svg, an uploaded file as itself, anything as .pkl",
    )
    p.add_argument("project")
    p.add_argument("artifact", help="the artifact's id or name (the newest of that name), e.g. train.model")
    p.add_argument("--out", required=True, help="the file to write; its extension chooses the format")
    p.set_defaults(func=cmd_artifact_export)
    p = actions.add_parser(
        "upload", parents=[common], help="store a local file (any size) as an artifact an Input node can feed"
    )
    p.add_argument("project")
    p.add_argument("file", help="the file to upload")
    p.add_argument("--name", help="the artifact's name (default: the file's name)")
    p.set_defaults(func=cmd_artifact_upload)
    return parser
