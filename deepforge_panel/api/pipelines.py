"""``/projects/{project}/pipelines``: pipelines, their nodes and connections, through :class:`PipelinesView`.

Pipelines, nodes and operations are named by name or id. Every check is the view's own (a cycle, an
unknown port, an attribute value of the wrong type), refused with its message and nothing changed.
"""

from __future__ import annotations

from typing import Any

from deepforge_panel.adapters.compute import Limits
from deepforge_panel.api.declare import ApiError, Call, route
from deepforge_panel.api.edits import Step, live, rehearsed
from deepforge_panel.api.schemas import (
    CONNECTION,
    NAME,
    NODE,
    NUMBER,
    OPTIONAL_NUMBER,
    PIPELINE,
    PIPELINE_SUMMARY,
    STRING,
    VALUES,
    array,
    connection_json,
    node_json,
    obj,
    pipeline_json,
)
from deepforge_panel.errors import NotFound
from deepforge_panel.pipelines import NodeId
from deepforge_panel.project import Project

TAG = "pipelines"
ALL = "/projects/{project}/pipelines"
ONE = "/projects/{project}/pipelines/{pipeline}"
NODES = ONE + "/nodes"
CONNECTIONS = ONE + "/connections"


def _pipeline_id(project: Project, call: Call) -> str:
    return project.pipelines.find(call.params["pipeline"]).id


@route("GET", ALL, "Every pipeline", tag=TAG, response=array(PIPELINE_SUMMARY), errors=(404,))
def list_pipelines(call: Call) -> list[dict[str, Any]]:
    return [{"id": p.id, "name": p.name, "nodes": len(p.nodes)} for p in live(call).pipelines.all()]


@route("GET", ONE, "One pipeline (by name or id) with its nodes and connections", tag=TAG, response=PIPELINE)
def get_pipeline(call: Call) -> dict[str, Any]:
    project = live(call)
    return pipeline_json(project.pipelines.get(_pipeline_id(project, call)))


@route("POST", ALL, "Create an empty pipeline", tag=TAG, body=obj({"name": NAME}), response=PIPELINE, status=201)
def create_pipeline(call: Call) -> dict[str, Any]:
    project = live(call)
    return pipeline_json(project.pipelines.get(project.pipelines.create(call.body["name"])))


