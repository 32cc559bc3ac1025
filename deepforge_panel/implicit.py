"""Implicit operations: what a notebook's cells did to make an artifact, turned back into a pipeline.

An artifact a notebook saved (``artifacts.save`` in a cell) records an ``ImplicitOperation`` provenance:
the code of the chain of cells it depends on, in order, the artifacts they loaded and the session's
adapter. :func:`operation_code` writes that chain as a plain operation: one input per loaded artifact,
``execute`` runs the cells in order with stand-ins for ``artifacts`` (loads give the inputs, saves are
kept) and ``explorer`` (it draws nothing; ``take`` selects rows as ``deepforge.explore.take`` does) and
returns the saved value. :func:`reify_implicit` builds the pipeline: an Input node per loaded artifact
feeding that operation; running it gives the artifact again (the same content hash when the cells are
deterministic).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from deepforge_panel.errors import ProjectError
from deepforge_panel.io_nodes import ATTRIBUTE, OUTPUT, input_operation
from deepforge_panel.jobruntime.deepforge import explore
from deepforge_panel.names import python_name

if TYPE_CHECKING:
    from deepforge_panel.pipelines import PipelineId
    from deepforge_panel.project import Project

TAKE = "\n\n".join(inspect.getsource(f) for f in (explore.take, explore._rows))
"""How ``explorer.take`` selects rows, as code: a recreated selection takes them just as the session did."""

IMPLICIT = "ImplicitOperation"
"""The provenance kind of an artifact a notebook saved."""

_TEMPLATE = '''"""Recreates artifact {output!r} as notebook {notebook!r} made it: its cells, run in order."""

from __future__ import annotations

CELLS = [
{cells}]
"""(label, code) of each cell of the chain, as they ran."""


class {class_name}:
    """Artifact {output!r} of notebook {notebook!r}: its {count} cell(s) run in order; what they loaded are the inputs."""

    def execute(self{params}):
        artifacts = _Artifacts({{{loaded}}})
        namespace = {{"__name__": "__main__", "artifacts": artifacts, "explorer": _Explorer()}}
        for label, code in CELLS:
            exec(compile(code, label, "exec"), namespace)
        {result} = artifacts.saved[{output!r}]
        return {result}


class _Artifacts:
    """The notebook's ``artifacts`` in a job: a load gives one of the inputs, a save is kept for the output."""

    def __init__(self, loaded):
        self.loaded = loaded
        self.saved = {{}}

    def load(self, name):
        if name not in self.loaded:
            raise LookupError(f"the notebook did not load {{name!r}} when it made this artifact")
        return self.loaded[name]

    def save(self, value, name):
        self.saved[name] = value
        return name


class _Explorer:
    """The notebook's ``explorer`` in a job: draws nothing, keeps what it is shown for the rows taken from it."""

    def __init__(self):
        self.shown = {{}}

    def show(self, data, labels=None, predictions=None, *, name="data", **options):
        self.shown[str(name)] = data

    def take(self, name, rows):
        return take(self.shown[name], rows)


{take}'''


def _identifier(text: str, taken: set[str], fallback: str) -> str:
    """``text`` as a Python identifier not in ``taken``, which it joins."""
    name = python_name(text, taken, fallback)
    taken.add(name)
    return name


def loaded_inputs(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(input port, loaded artifact) for each distinct artifact the chain loaded, in the order first loaded."""
    seen: dict[str, dict[str, Any]] = {}
    for item in record.get("loaded", []):
        seen.setdefault(item["artifact"], item)
    taken: set[str] = set()
    return [(_identifier(item.get("name") or artifact, taken, "data"), item) for artifact, item in seen.items()]


def operation_code(record: dict[str, Any]) -> str:
    """The chain of cells of an ``ImplicitOperation`` record as an operation's source code."""
    if record.get("kind") != IMPLICIT:
        raise ValueError(f"not an {IMPLICIT} record: {record.get('kind')!r}")
    ports = loaded_inputs(record)
    loaded: list[str] = []
    for port, item in ports:  # a cell may have loaded it by name or by id
        for key in dict.fromkeys([item.get("name"), item["artifact"]]):
            if key:
                loaded.append(f"{key!r}: {port}")
    cells = "".join(f"    ({f'<cell {n}>'!r}, {cell['code']!r}),\n" for n, cell in enumerate(record["cells"], 1))
    output = record["output"]
    return _TEMPLATE.format(
        take=TAKE,
        output=output,
        notebook=record.get("notebook", ""),
        class_name=_identifier(f"{record.get('notebook', '')}_{output}".title(), set(), "Notebook"),
        count=len(record["cells"]),
        cells=cells,
        params="".join(f", {port}" for port, _ in ports),
        loaded=", ".join(loaded),
        result=_identifier(output, {p for p, _ in ports} | {"artifacts", "namespace", "label", "code"}, "result"),
    )


def reify_implicit(project: Project, record: dict[str, Any], pipeline_id: PipelineId) -> None:
    """Fill ``pipeline_id`` with the record's operation, fed by an Input node per artifact it loaded."""
    code = operation_code(record)
    op_id = next((op.id for op in project.operations.all() if op.code == code), None)
    if op_id is None:
        op_id = project.operations.add(code)
    operation = project.operations.get(op_id)
    if operation.interface is None:
        raise ProjectError(f"the notebook's cells do not make an operation: {operation.error}", op_id)
    ports = loaded_inputs(record)
    source = input_operation(project) if ports else None
    fed = {
        port: project.pipelines.add_node(
            pipeline_id, source, name=port, attributes={ATTRIBUTE: item["artifact"]}, x=0.0, y=120.0 * row
        )
        for row, (port, item) in enumerate(ports)
        if source is not None
    }
    made = project.pipelines.add_node(pipeline_id, op_id, x=260.0, y=0.0)
    for port, node in fed.items():
        project.pipelines.add_edge(pipeline_id, node, OUTPUT, made, port)
