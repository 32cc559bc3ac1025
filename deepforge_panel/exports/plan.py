"""What an export runs: a pipeline's nodes in the workbench's order, each as its job would run it.

The plan is taken as a run takes it (the pipeline checked runnable, every node's snapshot: code, attribute
values, generated references; the libraries' and the project's init code and utility modules), and adds the
names the generated code uses: a Python identifier per node, operation, reference and input, and the file each
output is written to. User-chosen names never become identifiers or file names unchecked (:func:`python_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deepforge_panel import io_nodes
from deepforge_panel.environments import Environment
from deepforge_panel.interface import Interface
from deepforge_panel.jobgen import joined_init
from deepforge_panel.names import python_name
from deepforge_panel.pipelines import PipelineError
from deepforge_panel.references import UnbuildableReference
from deepforge_panel.snapshots import project_init, take_snapshot

if TYPE_CHECKING:
    from deepforge_panel.project import Project


@dataclass(frozen=True)
class OperationCode:
    """One operation's code as written, and the names the export gives it."""

    name: str
    module: str
    """Its module (a file ``operations/<module>.py`` in a folder)."""
    class_name: str
    symbol: str
    """The name the run function calls it by: its class name unless two operations share one."""
    code: str


@dataclass(frozen=True)
class InputSource:
    """An Input node: where the artifact it names is stored (the default), by the name ``--input`` takes."""

    node: str
    key: str
    url: str
    hash: str
    artifact: str


@dataclass(frozen=True)
class Step:
    """One node: what it runs with, where its inputs come from, which variables and files its outputs become."""

    node: str
    var: str
    kind: str
    """``operation``, ``input`` (reads an :class:`InputSource`) or ``output`` (writes what reaches it)."""
    operation: OperationCode | None = None
    interface: Interface | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    """Reference parameter -> the module of its generated code (``references/<module>.py``)."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Input port -> the variable holding what flows into it."""
    outputs: dict[str, str] = field(default_factory=dict)
    """Output port -> the variable it is assigned to."""
    files: dict[str, str] = field(default_factory=dict)
    """Output port -> the file (in the output folder) it is written to."""
    key: str = ""
    """An input step's name for ``--input``."""


@dataclass(frozen=True)
class ExportPlan:
    """Everything an export of one pipeline writes, format aside."""

    project: str
    pipeline: str
    steps: list[Step]
    operations: list[OperationCode]
    references: dict[str, str]
    """Module -> the library's generated code (an architecture's ``build()``)."""
    libraries: list[str]
    """The libraries the references use (their runtime requirements go into requirements.txt)."""
    init_code: str
    """The libraries' init code, then the project's (as every job runs it first); "" when there is none."""
    utilities: dict[str, str]
    inputs: list[InputSource]
    environments: list[Environment]
    """What the operations declared they need."""
    project_init: str = ""
    """The project's own part of ``init_code``."""

    @property
    def code(self) -> list[str]:
        """The code whose imports the export needs installed: the operations', the references', the utilities'
        and the project's init code. The libraries' init code imports its library only for that library's objects
        (a Keras model), which the references' libraries or the operations' own imports bring."""
        return [
            *(op.code for op in self.operations),
            *self.references.values(),
            self.project_init,
            *self.utilities.values(),
        ]


RESERVED = frozenset({"run", "run_pipeline", "main", "INPUTS", "HASHES", "OUT", "outputs", "deepforge", "utils"})
"""Names the generated code itself uses: no node or operation variable takes one."""


