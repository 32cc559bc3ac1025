"""The OpenAPI 3.1 document of the API, built from the route declarations (so it cannot drift from them)."""

from __future__ import annotations

from typing import Any

from deepforge_panel import __version__
from deepforge_panel.api.declare import ROUTES, Call, Route, route
from deepforge_panel.api.schemas import ANY_OBJECT, ERROR

__all__ = ["document"]

REASONS = {
    400: "Refused: the message says what is wrong; nothing was changed",
    401: "No token, or a wrong one",
    404: "Something named does not exist; the message lists what does",
    405: "Method not allowed",
    409: "Refused in the resource's current state",
    413: "The request body is too large",
}

DESCRIPTION = (
    "The workbench's REST API, served by the workbench itself. Every route needs the home's token, sent as "
    '`Authorization: token <token>`. Bodies are JSON; a refusal is `{"error": "..."}` with a 4xx status. '
    "Every write is a transaction on the project's live document: pages open on the project show it at once, "
    "and the workbench's own checks apply. Pipelines, nodes and operations are named by name or id."
)


def _operation(declared: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": declared.operation_id,
        "summary": declared.summary,
        "tags": [declared.tag],
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in declared.parameters
        ]
        + [
            {"name": name, "in": "query", "required": name in declared.required_query, "schema": schema}
            for name, schema in declared.query.items()
        ],
    }
    if declared.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": declared.body}}}
    if declared.upload:
        binary = {"type": "string", "contentMediaType": "application/octet-stream"}
        operation["requestBody"] = {"required": True, "content": {"application/octet-stream": {"schema": binary}}}
    content: dict[str, Any]
    if declared.stream:
        content = {declared.produces: {"schema": {"type": "string"}}}
    else:
        content = {"application/json": {"schema": declared.response}}
    responses: dict[str, Any] = {str(declared.status): {"description": "Done", "content": content}}
    for status in sorted({400, 401, *declared.errors}):
        responses[str(status)] = {
            "description": REASONS[status],
            "content": {"application/json": {"schema": ERROR}},
        }
    operation["responses"] = responses
    return operation


def document(prefix: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI document of every declared route, at ``prefix``."""
    paths: dict[str, dict[str, Any]] = {}
    for declared in ROUTES:
        paths.setdefault(prefix + declared.path, {})[declared.method.lower()] = _operation(declared)
    return {
        "openapi": "3.1.0",
        "info": {"title": "DeepForge-Panel", "version": __version__, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"token": []}],
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <token>`: the home folder's token (`<home>/token`)",
                }
            }
        },
        "paths": paths,
    }


@route("GET", "/openapi.json", "This document", tag="api", response=ANY_OBJECT, errors=())
def openapi(call: Call) -> dict[str, Any]:
    return document()
