"""What a pipeline node runs with: its operation's code and interface, attribute values, generated references
and environment, fixed when an execution starts (and computed the same way to tell which nodes are stale)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from deepforge_panel.adapters.compute import Limits
from deepforge_panel.environments import Environment
from deepforge_panel.interface import Interface
from deepforge_panel.pipelines import NodeId, Pipeline, coerce
from deepforge_panel.references import ResolvedReference, UnbuildableReference, resolve

if TYPE_CHECKING:
    from deepforge_panel.project import Project


@dataclass
class Snapshot:
    """What a node runs with."""

    name: str
    operation_name: str
    code: str
    interface: Interface
    attributes: dict[str, Any]
    references: dict[str, ResolvedReference]
    environment: Environment | None = None
    """What the operation declared its jobs need; None: they run in the workbench's interpreter."""
    limits: Limits = field(default_factory=Limits)
    """How long and how much memory its job may take (not part of its key: they change no result)."""

    def to_dict(self) -> dict[str, Any]:
        """As JSON-able data (kept in the job's folder, for a workbench that follows the job after a restart)."""
        return {
            "name": self.name,
            "operation_name": self.operation_name,
            "code": self.code,
            "interface": self.interface.to_dict(),
            "attributes": self.attributes,
            "references": {name: asdict(ref) for name, ref in self.references.items()},
            "environment": self.environment.to_dict() if self.environment is not None else None,
            "limits": self.limits.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        environment = data.get("environment")
        return cls(
            data["name"],
            data["operation_name"],
            data["code"],
            Interface.from_dict(data["interface"]),
            dict(data["attributes"]),
            {name: ResolvedReference(**ref) for name, ref in data["references"].items()},
            Environment.from_dict(environment) if environment is not None else None,
            Limits.from_dict(data.get("limits")),
        )


def take_snapshot(project: Project, pipeline: Pipeline, node_id: NodeId, override: dict[str, Any]) -> Snapshot:
    """Node ``node_id`` as it would run now, ``override`` applied to its attributes; references generated
    (an :class:`UnbuildableReference` names the one that cannot be)."""
    node = pipeline.nodes[node_id]
    op = project.operations.get(node.operation)
    assert op.interface is not None
    attributes = project.pipelines.effective_attributes(node)
    for key, value in override.items():
        attribute = op.interface.attribute(key)
        assert attribute is not None
        attributes[key] = coerce(attribute, value, node.name)
    references: dict[str, ResolvedReference] = {}
    for name, value in node.references.items():
        try:
            references[name] = resolve(project, value)
        except UnbuildableReference as exc:
            raise UnbuildableReference(f"reference {name!r}: {exc}", place=exc.place) from exc
    limits = project.pipelines.effective_limits(node)
    return Snapshot(node.name, op.name, op.code, op.interface, attributes, references, op.environment, limits)


def library_init() -> list[str]:
    """Init code of every library, for every job: an artifact a library serializes its own way may
    reach a job that never references that library (a model with custom activations being scored)."""
    from deepforge_panel.libraries import loaded_libraries

    return [code for code in (lib.init_code() for lib in loaded_libraries()) if code.strip()]


def project_init(project: Project) -> list[str]:
    """What every job of ``project`` runs before its operation: the libraries' init code, then the project's."""
    return [*library_init(), project.utilities.init_code]
