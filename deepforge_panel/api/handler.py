"""The Tornado side of the API: one handler class per declared path, JSON in and out, errors as JSON.

Every handler runs on the server's loop (one thread touches a document). A refusal is
``{"error": "..."}`` with a 4xx status: an :class:`~.declare.ApiError`, a project error (400; 404 when
something named does not exist) or a body that is not what the route declares. Anything else is a
bug: logged, answered with a 500 saying so.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections import defaultdict
from typing import Any

from tornado.web import HTTPError, RequestHandler, stream_request_body

from deepforge_panel.api.declare import PARAMETER, ApiError, Call, Route, check
from deepforge_panel.api.schemas import clean
from deepforge_panel.api.uploads import MAX_UPLOAD, Spool
from deepforge_panel.crdt import StoreError
from deepforge_panel.errors import USER_ERRORS, NotFound
from deepforge_panel.hub import ProjectHub

__all__ = ["ApiHandler", "handlers"]

logger = logging.getLogger(__name__)

MAX_JSON_BODY = 64 * 1024 * 1024
"""Largest JSON request body accepted (an operation's code, a pipeline's attributes)."""


REFUSALS: tuple[type[Exception], ...] = (ApiError, *USER_ERRORS)
"""What is answered with a 4xx and its message; any other exception is a bug (a 500)."""


def status_of(exc: BaseException) -> int:
    """The HTTP status a refusal is answered with."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, NotFound) or (isinstance(exc, StoreError) and str(exc).startswith("no ")):
        return 404
    return 400


class ApiHandler(RequestHandler):
    """The handler of one path: dispatches each method to its declared route."""

    deepforge_json_errors = True
    """Tells the sign-in guard (:mod:`deepforge_panel.auth`) to refuse with JSON, not its HTML page."""
    routes: dict[str, Route] = {}
    client_gone = False
    """Set once the client closed the connection: streaming routes stop writing."""
    streaming = False
    """Whether this class takes request bodies as they arrive (a path with an upload route)."""
    spool: Spool | None = None
    buffer: bytearray | None = None
    """A streamed JSON body, gathered (routes of a streaming path that take JSON)."""
    refusal: ApiError | None = None
    """Why a streamed body was refused while it arrived (too large)."""
    SUPPORTED_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")

    def initialize(self, hub: ProjectHub) -> None:
        self.hub = hub

    def check_xsrf_cookie(self) -> None:
        """Scripts sign in with the token header; browsers' cookie is SameSite=Strict, so no other site sends it."""

    def on_connection_close(self) -> None:
        self.client_gone = True
        if self.spool is not None:
            self.spool.discard()

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        """For a path that takes uploads (its class streams request bodies): where the body goes as it arrives,
        once the query is checked (so a refused upload is refused before its bytes come)."""
        declared = self.routes.get(self.request.method or "")
        if not self.streaming or declared is None:
            return
        if declared.upload:
            self._query(declared)
            self.request.connection.set_max_body_size(MAX_UPLOAD)  # type: ignore[union-attr]
            self.spool = Spool(declared.prefix)
        else:
            self.buffer = bytearray()

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self.refusal is not None:
            return
        try:
            if self.spool is not None:
                self.spool.write(chunk)
            elif self.buffer is not None:
                self.buffer += chunk
                if len(self.buffer) > MAX_JSON_BODY:
                    raise ApiError(413, f"the request body is larger than {MAX_JSON_BODY} bytes")
        except ApiError as exc:  # answered once the request is complete; the rest of the body is dropped
            self.refusal = exc
            self.buffer = None

    def on_finish(self) -> None:
        if self.spool is not None:
            self.spool.discard()

    def _query(self, declared: Route) -> dict[str, str]:
        query = {name: self.get_query_argument(name) or "" for name in self.request.query_arguments}
        unknown = sorted(set(query) - set(declared.query) - {"token"})
        if unknown:
            raise ApiError(400, f"unknown query parameter {unknown[0]!r} (parameters: {', '.join(declared.query)})")
        for name, schema in declared.query.items():
            if name in query:
                check(schema, query[name], f"query parameter {name}")
            elif name in declared.required_query:
                raise ApiError(400, f"query parameter {name!r} is required")
        return query

    async def _dispatch(self, *args: str) -> None:
        declared = self.routes.get(self.request.method or "")
        if not self.routes:
            raise ApiError(404, f"no API route {self.request.path} (the routes: /api/v1/openapi.json)")
        if declared is None:
            raise ApiError(405, f"{self.request.method} is not allowed on {self.request.path}")
        if self.refusal is not None:
            raise self.refusal
        params = dict(zip(declared.parameters, args, strict=True))
        query = self._query(declared)
        body = self._body(declared)
        if self.spool is not None:
            self.spool.close()
        call = Call(self.hub, params, query, body, self, self.spool)
        result = declared.func(call)
        if inspect.isawaitable(result):
            result = await result
        if declared.stream:
            return
        self.set_status(declared.status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(clean(result), allow_nan=False))

    def _body(self, declared: Route) -> Any:
        if declared.body is None:
            return None
        raw = bytes(self.buffer) if self.buffer is not None else self.request.body or b""
        if len(raw) > MAX_JSON_BODY:
            raise ApiError(413, f"the request body is larger than {MAX_JSON_BODY} bytes")
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(400, "the request body is not JSON") from None
        check(declared.body, body)
        return body

    async def get(self, *args: str) -> None:
        await self._dispatch(*args)

    async def post(self, *args: str) -> None:
        await self._dispatch(*args)

    async def patch(self, *args: str) -> None:
        await self._dispatch(*args)

    async def put(self, *args: str) -> None:
        await self._dispatch(*args)

    async def delete(self, *args: str) -> None:
        await self._dispatch(*args)

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if isinstance(value, (HTTPError, *REFUSALS)):
            logger.info("API %s %s refused: %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, REFUSALS):
            status_code, message = status_of(exc), str(exc)
        elif isinstance(exc, HTTPError):
            message = exc.log_message or self._reason
        else:
            message = f"internal error ({type(exc).__name__ if exc else self._reason}); the server's log has details"
        self.set_status(status_code)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, REFUSALS):
            status_code = status_of(exc)
        super().send_error(status_code, **kwargs)


def pattern(path: str) -> str:
    """The Tornado route pattern of a declared path: each ``{name}`` matches one path segment."""
    return PARAMETER.sub("([^/]+)", path)


def handlers(
    hub: ProjectHub, routes: list[Route], prefix: str
) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """One (pattern, handler class, kwargs) per declared path, its methods dispatching to its routes."""
    by_path: dict[str, dict[str, Route]] = defaultdict(dict)
    for declared in routes:
        by_path[declared.path][declared.method] = declared
    table: list[tuple[str, type[RequestHandler], dict[str, Any]]] = []
    for path, methods in by_path.items():
        name = "Api" + "".join(part.strip("{}").title() for part in path.split("/") if part) + "Handler"
        streaming = any(r.upload for r in methods.values())
        cls = type(name, (ApiHandler,), {"routes": methods, "streaming": streaming, "__module__": __name__})
        if streaming:
            cls = stream_request_body(cls)
        table.append((prefix + pattern(path) + "/?", cls, {"hub": hub}))
    table.append((prefix + "/.*", ApiHandler, {"hub": hub}))  # any other path under the prefix: a JSON 404
    return table
