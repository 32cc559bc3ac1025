"""The JSON shapes of the API's resources: one schema and one ``*_json`` serializer each, side by side."""

from __future__ import annotations

import math
from typing import Any

from deepforge_panel.artifacts import Artifact
from deepforge_panel.crdt import Commit, Entry
from deepforge_panel.executions import Execution, Job
from deepforge_panel.operations import Operation
from deepforge_panel.pipelines import Edge, Node, Pipeline

STRING: dict[str, Any] = {"type": "string"}
NAME: dict[str, Any] = {"type": "string", "minLength": 1}
NUMBER: dict[str, Any] = {"type": "number"}
OPTIONAL_NUMBER: dict[str, Any] = {"type": ["number", "null"]}
OPTIONAL_STRING: dict[str, Any] = {"type": ["string", "null"]}
ANY_OBJECT: dict[str, Any] = {"type": "object"}
STRINGS: dict[str, Any] = {"type": "array", "items": STRING}
VALUES: dict[str, Any] = {"type": "object", "additionalProperties": True}


def obj(properties: dict[str, Any], required: list[str] | None = None, *, closed: bool = True) -> dict[str, Any]:
    """An object schema; ``required`` defaults to every property (responses), ``closed`` refuses unknown fields."""
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    schema["required"] = list(properties) if required is None else required
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


ERROR = obj({"error": STRING})

PROJECT = obj({"id": STRING, "name": STRING, "modified": NUMBER})


def project_json(entry: Entry) -> dict[str, Any]:
    return {"id": entry.id, "name": entry.name, "modified": entry.modified}


OPERATION = obj(
    {
        "id": STRING,
        "name": STRING,
        "code": STRING,
        "interface": {"type": ["object", "null"]},
        "error": {"type": ["object", "null"]},
        "references": STRINGS,
    }
)


def operation_json(operation: Operation, references: list[str]) -> dict[str, Any]:
    return {
        "id": operation.id,
        "name": operation.name,
        "code": operation.code,
        "interface": operation.interface.to_dict() if operation.interface is not None else None,
        "error": operation.error.to_dict() if operation.error is not None else None,
        "references": references,
    }


NODE = obj(
    {
        "id": STRING,
        "name": STRING,
        "operation": STRING,
        "attributes": VALUES,
        "references": {"type": "object", "additionalProperties": STRING},
        "x": NUMBER,
        "y": NUMBER,
        "limits": {"type": "object", "additionalProperties": OPTIONAL_NUMBER},
    }
)

CONNECTION = obj({"id": STRING, "src": STRING, "src_port": STRING, "dst": STRING, "dst_port": STRING})

PIPELINE = obj({"id": STRING, "name": STRING, "nodes": array(NODE), "connections": array(CONNECTION)})

PIPELINE_SUMMARY = obj({"id": STRING, "name": STRING, "nodes": {"type": "integer"}})


def node_json(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "name": node.name,
        "operation": node.operation,
        "attributes": clean(node.attributes),
        "references": dict(node.references),
        "x": node.x,
        "y": node.y,
        "limits": dict(node.limits),
    }


def connection_json(edge: Edge) -> dict[str, Any]:
    return {"id": edge.id, "src": edge.src, "src_port": edge.src_port, "dst": edge.dst, "dst_port": edge.dst_port}


def pipeline_json(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "id": pipeline.id,
        "name": pipeline.name,
        "nodes": [node_json(n) for n in sorted(pipeline.nodes.values(), key=lambda n: n.name)],
        "connections": [connection_json(e) for e in pipeline.edges.values()],
    }


STATUS: dict[str, Any] = {
    "type": "string",
    "enum": ["pending", "queued", "running", "succeeded", "cached", "failed", "cancelled", "skipped"],
}

JOB = obj(
    {
        "id": STRING,
        "name": STRING,
        "node": STRING,
        "operation": STRING,
        "status": STATUS,
        "queued": OPTIONAL_NUMBER,
        "started": OPTIONAL_NUMBER,
        "ended": OPTIONAL_NUMBER,
        "error": STRING,
        "attributes": VALUES,
        "progress": ANY_OBJECT,
        "metrics": {"type": "object", "additionalProperties": array(array({"type": ["number", "null"]}))},
        "inputs": {"type": "object", "additionalProperties": STRING},
        "outputs": {"type": "object", "additionalProperties": STRING},
        "stdout": STRING,
        "stderr": STRING,
        "cached_from": {"type": ["object", "null"]},
    }
)

_EXECUTION_FIELDS: dict[str, Any] = {
    "id": STRING,
    "pipeline": STRING,
    "pipeline_name": STRING,
    "commit": STRING,
    "status": STATUS,
    "author": STRING,
    "created": OPTIONAL_NUMBER,
    "ended": OPTIONAL_NUMBER,
    "error": STRING,
}
EXECUTION_SUMMARY = obj(_EXECUTION_FIELDS)
EXECUTION = obj({**_EXECUTION_FIELDS, "jobs": array(JOB)})


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "node": job.node,
        "operation": job.operation,
        "status": job.status,
        "queued": job.queued,
        "started": job.started,
        "ended": job.ended,
        "error": job.error,
        "attributes": clean(job.attributes),
        "progress": clean(job.progress),
        "metrics": clean({name: [[step, value] for step, value in series] for name, series in job.metrics.items()}),
        "inputs": dict(job.inputs),
        "outputs": dict(job.outputs),
        "stdout": job.stdout,
        "stderr": job.stderr,
        "cached_from": job.cached_from,
    }


def execution_json(execution: Execution, jobs: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": execution.id,
        "pipeline": execution.pipeline,
        "pipeline_name": execution.pipeline_name,
        "commit": execution.commit,
        "status": execution.status,
        "author": execution.author,
        "created": execution.created,
        "ended": execution.ended,
        "error": execution.error,
    }
    if jobs:
        data["jobs"] = [job_json(j) for j in sorted(execution.jobs.values(), key=lambda j: j.name)]
    return data


ARTIFACT = obj(
    {
        "id": STRING,
        "name": STRING,
        "type": STRING,
        "url": STRING,
        "hash": STRING,
        "size": {"type": "integer"},
        "created": NUMBER,
        "provenance": {"type": ["object", "null"]},
    }
)


def artifact_json(artifact: Artifact) -> dict[str, Any]:
    return {
        "id": artifact.id,
        "name": artifact.name,
        "type": artifact.type,
        "url": artifact.url,
        "hash": artifact.hash,
        "size": artifact.size,
        "created": artifact.created,
        "provenance": clean(artifact.provenance),
    }


COMMIT = obj(
    {
        "id": STRING,
        "parent": OPTIONAL_STRING,
        "branch": STRING,
        "author": STRING,
        "message": STRING,
        "time": NUMBER,
        "merged": STRINGS,
    }
)


def commit_json(commit: Commit) -> dict[str, Any]:
    return {
        "id": commit.id,
        "parent": commit.parent,
        "branch": commit.branch,
        "author": commit.author,
        "message": commit.message,
        "time": commit.time,
        "merged": list(commit.merged),
    }


def clean(value: Any) -> Any:
    """``value`` as strict JSON can carry it: NaN and infinities (a metric that was None) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value