@route("PATCH", ONE, "Rename a pipeline", tag=TAG, body=obj({"name": NAME}), response=PIPELINE)
def update_pipeline(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    project.pipelines.rename(pipeline_id, call.body["name"])
    return pipeline_json(project.pipelines.get(pipeline_id))


@route("DELETE", ONE, "Remove a pipeline", tag=TAG, response=obj({"deleted": STRING}))
def delete_pipeline(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    project.pipelines.remove(pipeline_id)
    return {"deleted": pipeline_id}


@route(
    "POST",
    NODES,
    "Add a node: an instance of an operation (by name or id; a built-in one, such as Input, is added to the "
    "project on first use), with attribute values",
    tag=TAG,
    body=obj({"operation": NAME, "name": NAME, "attributes": VALUES, "x": NUMBER, "y": NUMBER}, required=["operation"]),
    response=NODE,
    status=201,
)
def add_node(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    body = call.body

    def add(p: Project) -> NodeId:
        return p.pipelines.add_node(
            pipeline_id,
            _operation(p, body["operation"]),
            name=body.get("name"),
            attributes=body.get("attributes"),
            x=body.get("x", 0.0),
            y=body.get("y", 0.0),
        )

    known = {op.id for op in project.operations.all()} | {op.name for op in project.operations.all()}
    (node_id,) = rehearsed(project, [add], always=body["operation"] not in known)  # adding a built-in is 2 edits
    return node_json(project.pipelines.get(pipeline_id).nodes[node_id])


def _operation(project: Project, name_or_id: str) -> str:
    """The project's operation of that name or id; else the built-in operation of that name (Input, Output...),
    added to the project first, as the pipeline editor's operation list offers them."""
    from deepforge_panel.oplib import add_builtin, builtin_operations

    try:
        return project.operations.find(name_or_id).id
    except NotFound:
        if name_or_id not in builtin_operations():
            raise
    return add_builtin(project, name_or_id)


NODE_CHANGES = obj(
    {
        "name": NAME,
        "attributes": VALUES,
        "references": {"type": "object", "additionalProperties": STRING},
        "x": NUMBER,
        "y": NUMBER,
        "limits": obj({"time_s": OPTIONAL_NUMBER, "memory_mb": OPTIONAL_NUMBER}, required=[]),
    },
    required=[],
)


@route(
    "PATCH",
    NODES + "/{node}",
    "Change a node (by name or id): attribute values, references, name, position, limits; all or nothing",
    tag=TAG,
    body=NODE_CHANGES,
    response=NODE,
)
def update_node(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    node_id = project.pipelines.get(pipeline_id).node(call.params["node"]).id
    body = call.body
    steps = []
    if "attributes" in body:
        steps.append(lambda p: p.pipelines.set_attributes(pipeline_id, node_id, body["attributes"]))
    for name, reference in body.get("references", {}).items():
        steps.append(_set_reference(pipeline_id, node_id, name, reference))
    if "x" in body or "y" in body:
        node = project.pipelines.get(pipeline_id).nodes[node_id]
        x, y = body.get("x", node.x), body.get("y", node.y)
        steps.append(lambda p: p.pipelines.move_node(pipeline_id, node_id, x, y))
    if "limits" in body:
        try:
            limits = Limits(body["limits"].get("time_s"), body["limits"].get("memory_mb"))
        except ValueError as exc:
            raise ApiError(400, f"body.limits: {exc}") from None
        steps.append(lambda p: p.pipelines.set_limits(pipeline_id, node_id, limits))
    if "name" in body:
        steps.append(lambda p: p.pipelines.rename_node(pipeline_id, node_id, body["name"]))
    rehearsed(project, steps)
    return node_json(project.pipelines.get(pipeline_id).nodes[node_id])


def _set_reference(pipeline_id: str, node_id: str, name: str, reference: str) -> Step:
    return lambda project: project.pipelines.set_reference(pipeline_id, node_id, name, reference)


@route(
    "DELETE",
    NODES + "/{node}",
    "Remove a node and its connections",
    tag=TAG,
    response=obj({"deleted": STRING}),
)
def remove_node(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    node_id = project.pipelines.get(pipeline_id).node(call.params["node"]).id
    project.pipelines.remove_node(pipeline_id, node_id)
    return {"deleted": node_id}


@route(
    "POST",
    CONNECTIONS,
    "Connect an output of one node to an input of another (refused on a cycle, an unknown port, a type mismatch)",
    tag=TAG,
    body=obj({"src": NAME, "src_port": NAME, "dst": NAME, "dst_port": NAME}),
    response=CONNECTION,
    status=201,
)
def add_connection(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    body = call.body
    edge_id = project.pipelines.add_edge(pipeline_id, body["src"], body["src_port"], body["dst"], body["dst_port"])
    return connection_json(project.pipelines.get(pipeline_id).edges[edge_id])


@route(
    "DELETE",
    CONNECTIONS + "/{connection}",
    "Remove a connection",
    tag=TAG,
    response=obj({"deleted": STRING}),
)
def remove_connection(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline_id = _pipeline_id(project, call)
    edges = project.pipelines.get(pipeline_id).edges
    if call.params["connection"] not in edges:
        known = ", ".join(edges) or "none"
        raise ApiError(
            404,
            f"pipeline {call.params['pipeline']!r} has no connection {call.params['connection']!r} "
            f"(connections: {known})",
        )
    project.pipelines.remove_edge(pipeline_id, call.params["connection"])
    return {"deleted": call.params["connection"]}
