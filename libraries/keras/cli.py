"""DeepForge-Keras's ``deepforge-panel`` commands: ``architecture import|export``. (A trained model exports as a
``.keras`` file through the core's ``artifact export``, by the library's download converter.)

Added to the core parser through :meth:`KerasLibrary.add_commands`; Keras is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deepforge_panel.errors import NotFound, ProjectError

if TYPE_CHECKING:
    from deepforge_panel.libraries.keras.architectures import Architecture
    from deepforge_panel.project import Project
    from deepforge_panel.workspace import Workspace

__all__ = ["add_commands"]


def _workspace(args: argparse.Namespace) -> Workspace:
    from deepforge_panel.workspace import Workspace

    return Workspace(args.home)


def _architecture(project: Project, name: str) -> Architecture:
    """The architecture named (or with id) ``name``; NotFound listing the names otherwise."""
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView

    view = ArchitecturesView(project)
    found = [a for a in view.all() if name in (a.name, a.id)]
    if not found:
        names = ", ".join(sorted(a.name for a in view.all())) or "none"
        raise NotFound(f"project {project.name!r} has no architecture {name!r} (architectures: {names})", name)
    return found[0]


def cmd_architecture_import(args: argparse.Namespace) -> int:
    import warnings

    from deepforge_panel.libraries.keras.io import import_model

    functions = {}
    for item in args.function or []:
        fname, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            print(f"deepforge-panel: --function {item!r}: expected NAME=FILE with FILE defining NAME", file=sys.stderr)
            return 2
        try:
            functions[fname] = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            print(f"deepforge-panel: --function {item!r}: {path} is not a text file of Python code", file=sys.stderr)
            return 2
    if not Path(args.file).is_file():
        print(f"deepforge-panel: no model file {args.file!r}", file=sys.stderr)
        return 2
    project = _workspace(args).open(args.project)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            arch_id = import_model(project, args.file, name=args.name, functions=functions)
        for warning in caught:
            print(f"deepforge-panel: warning: {warning.message}", file=sys.stderr)
        print(f"imported {args.file} as architecture {_architecture(project, arch_id).name!r} ({arch_id})")
    finally:
        project.close()
    return 0


def cmd_architecture_export(args: argparse.Namespace) -> int:
    from deepforge_panel.libraries.keras.io import export_json, export_python

    if args.out and not Path(args.out).parent.is_dir():
        raise ProjectError(
            f"--out {args.out!r}: no folder {str(Path(args.out).parent)!r} to write into; create it first"
        )
    project = _workspace(args).open(args.project)
    try:
        arch = _architecture(project, args.name)
        text = export_python(arch) if args.format == "py" else export_json(arch)
    finally:
        project.close()
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote architecture {arch.name!r} to {args.out}")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def add_commands(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """``architecture import|export``, each taking the ``common`` options."""
    p = subparsers.add_parser("architecture", parents=[common], help="import and export Keras architectures")
    arch_sub = p.add_subparsers(dest="action", required=True)
    a = arch_sub.add_parser(
        "import", parents=[common], help="a new architecture from a .keras, legacy .h5 or model JSON file"
    )
    a.add_argument("project")
    a.add_argument("file", help="a .keras file, a legacy .h5 file, or the JSON of model.to_json()")
    a.add_argument("--name", help="the architecture's name (default: the model's)")
    a.add_argument(
        "--function",
        action="append",
        metavar="NAME=FILE",
        help="code the model file lacks: a custom activation or layer class NAME, or the function of the Lambda layer NAME",
    )
    a.set_defaults(func=cmd_architecture_import)
    a = arch_sub.add_parser("export", parents=[common], help="an architecture as Python (build_model()) or Keras JSON")
    a.add_argument("project")
    a.add_argument("name", help="the architecture's name or id")
    a.add_argument("--format", choices=("py", "json"), default="py")
    a.add_argument("--out", help="file to write (default: standard output)")
    a.set_defaults(func=cmd_architecture_export)
