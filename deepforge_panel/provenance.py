"""Provenance: how an artifact was made, recursively, and the way back to a runnable pipeline.

Each artifact made by a job carries an ``ExecutedJob`` record (the seed's ImplicitOperation):
the operation's code and interface as they ran, the attribute values, and for each input
the artifact that fed it with that artifact's own provenance. Nothing else is needed to
rebuild the pipeline, even after the project's operations have changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepforge_panel.environments import Environment
from deepforge_panel.errors import ProjectError
from deepforge_panel.implicit import IMPLICIT, reify_implicit
from deepforge_panel.interface import Interface
from deepforge_panel.io_nodes import ATTRIBUTE, OUTPUT, input_operation
from deepforge_panel.names import MAX_NAME_LENGTH, name_problem

if TYPE_CHECKING:
    from deepforge_panel.pipelines import PipelineId
    from deepforge_panel.project import Project


def executed_job(
    *,
    execution: str,
    job: str,
    node: str,
    pipeline: str,
    commit: str,
    operation_name: str,
    code: str,
    interface: Interface,
    attributes: dict[str, Any],
    output: str,
    inputs: dict[str, dict[str, Any]],
    references: dict[str, dict[str, Any]] | None = None,
    environment: dict[str, Any] | None = None,
    caveats: tuple[str, ...] | list[str] = (),
) -> dict[str, Any]:
    """The provenance record of output ``output`` of one job; ``inputs`` hold their artifacts' records;
    ``environment`` is what the operation declared it needs (``Environment.to_dict``), if anything; ``caveats``
    why running the job again might not give the same bits (a GPU, threaded kernels), if anything."""
    operation: dict[str, Any] = {"name": operation_name, "code": code, "interface": interface.to_dict()}
    if environment is not None:
        operation["environment"] = environment
    extra: dict[str, Any] = {"caveats": list(caveats)} if caveats else {}
    return {
        "kind": "ExecutedJob",
        "execution": execution,
        "job": job,
        "node": node,
        "pipeline": pipeline,
        "commit": commit,
        "operation": operation,
        "attributes": attributes,
        "references": references or {},
        "output": output,
        "inputs": inputs,
        **extra,
    }


def lineage(provenance: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every distinct ExecutedJob in a provenance tree, inputs before the jobs they fed."""
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(record: dict[str, Any] | None) -> None:
        if not record or record.get("kind") != "ExecutedJob" or record["job"] in seen:
            return
        for source in record["inputs"].values():
            visit(source.get("provenance"))
        seen.add(record["job"])
        ordered.append(record)

    visit(provenance)
    return ordered


def reify(project: Project, artifact_id: str, name: str | None = None) -> PipelineId:
    """A new pipeline in ``project`` that recomputes ``artifact_id`` from its provenance.

    Operations are matched by code: an existing operation with the very same code is reused,
    otherwise the snapshot becomes a new operation. An input whose artifact no job made (a notebook's,
    an upload) is fed by an Input node naming that artifact, if the project still has it; else it is left
    unconnected for the user to supply. An artifact a notebook made becomes its chain of cells as one
    operation (``deepforge_panel.implicit``).
    """
    artifact = project.artifacts.get(artifact_id)
    if (artifact.provenance or {}).get("kind") == IMPLICIT:
        pipeline_id = project.pipelines.create(name or _free_name(project, f"reproduce {artifact.name}"))
        reify_implicit(project, artifact.provenance or {}, pipeline_id)
        return pipeline_id
    records = lineage(artifact.provenance)
    if not records:
        raise ProjectError(f"artifact {artifact.name!r} has no provenance to rebuild a pipeline from", artifact.id)
    by_code = {(op.code, _declared(op.environment)): op.id for op in project.operations.all()}
    pipeline_id = project.pipelines.create(name or _free_name(project, f"reproduce {artifact.name}"))
    nodes: dict[str, str] = {}
    for depth, record in enumerate(records):
        code = record["operation"]["code"]
        environment = record["operation"].get("environment")
        op_id = by_code.get((code, _declared(environment)))
        interface = Interface.from_dict(record["operation"]["interface"])
        if op_id is None:
            op_id = by_code[code, _declared(environment)] = project.operations.add(
                code, name=_usable(record["operation"]["name"]), references=[r.name for r in interface.references]
            )
            if environment is not None:
                project.operations.set_environment(op_id, Environment.from_dict(environment))
        known = {a.name for a in interface.attributes}
        nodes[record["job"]] = project.pipelines.add_node(
            pipeline_id,
            op_id,
            name=_usable(record["node"], _node_names(project, pipeline_id)),
            attributes={k: v for k, v in record["attributes"].items() if k in known},
            x=220.0 * depth,
            y=0.0,
        )
    fed_by: dict[str, str] = {}
    """Input nodes by the artifact they feed."""
    for record in records:
        for ref_name, ref in record.get("references", {}).items():
            value = f"{ref['library']}:{ref['resource']}"
            try:
                project.pipelines.set_reference(pipeline_id, nodes[record["job"]], ref_name, value)
            except ValueError:
                pass  # the resource is gone: the reference stays unset for the user to choose
        for port, source in record["inputs"].items():
            upstream = source.get("provenance")
            if upstream and upstream.get("kind") == "ExecutedJob":
                project.pipelines.add_edge(
                    pipeline_id, nodes[upstream["job"]], upstream["output"], nodes[record["job"]], port
                )
            elif source.get("artifact") in project.artifacts.ids():  # made elsewhere (a notebook, an upload)
                fed = fed_by.get(source["artifact"])
                if fed is None:
                    fed = fed_by[source["artifact"]] = project.pipelines.add_node(
                        pipeline_id, input_operation(project), attributes={ATTRIBUTE: source["artifact"]}, x=-220.0
                    )
                project.pipelines.add_edge(pipeline_id, fed, OUTPUT, nodes[record["job"]], port)
    return pipeline_id


def _node_names(project: Project, pipeline_id: str) -> set[str]:
    return {n.name for n in project.pipelines.get(pipeline_id).nodes.values()}


def _free_name(project: Project, base: str) -> str:
    """``base`` made a valid name (a recorded name may not be one), numbered until no pipeline has it."""
    taken = {p.name for p in project.pipelines.all()}
    cleaned = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in base)
    base = cleaned[: MAX_NAME_LENGTH - 8].strip() or "reproduced"
    name, i = base, 2
    while name in taken:
        name, i = f"{base} ({i})", i + 1
    return name


def _usable(name: str, taken: set[str] | frozenset[str] = frozenset()) -> str | None:
    """``name`` as recorded, unless taken or not a valid name (a record from elsewhere): then None, for a default."""
    return name if name not in taken and name_problem(name) is None else None


def _declared(environment: Environment | dict[str, Any] | None) -> str:
    """An operation's environment as reification matches it: its key, or "" for none."""
    if isinstance(environment, dict):
        environment = Environment.from_dict(environment)
    return environment.key if environment is not None else ""
