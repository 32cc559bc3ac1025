"""A pipeline (or one operation) as a single Python script that runs with plain ``python``.

The script carries what a job folder would hold: the runtime pieces, the libraries' and the project's init
code, utility modules and generated references as embedded modules at its top; then each operation's code as
written (as a module instead where it would clash with another's names), and the run function.
"""

from __future__ import annotations

from deepforge_panel.exports.plan import ExportPlan
from deepforge_panel.exports.render import (
    REFERENCE_HELPER,
    embedded_modules,
    inlined,
    inputs_block,
    module_import,
    run_function,
)
from deepforge_panel.jobgen import in_docstring


def usage(plan: ExportPlan, command: str, requirements: list[str]) -> str:
    """What a reader of the export needs first: what it is, how to run it, its inputs, outputs and packages."""
    what = f"Pipeline {plan.pipeline!r}" if plan.pipeline else f"Operation {plan.steps[-1].node!r}"
    inputs = "".join(
        f"    {source.key}: {'default ' + source.url if source.url else 'no default: give it'}\n"
        for source in plan.inputs
    )
    needs = "".join(f"    {line}\n" for line in requirements) or "    nothing beyond the standard library\n"
    text = (
        f"{what} of project {plan.project!r}, exported from DeepForge-Panel.\n\n"
        f"Runs with plain Python, without the workbench: {command} [--input NAME=PATH] [--out FOLDER]\n\n"
        f"Inputs (--input NAME=PATH, a file or URL holding an artifact as the workbench stores it):\n"
        f"{inputs or '    none' + chr(10)}\n"
        "Outputs go to the output folder (default ./outputs), each as the workbench stores an artifact (the same\n"
        "bytes, the same content hash); outputs.json there lists them. deepforge.standalone.load(path) reads one.\n\n"
        "Operations run in the workbench's order, each from the state its job starts in: Python's random seeded\n"
        "with 0 and PYTHONHASHSEED=0 (restarted with it if need be), so fixed seeds give the workbench's results.\n\n"
        f"Packages it needs (pip install):\n{needs}"
    )
    return in_docstring(text)


def render_script(plan: ExportPlan, filename: str, requirements: list[str]) -> str:
    """The script's source; ``filename`` is what it will be saved as (for its usage line)."""
    inline = inlined(plan.operations)
    wrapped = [op for op in plan.operations if op not in inline]
    parts = [
        "#!/usr/bin/env python3\n",
        f'"""{usage(plan, f"python {filename}", requirements)}"""\n\n',
        embedded_modules(plan, wrapped),
        "\nimport deepforge.standalone as _standalone  # noqa: E402\n\n",
        'if __name__ == "__main__":\n    _standalone.use_hash_seed()\n',
    ]
    if plan.init_code:
        parts.append("\nimport library_init  # noqa: E402, F401  (the libraries' and the project's init code)\n")
    for op in inline:
        parts.append(f"\n\n# -- operation {op.name}, as written in the project {'-' * 40}\n\n{op.code.strip()}\n")
    if wrapped:
        names = ", ".join(op.name for op in wrapped)
        note = f"# operations {names}: as written, in _MODULES above (their names clash with another's)\n"
        parts.append("\n\n" + note + "".join(module_import(op) for op in wrapped))
    if plan.references:
        parts.append(REFERENCE_HELPER)
    parts += [
        "\n\n",
        inputs_block(plan),
        "\n\n",
        run_function(plan),
        MAIN,
    ]
    return "".join(parts)


MAIN = '''

def main(argv=None):
    """Read the inputs from where --input says (or their defaults), run, write the outputs to --out."""
    inputs, out = _standalone.parse_arguments(argv, INPUTS, __doc__.splitlines()[0])
    return run_pipeline(_standalone.Run(out, inputs, HASHES))


if __name__ == "__main__":
    main()
'''
