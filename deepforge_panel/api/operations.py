"""``/projects/{project}/operations``: operations' code and interfaces, through :class:`OperationsView`."""

from __future__ import annotations

from typing import Any

from deepforge_panel.api.declare import Call, route
from deepforge_panel.api.edits import live, rehearsed
from deepforge_panel.api.schemas import NAME, OPERATION, STRING, STRINGS, array, obj, operation_json
from deepforge_panel.project import Project

TAG = "operations"
ONE = "/projects/{project}/operations/{operation}"


def _json(project: Project, op_id: str) -> dict[str, Any]:
    return operation_json(project.operations.get(op_id), project.operations.references_of(op_id))


@route("GET", "/projects/{project}/operations", "Every operation", tag=TAG, response=array(OPERATION), errors=(404,))
def list_operations(call: Call) -> list[dict[str, Any]]:
    project = live(call)
    return [_json(project, op.id) for op in project.operations.all()]


@route("GET", ONE, "One operation (by name or id): its code, interface and any error", tag=TAG, response=OPERATION)
def get_operation(call: Call) -> dict[str, Any]:
    project = live(call)
    return _json(project, project.operations.find(call.params["operation"]).id)


@route(
    "POST",
    "/projects/{project}/operations",
    "Add an operation from its code (or a blank one named ``name``); its interface is read from the code",
    tag=TAG,
    body=obj({"code": STRING, "name": NAME, "references": STRINGS}, required=[]),
    response=OPERATION,
    status=201,
)
def create_operation(call: Call) -> dict[str, Any]:
    project = live(call)
    body = call.body
    op_id = project.operations.add(body.get("code"), body.get("name"), body.get("references", ()))
    return _json(project, op_id)


@route(
    "PATCH",
    ONE,
    "Change an operation's code (its interface follows, or the error is recorded, as in the editor) and references",
    tag=TAG,
    body=obj({"code": STRING, "references": STRINGS}, required=[]),
    response=OPERATION,
)
def update_operation(call: Call) -> dict[str, Any]:
    project = live(call)
    op_id = project.operations.find(call.params["operation"]).id
    steps = []
    if "code" in call.body:
        steps.append(lambda p: p.operations.set_code(op_id, call.body["code"]))
    if "references" in call.body:
        steps.append(lambda p: p.operations.set_references(op_id, call.body["references"]))
    rehearsed(project, steps)
    return _json(project, op_id)


@route("DELETE", ONE, "Remove an operation no pipeline uses", tag=TAG, response=obj({"deleted": STRING}))
def delete_operation(call: Call) -> dict[str, Any]:
    project = live(call)
    op_id = project.operations.find(call.params["operation"]).id
    project.operations.remove(op_id)
    return {"deleted": op_id}
