"""``/projects/{project}/executions``: start a pipeline, list and read executions, cancel, stream events.

A run goes through the hub's orchestrator for the project, as the Run button does (the same checks,
the deeper library checks included, and the same commit before it runs).
"""

from __future__ import annotations

from typing import Any

from deepforge_panel.api.declare import ApiError, Call, route
from deepforge_panel.api.edits import author, live
from deepforge_panel.api.events import stream_events
from deepforge_panel.api.schemas import (
    EXECUTION,
    EXECUTION_SUMMARY,
    STATUS,
    STRING,
    VALUES,
    array,
    execution_json,
    obj,
)
from deepforge_panel.executions import FINAL

TAG = "executions"
ONE = "/projects/{project}/executions/{execution}"


@route(
    "POST",
    "/projects/{project}/pipelines/{pipeline}/executions",
    "Run a pipeline (committing the project first), with attribute overrides by node name; returns at once",
    tag=TAG,
    body=obj(
        {
            "overrides": {"type": "object", "additionalProperties": VALUES},
            "cache": {"type": "boolean"},
            "compute": {"type": "string", "enum": ["local", "dask"]},
            "author": STRING,
        },
        required=[],
    ),
    response=EXECUTION,
    status=201,
)
async def start_execution(call: Call) -> dict[str, Any]:
    project = live(call)
    pipeline = project.pipelines.find(call.params["pipeline"]).id
    overrides = call.body.get("overrides") or None
    orchestrator = call.hub.orchestrator(project.name, "main", call.body.get("compute"))
    await orchestrator.check(pipeline, overrides)
    execution_id = orchestrator.start(pipeline, overrides, author=author(call), cache=call.body.get("cache", True))
    return execution_json(project.executions.get(execution_id))


@route(
    "GET",
    "/projects/{project}/executions",
    "Every execution, oldest first, without its jobs",
    tag=TAG,
    response=array(EXECUTION_SUMMARY),
    query={"pipeline": STRING},
    errors=(400, 404),
)
def list_executions(call: Call) -> list[dict[str, Any]]:
    project = live(call)
    wanted = call.query.get("pipeline")
    pipeline = project.pipelines.find(wanted).id if wanted else None
    return [
        execution_json(x, jobs=False) for x in project.executions.all() if pipeline is None or x.pipeline == pipeline
    ]


@route("GET", ONE, "One execution with every job's status, times, console and outputs", tag=TAG, response=EXECUTION)
def get_execution(call: Call) -> dict[str, Any]:
    return execution_json(live(call).executions.get(call.params["execution"]))


@route(
    "POST",
    ONE + "/cancel",
    "Cancel a running execution: running jobs are stopped, waiting ones never start",
    tag=TAG,
    response=obj({"cancelled": {"type": "boolean"}, "status": STATUS}),
    errors=(404, 409),
)
def cancel_execution(call: Call) -> dict[str, Any]:
    project = live(call)
    execution = project.executions.get(call.params["execution"])
    if execution.status in FINAL:
        raise ApiError(409, f"execution {execution.id} has already ended ({execution.status})")
    if not call.hub.cancel(project.name, execution.id):
        raise ApiError(409, f"execution {execution.id} is not run by this workbench (a CLI run?); stop it there")
    return {"cancelled": True, "status": project.executions.get(execution.id).status}


@route(
    "GET",
    ONE + "/events",
    "The execution's events as server-sent events: its status, each job's status, each console line; "
    "what happened so far first, then live; the stream ends with an 'end' event once the execution is final",
    tag=TAG,
    response=None,
    produces="text/event-stream",
    errors=(404,),
)
async def execution_events(call: Call) -> None:
    project = live(call)
    project.executions.get(call.params["execution"])
    await stream_events(call.handler, project, call.params["execution"])
