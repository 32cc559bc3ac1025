"""A pipeline as a folder: one file per operation, the generated reference code, requirements.txt and run.py.

Laid out as a job folder is (:mod:`deepforge_panel.jobgen`): ``operations/<name>.py`` (each operation's code
as written), ``references/<name>.py`` (a library's generated code, e.g. a Keras architecture's), ``utils/``
(the project's utility modules), ``library_init.py`` (the libraries' and the project's init code), the
runtime pieces in ``deepforge/``, and ``run.py`` that runs them all in the workbench's order.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from deepforge_panel.exports.plan import ExportPlan
from deepforge_panel.exports.render import REFERENCE_HELPER, inputs_block, module_import, run_function, runtime_sources
from deepforge_panel.exports.script import MAIN, usage
from deepforge_panel.jobgen import check_file_names, write_utilities


def render_run(plan: ExportPlan, requirements: list[str]) -> str:
    """The folder's ``run.py``."""
    parts = [
        "#!/usr/bin/env python3\n",
        f'"""{usage(plan, "python run.py", requirements)}"""\n\n',
        "import os\nimport sys\n\n",
        "sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder's modules first\n\n",
        "import deepforge.standalone as _standalone  # noqa: E402\n\n",
        'if __name__ == "__main__":\n    _standalone.use_hash_seed()\n\n',
    ]
    if plan.init_code:
        parts.append("import library_init  # noqa: E402, F401  (the libraries' and the project's init code)\n")
    parts += [module_import(op) for op in plan.operations]
    if plan.references:
        parts.append(REFERENCE_HELPER)
    parts += ["\n\n", inputs_block(plan), "\n\n", run_function(plan), MAIN]
    return "".join(parts)


def folder_files(plan: ExportPlan, requirements_txt: str, requirements: list[str]) -> dict[str, str]:
    """Relative path -> text of every file of the folder except the utilities (written by jobgen)."""
    check_file_names([*(op.module for op in plan.operations), *plan.references], "operation and reference")
    files: dict[str, str] = {}
    for name, code in runtime_sources().items():
        path = "deepforge/__init__.py" if name == "deepforge" else f"deepforge/{name.split('.', 1)[1]}.py"
        files[path] = code
    files["operations/__init__.py"] = '"""The pipeline\'s operations, each as written in the project."""\n'
    for op in plan.operations:
        files[f"operations/{op.module}.py"] = op.code
    if plan.references:
        files["references/__init__.py"] = (
            '"""Code the libraries generated for the references (build() makes each)."""\n'
        )
        for name, code in plan.references.items():
            files[f"references/{name}.py"] = code
    if plan.init_code:
        files["library_init.py"] = plan.init_code
    files["requirements.txt"] = requirements_txt
    files["run.py"] = render_run(plan, requirements)
    return files


def write_folder(plan: ExportPlan, out: Path, requirements_txt: str, requirements: list[str]) -> Path:
    """Write the folder at ``out`` (created; files of an earlier export there are overwritten)."""
    files = folder_files(plan, requirements_txt, requirements)
    out.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    write_utilities(out, plan.utilities)
    return out


def zip_folder(plan: ExportPlan, top: str, requirements_txt: str, requirements: list[str]) -> bytes:
    """The folder as a .zip whose entries sit under ``top/`` (what the download button sends)."""
    import tempfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="deepforge-export-") as tmp:
        root = write_folder(plan, Path(tmp) / top, requirements_txt, requirements)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(root.parent).as_posix())
    return buffer.getvalue()
