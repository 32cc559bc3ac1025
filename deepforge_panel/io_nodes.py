"""Input and Output nodes: where a pipeline takes existing artifacts in and names what it gives out.

An Input node is an instance of the built-in ``Input`` operation (``oplib/Input.py``): no inputs, one
output ``data`` and one attribute ``artifact``, the artifact's name (the newest of that name) or id. An
Output node (``oplib/Output.py``) has one input ``data``, no outputs and one attribute ``name``: what
reaches it is recorded as an artifact of that name, as DeepForge's Output operation saves a result. The
orchestrator runs neither as a job: an Input's output *is* its artifact, an Output's artifact *is* what
reached it (same stored data, same provenance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from deepforge_panel.interface import Interface
from deepforge_panel.oplib import add_builtin

if TYPE_CHECKING:
    from deepforge_panel.artifacts import Artifact
    from deepforge_panel.operations import OperationId
    from deepforge_panel.project import Project

INPUT = "Input"
"""The built-in operation's name (and class name)."""
OUTPUT = "data"
"""Its one output."""
ATTRIBUTE = "artifact"
"""Its one attribute: which artifact it feeds."""

OUTPUT_OPERATION = "Output"
"""The built-in Output operation's name (and class name)."""
INPUT_PORT = "data"
"""An Output's one input."""
NAME = "name"
"""An Output's one attribute: the name of the artifact it records."""


class InputError(LookupError):
    """An Input node that names no artifact of the project."""


def is_input(interface: Interface | None) -> bool:
    """Whether an operation with ``interface`` is an Input: the built-in's name and shape."""
    return (
        interface is not None
        and interface.class_name == INPUT
        and not interface.inputs
        and [p.name for p in interface.outputs] == [OUTPUT]
        and [a.name for a in interface.attributes] == [ATTRIBUTE]
    )


def is_output(interface: Interface | None) -> bool:
    """Whether an operation with ``interface`` is an Output: the built-in's name and shape."""
    return (
        interface is not None
        and interface.class_name == OUTPUT_OPERATION
        and [p.name for p in interface.inputs] == [INPUT_PORT]
        and not interface.outputs
        and [a.name for a in interface.attributes] == [NAME]
    )


def find_artifact(project: Project, name_or_id: str) -> Artifact:
    """The artifact with id ``name_or_id``, else the newest named so; :class:`InputError` saying what there is."""
    wanted = str(name_or_id or "").strip()
    if not wanted:
        raise InputError("no artifact chosen: give the name (or id) of one of the project's artifacts")
    artifacts = project.artifacts.all()  # oldest first
    for artifact in artifacts:
        if artifact.id == wanted:
            return artifact
    named = [a for a in artifacts if a.name == wanted]
    if named:
        return named[-1]
    known = ", ".join(sorted({a.name for a in artifacts})[:20]) or "none yet"
    raise InputError(f"no artifact {wanted!r} in project {project.name!r} (artifacts: {known})")


def input_operation(project: Project) -> OperationId:
    """The project's Input operation, added from the built-in if it has none."""
    return _builtin(project, INPUT, is_input)


def output_operation(project: Project) -> OperationId:
    """The project's Output operation, added from the built-in if it has none."""
    return _builtin(project, OUTPUT_OPERATION, is_output)


def _builtin(project: Project, name: str, fits: Callable[[Interface | None], bool]) -> OperationId:
    for op in project.operations.all():
        if op.name == name and fits(op.interface):
            return op.id
    return add_builtin(project, name)