def plan_pipeline(project: Project, pipeline: str, overrides: dict[str, dict[str, Any]] | None = None) -> ExportPlan:
    """The plan for ``pipeline`` (a name or id) as a run would take it now; PipelineError with every problem."""
    pipelines = project.pipelines
    checked = pipelines.check_runnable(pipelines.find(pipeline).id, overrides)
    order = checked.topological_order()
    snapshots = {}
    problems: list[str] = []
    for nid in order:
        node = checked.nodes[nid]
        try:
            snapshots[nid] = take_snapshot(project, checked, nid, (overrides or {}).get(node.name, {}))
        except UnbuildableReference as exc:
            problems.append(f"{node.name}: {exc}")
    if problems:
        raise PipelineError(f"pipeline {checked.name!r} cannot be exported:\n  - " + "\n  - ".join(problems))
    taken: set[str] = set(RESERVED)
    operations: dict[str, OperationCode] = {}
    references: dict[str, str] = {}
    reference_modules: dict[tuple[str, str], str] = {}
    libraries: list[str] = []
    inputs: list[InputSource] = []
    environments: list[Environment] = []
    steps: list[Step] = []
    produced: dict[tuple[str, str], str] = {}
    for nid in order:
        snap = snapshots[nid]
        var = python_name(snap.name, taken, fallback="node")
        taken.add(var)
        sources = {e.dst_port: produced[(e.src, e.src_port)] for e in checked.incoming(nid)}
        if io_nodes.is_input(snap.interface):
            artifact = io_nodes.find_artifact(project, snap.attributes.get(io_nodes.ATTRIBUTE, ""))
            inputs.append(InputSource(snap.name, var, artifact.url, artifact.hash, artifact.name))
            produced[(nid, io_nodes.OUTPUT)] = var
            steps.append(Step(snap.name, var, "input", outputs={io_nodes.OUTPUT: var}, key=var))
            continue
        if io_nodes.is_output(snap.interface):
            name = str(snap.attributes.get(io_nodes.NAME, ""))
            file = python_name(name, fallback="output")
            steps.append(Step(snap.name, var, "output", inputs=sources, files={io_nodes.INPUT_PORT: file}))
            continue
        op = operations.get(snap.operation_name)
        if op is None:
            module = python_name(snap.operation_name, taken, fallback="operation")
            taken.add(module)
            symbol = snap.interface.class_name
            if symbol in taken:
                symbol = module
            taken.add(symbol)
            op = OperationCode(snap.operation_name, module, snap.interface.class_name, symbol, snap.code)
            operations[snap.operation_name] = op
            if snap.environment is not None:
                environments.append(snap.environment)
        refs: dict[str, str] = {}
        for param, ref in snap.references.items():
            key = (ref.library, ref.resource)
            if key not in reference_modules:
                reference_modules[key] = python_name(ref.name, set(reference_modules.values()), fallback="reference")
                references[reference_modules[key]] = ref.code
            refs[param] = reference_modules[key]
            libraries.append(ref.library)
        outputs: dict[str, str] = {}
        files: dict[str, str] = {}
        for port in snap.interface.outputs:
            outputs[port.name] = python_name(f"{var}_{port.name}", taken)
            taken.add(outputs[port.name])
            files[port.name] = f"{var}.{port.name}"
            produced[(nid, port.name)] = outputs[port.name]
        steps.append(
            Step(snap.name, var, "operation", op, snap.interface, snap.attributes, refs, sources, outputs, files)
        )
    init = joined_init(project_init(project))
    return ExportPlan(
        project=project.name,
        pipeline=checked.name,
        steps=steps,
        operations=list(operations.values()),
        references=references,
        libraries=list(dict.fromkeys(libraries)),
        init_code=init,
        utilities=project.utilities.modules(),
        inputs=inputs,
        environments=environments,
        project_init=project.utilities.init_code,
    )


def plan_operation(project: Project, operation: str) -> ExportPlan:
    """A plan that runs one operation on its own: its inputs read from ``--input PORT=PATH`` (no defaults), its
    attributes at their defaults; refused for an operation with references (they name a project's resources)."""
    op = next((o for o in project.operations.all() if operation in (o.name, o.id)), None)
    if op is None:
        known = ", ".join(sorted(o.name for o in project.operations.all())) or "none"
        raise PipelineError(f"no operation {operation!r} in project {project.name!r} (operations: {known})")
    interface = op.interface
    if interface is None:
        raise PipelineError(f"operation {op.name!r} does not parse: {op.error}")
    if interface.references:
        names = ", ".join(r.name for r in interface.references)
        raise PipelineError(
            f"operation {op.name!r} takes references ({names}), which only a pipeline's node sets: "
            "export the pipeline instead"
        )
    taken = set(RESERVED) | {interface.class_name}
    module = python_name(op.name, RESERVED, fallback="operation")
    code = OperationCode(op.name, module, interface.class_name, interface.class_name, op.code)
    var = python_name(interface.class_name.lower(), taken | {code.module}, fallback="node")
    taken |= {code.module, var}
    inputs = [InputSource(port.name, port.name, "", "", "") for port in interface.inputs]
    steps: list[Step] = []
    sources: dict[str, str] = {}
    for port in interface.inputs:
        sources[port.name] = python_name(port.name, taken)
        taken.add(sources[port.name])
        steps.append(Step(port.name, sources[port.name], "input", key=port.name))
    outputs = {}
    for port in interface.outputs:
        outputs[port.name] = python_name(f"{var}_{port.name}", taken)
        taken.add(outputs[port.name])
    steps.append(
        Step(
            op.name,
            var,
            "operation",
            code,
            interface,
            {a.name: a.default for a in interface.attributes},
            inputs=sources,
            outputs=outputs,
            files={port: f"{code.module}.{port}" for port in outputs},
        )
    )
    init = joined_init(project_init(project))
    return ExportPlan(
        project=project.name,
        pipeline="",
        steps=steps,
        operations=[code],
        references={},
        libraries=[],
        init_code=init,
        utilities=project.utilities.modules(),
        inputs=inputs,
        environments=[op.environment] if op.environment is not None else [],
        project_init=project.utilities.init_code,
    )
