"""Exports that run anywhere: a pipeline as a script, a notebook or a folder; an operation as a ``.py`` file.

Each runs with plain ``python`` (or Jupyter) on a machine without the workbench, reading its inputs from given
paths (by default where the workbench stored them) and writing its outputs to a folder, the same bytes a run
in the workbench stores (:mod:`deepforge_panel.jobruntime.deepforge.standalone`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.errors import ProjectError
from deepforge_panel.exports.folder import write_folder, zip_folder
from deepforge_panel.exports.notebook import render_notebook
from deepforge_panel.exports.plan import ExportPlan, plan_operation, plan_pipeline
from deepforge_panel.exports.requirements import requirements, requirements_text
from deepforge_panel.exports.script import render_script
from deepforge_panel.names import python_name

if TYPE_CHECKING:
    from deepforge_panel.project import Project

__all__ = [
    "FORMATS",
    "Export",
    "ExportError",
    "export_operation",
    "export_pipeline",
    "operation_download",
    "pipeline_download",
    "plan_operation",
    "plan_pipeline",
]

FORMATS = ("script", "notebook", "folder")


class ExportError(ProjectError):
    """An export that cannot be written; the message says why."""


@dataclass(frozen=True)
class Export:
    """What an export wrote: where, and the requirements it lists."""

    path: Path
    format: str
    requirements: list[str]
    unknown: list[str]
    """Modules its code imports that are not installed here (so not pinned)."""


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ExportError(f"export format is one of {', '.join(FORMATS)}, not {fmt!r}")


def _write(plan: ExportPlan, fmt: str, out: Path) -> Export:
    lines, unknown = requirements(plan)
    text = requirements_text(plan, lines, unknown)
    try:
        if fmt == "folder":
            if out.exists() and not out.is_dir():
                raise ExportError(f"cannot write the folder {str(out)!r}: a file of that name exists")
            write_folder(plan, out, text, lines)
        else:
            if out.is_dir():
                raise ExportError(f"cannot write {str(out)!r}: it is a folder; give a file name")
            if not out.parent.is_dir():
                raise ExportError(f"cannot write {str(out)!r}: folder {str(out.parent)!r} does not exist")
            source = render_script(plan, out.name, lines) if fmt == "script" else render_notebook(plan, lines)
            out.write_text(source, encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    return Export(out, fmt, lines, unknown)


def export_pipeline(
    project: Project, pipeline: str, fmt: str, out: str | Path, overrides: dict[str, dict[str, Any]] | None = None
) -> Export:
    """Write ``pipeline`` (a name or id) of ``project`` as ``fmt`` (script, notebook or folder) at ``out``."""
    _check_format(fmt)
    return _write(plan_pipeline(project, pipeline, overrides), fmt, Path(out))


def export_operation(project: Project, operation: str, out: str | Path) -> Export:
    """Write one operation (a name or id) as a ``.py`` script: its code as written, runnable on its own."""
    return _write(plan_operation(project, operation), "script", Path(out))


EXTENSIONS = {"script": ".py", "notebook": ".ipynb", "folder": ".zip"}
MIME = {"script": "text/x-python", "notebook": "application/x-ipynb+json", "folder": "application/zip"}


def pipeline_download(project: Project, pipeline: str, fmt: str) -> tuple[str, bytes]:
    """(file name, bytes) of ``pipeline`` exported as ``fmt``, for a download: a folder comes as a .zip."""
    _check_format(fmt)
    plan = plan_pipeline(project, pipeline)
    stem = python_name(plan.pipeline, fallback="pipeline")
    filename = f"{stem}{EXTENSIONS[fmt]}"
    lines, unknown = requirements(plan)
    if fmt == "folder":
        return filename, zip_folder(plan, stem, requirements_text(plan, lines, unknown), lines)
    if fmt == "script":
        return filename, render_script(plan, filename, lines).encode()
    return filename, render_notebook(plan, lines).encode()


def operation_download(project: Project, operation: str) -> tuple[str, bytes]:
    """(file name, bytes) of one operation (a name or id) as a runnable ``.py`` script, for a download."""
    plan = plan_operation(project, operation)
    filename = f"{plan.operations[0].module}.py"
    lines, _unknown = requirements(plan)
    return filename, render_script(plan, filename, lines).encode()
