"""Route declarations: each route of the REST API is a function with its method, path and JSON schemas.

The declarations are the one source the Tornado handlers (:mod:`.handler`) and the OpenAPI document
(:mod:`.openapi`) are built from, so the two cannot drift. A route function gets a :class:`Call`
(the hub, the path parameters, the query and the request body already checked against its schema)
and returns the response body; it refuses with :class:`ApiError` or a project error (USER_ERRORS).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tornado.web import RequestHandler

    from deepforge_panel.api.uploads import Spool
    from deepforge_panel.hub import ProjectHub

__all__ = ["ROUTES", "ApiError", "Call", "Route", "check", "route"]

PARAMETER = re.compile(r"\{([a-z_]+)\}")


class ApiError(Exception):
    """A request refused with an HTTP status and a message for the caller (sent as ``{"error": message}``)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Call:
    """One request as a route function sees it."""

    hub: ProjectHub
    params: dict[str, str]
    """The path parameters, by name (``{project}`` -> ``params["project"]``), URL-decoded."""
    query: dict[str, str]
    body: Any
    """The request body as JSON, checked against the route's ``body`` schema (None when it takes none)."""
    handler: RequestHandler
    """For routes that write their response themselves (``stream``): a download, a server-sent event stream."""
    upload: Spool | None = None
    """For routes that take an upload: the file its body was streamed to."""


Result = Any
RouteFunction = Callable[[Call], Result | Awaitable[Result]]


@dataclass(frozen=True)
class Route:
    """One operation of the API: ``method`` on ``path`` (relative to ``/api/v1``, ``{name}`` parameters)."""

    method: str
    path: str
    summary: str
    func: RouteFunction
    tag: str
    response: dict[str, Any] | None
    """The JSON schema of a successful response's body; None when the route streams (``produces``)."""
    body: dict[str, Any] | None = None
    status: int = 200
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Query parameters: name -> schema (optional unless in ``required_query``)."""
    required_query: tuple[str, ...] = ()
    produces: str = "application/json"
    errors: tuple[int, ...] = (400, 404)
    """The refusals the route may answer besides 400 and 401 (no token), each as ``{"error": "..."}``."""
    upload: bool = False
    """Whether the body is a file (any bytes), streamed to disk as it arrives instead of JSON."""
    prefix: Callable[[bytes], bytes] | None = None
    """For an upload: what to store before the body, given its first bytes (:class:`.uploads.Spool`)."""

    @property
    def parameters(self) -> list[str]:
        return PARAMETER.findall(self.path)

    @property
    def stream(self) -> bool:
        return self.produces != "application/json"

    @property
    def operation_id(self) -> str:
        return self.func.__name__


ROUTES: list[Route] = []
"""Every declared route, in declaration order (the modules of this package declare them on import)."""


def route(
    method: str,
    path: str,
    summary: str,
    *,
    tag: str,
    response: dict[str, Any] | None,
    body: dict[str, Any] | None = None,
    status: int = 200,
    query: dict[str, dict[str, Any]] | None = None,
    produces: str = "application/json",
    errors: tuple[int, ...] = (400, 404),
    required_query: tuple[str, ...] = (),
    upload: bool = False,
    prefix: Callable[[bytes], bytes] | None = None,
) -> Callable[[RouteFunction], RouteFunction]:
    """Declare the decorated function as the route ``method path``."""

    def declare(func: RouteFunction) -> RouteFunction:
        if any(r.method == method and r.path == path for r in ROUTES):
            raise ValueError(f"route {method} {path} is declared twice")
        ROUTES.append(
            Route(
                method=method,
                path=path,
                summary=summary,
                func=func,
                tag=tag,
                response=response,
                body=body,
                status=status,
                query=query or {},
                required_query=required_query,
                produces=produces,
                errors=errors,
                upload=upload,
                prefix=prefix,
            )
        )
        return func

    return declare


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(schema: dict[str, Any], value: Any, where: str = "body") -> None:
    """Refuse ``value`` (400, naming where) unless it fits ``schema``: the subset of JSON Schema the routes
    declare (type, properties, required, additionalProperties, items, minLength, enum)."""
    kinds = schema.get("type")
    if kinds is not None:
        names = [kinds] if isinstance(kinds, str) else list(kinds)
        fits = any(
            isinstance(value, _TYPES[name]) and not (name in ("integer", "number") and isinstance(value, bool))
            for name in names
        )
        if not fits:
            raise ApiError(400, f"{where}: expected {' or '.join(names)}, got {_describe(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise ApiError(400, f"{where}: must be one of {schema['enum']}, not {_describe(value)}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise ApiError(400, f"{where}: must not be empty")
    if isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                raise ApiError(400, f"{where}: {name!r} is required")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            if name in properties:
                check(properties[name], item, f"{where}.{name}")
            elif extra is False:
                raise ApiError(400, f"{where}: unknown field {name!r} (fields: {', '.join(properties) or 'none'})")
            elif isinstance(extra, dict):
                check(extra, item, f"{where}.{name}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check(schema["items"], item, f"{where}[{index}]")
