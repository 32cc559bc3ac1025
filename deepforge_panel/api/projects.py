"""``/projects``: list, create, fork and delete the home's projects (as the start page does)."""

from __future__ import annotations

from typing import Any

from deepforge_panel.api.declare import ApiError, Call, route
from deepforge_panel.api.schemas import NAME, PROJECT, array, obj, project_json
from deepforge_panel.crdt import StoreError

TAG = "projects"


def _entry(call: Call, name: str) -> Any:
    try:
        return call.hub.workspace.home.find(name)
    except StoreError as exc:
        raise ApiError(404, str(exc)) from None


@route("GET", "/projects", "Every project in the home", tag=TAG, response=array(PROJECT), errors=())
def list_projects(call: Call) -> list[dict[str, Any]]:
    return [project_json(e) for e in call.hub.projects()]


@route("GET", "/projects/{project}", "One project", tag=TAG, response=PROJECT, errors=(404,))
def get_project(call: Call) -> dict[str, Any]:
    return project_json(_entry(call, call.params["project"]))


@route(
    "POST",
    "/projects",
    "Create an empty project (with a first commit)",
    tag=TAG,
    body=obj({"name": NAME}),
    response=PROJECT,
    status=201,
    errors=(400,),
)
def create_project(call: Call) -> dict[str, Any]:
    call.hub.create(call.body["name"])
    return project_json(_entry(call, call.body["name"]))


@route(
    "POST",
    "/projects/{project}/fork",
    "A new project holding this one's history up to its head",
    tag=TAG,
    body=obj({"name": NAME}),
    response=PROJECT,
    status=201,
)
def fork_project(call: Call) -> dict[str, Any]:
    _entry(call, call.params["project"])
    call.hub.fork(call.params["project"], call.body["name"])
    return project_json(_entry(call, call.body["name"]))


@route(
    "DELETE",
    "/projects/{project}",
    "Delete a project (its running executions are cancelled, its open pages told)",
    tag=TAG,
    response=obj({"deleted": PROJECT}),
    errors=(404,),
)
def delete_project(call: Call) -> dict[str, Any]:
    entry = _entry(call, call.params["project"])
    call.hub.delete(entry.id)
    return {"deleted": project_json(entry)}
