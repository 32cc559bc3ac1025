"""``/projects/{project}/artifacts``: artifacts with their provenance, and their stored bytes."""

from __future__ import annotations

import re
from typing import Any

from tornado.ioloop import IOLoop

from deepforge_panel.api.declare import ApiError, Call, route
from deepforge_panel.api.edits import live
from deepforge_panel.api.schemas import ARTIFACT, NAME, STRING, array, artifact_json
from deepforge_panel.artifacts import unreachable
from deepforge_panel.io_nodes import InputError, find_artifact
from deepforge_panel.names import check_name
from deepforge_panel.project import default_author
from deepforge_panel.uploads import record_upload, store_spool, stored_form

TAG = "artifacts"
ONE = "/projects/{project}/artifacts/{artifact}"


@route(
    "GET",
    "/projects/{project}/artifacts",
    "Every artifact, oldest first, with its provenance",
    tag=TAG,
    response=array(ARTIFACT),
    query={"name": STRING},
    errors=(400, 404),
)
def list_artifacts(call: Call) -> list[dict[str, Any]]:
    wanted = call.query.get("name")
    return [artifact_json(a) for a in live(call).artifacts.all() if wanted is None or a.name == wanted]


@route("GET", ONE, "One artifact (by id, or the newest of a name) with its provenance", tag=TAG, response=ARTIFACT)
def get_artifact(call: Call) -> dict[str, Any]:
    return artifact_json(_find(call))


def _find(call: Call) -> Any:
    """The artifact named by id, or the newest one of that name (as an Input node picks one)."""
    try:
        return find_artifact(live(call), call.params["artifact"])
    except InputError as exc:
        raise ApiError(404, str(exc)) from None


@route(
    "GET",
    ONE + "/content",
    "The artifact's stored bytes, as the job stored them (``deepforge:<serializer>`` and its payload)",
    tag=TAG,
    response=None,
    produces="application/octet-stream",
)
async def download_artifact(call: Call) -> None:
    artifact = _find(call)
    storage = call.hub.orchestrator(live(call).name).storage
    problem = unreachable(artifact, storage)
    if problem is not None:
        raise ApiError(400, problem)
    loop = IOLoop.current()
    pieces = storage.chunks(artifact.url)
    try:  # the first piece before any header, so a missing object is still a 404
        piece = await loop.run_in_executor(None, next, pieces, None)
    except FileNotFoundError as exc:
        raise ApiError(404, f"artifact {artifact.name!r} ({artifact.id}) has no stored bytes: {exc}") from None
    handler = call.handler
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", artifact.name) or "artifact"
    handler.set_header("Content-Type", "application/octet-stream")
    handler.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    handler.set_header("X-Content-Hash", artifact.hash)
    try:
        while piece is not None and not getattr(handler, "client_gone", False):
            handler.write(piece)
            await handler.flush()  # one piece in memory at a time
            piece = await loop.run_in_executor(None, next, pieces, None)
    finally:
        close = getattr(pieces, "close", None)  # a generator's file is closed now, even if the client left
        if close is not None:
            await loop.run_in_executor(None, close)
    handler.finish()


@route(
    "POST",
    "/projects/{project}/artifacts",
    "Upload a file as an artifact (the body, any size, streamed to storage): an operation given it receives its "
    "bytes; an artifact's stored bytes as /content gives them are kept as they are",
    tag=TAG,
    response=ARTIFACT,
    status=201,
    query={"name": NAME, "type": NAME, "filename": STRING, "author": NAME},
    required_query=("name",),
    upload=True,
    prefix=stored_form,
)
async def upload_artifact(call: Call) -> dict[str, Any]:
    project = live(call)
    name = check_name("artifact", call.query["name"])
    spool = call.upload
    assert spool is not None
    storage = call.hub.orchestrator(project.name).storage
    url = await IOLoop.current().run_in_executor(None, store_spool, storage, spool)
    artifact_id = record_upload(
        project,
        spool,
        url,
        name,
        filename=call.query.get("filename", ""),
        through="api",
        author=call.query.get("author") or default_author(),
        kind=call.query.get("type") or None,
    )
    return artifact_json(project.artifacts.get(artifact_id))
