"""``/projects/{project}/commits``: the history of the project's main branch, commit, and restore a version."""

from __future__ import annotations

from typing import Any

from deepforge_panel.api.declare import ApiError, Call, route
from deepforge_panel.api.edits import author, live
from deepforge_panel.api.schemas import COMMIT, NAME, STRING, array, commit_json, obj

TAG = "history"


@route(
    "GET",
    "/projects/{project}/commits",
    "The commits of the main branch, newest first",
    tag=TAG,
    response=array(COMMIT),
    errors=(404,),
)
def log(call: Call) -> list[dict[str, Any]]:
    return [commit_json(c) for c in live(call).log()]


@route(
    "POST",
    "/projects/{project}/commits",
    "Commit the live project",
    tag=TAG,
    body=obj({"message": NAME, "author": STRING}, required=["message"]),
    response=COMMIT,
    status=201,
)
def commit(call: Call) -> dict[str, Any]:
    project = live(call)
    message = call.body["message"].strip()
    if not message:
        raise ApiError(400, "a commit needs a message: say what changed")
    return commit_json(project.get_commit(project.commit(message, author=author(call))))


@route(
    "POST",
    "/projects/{project}/restore",
    "Make the live design equal to an old version, as a new commit (executions and artifacts are kept)",
    tag=TAG,
    body=obj({"commit": NAME, "author": STRING}, required=["commit"]),
    response=COMMIT,
    status=201,
)
def restore(call: Call) -> dict[str, Any]:
    project = live(call)
    target = call.body["commit"]
    project.get_commit(target)  # an unknown commit is a 404, before anything happens
    return commit_json(project.get_commit(project.restore(target, author=author(call))))
