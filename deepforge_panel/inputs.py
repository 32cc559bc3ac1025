"""Input nodes: a pipeline node that feeds an existing artifact of the project to the nodes after it.

An Input node is an instance of the built-in ``Input`` operation (``oplib/Input.py``): no inputs, one
output ``data`` and one attribute ``artifact``, the artifact's name (the newest of that name) or id. The
orchestrator never runs it as a job: its output *is* that artifact, so what it feeds keeps the artifact's
own provenance (a job's, a notebook's, an upload's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepforge_panel.interface import Interface
from deepforge_panel.oplib import builtin_operations

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
    for op in project.operations.all():
        if op.name == INPUT and is_input(op.interface):
            return op.id
    return project.operations.add(builtin_operations()[INPUT], name=INPUT)
