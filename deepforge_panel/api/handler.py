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

from tornado.web import HTTPError, RequestHandler

from deepforge_panel.api.declare import PARAMETER, ApiError, Call, Route, check
from deepforge_panel.api.schemas import clean
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
    SUPPORTED_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")

    def initialize(self, hub: ProjectHub) -> None:
        self.hub = hub

    def check_xsrf_cookie(self) -> None:
        """Scripts sign in with the token header; browsers' cookie is SameSite=Strict, so no other site sends it."""

    def on_connection_close(self) -> None:
        self.client_gone = True

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")

    async def _dispatch(self, *args: str) -> None:
        declared = self.routes.get(self.request.method or "")
        if declared is None:
            raise ApiError(405, f"{self.request.method} is not allowed on {self.request.path}")
        params = dict(zip(declared.parameters, args, strict=True))
        query = {name: self.get_query_argument(name) for name in self.request.query_arguments}
        unknown = sorted(set(query) - set(declared.query) - {"token"})
        if unknown:
            raise ApiError(400, f"unknown query parameter {unknown[0]!r} (parameters: {', '.join(declared.query)})")
        for name, value in query.items():
            if name in declared.query:
                check(declared.query[name], value, f"query parameter {name}")
        body = self._body(declared)
        call = Call(self.hub, params, query, body, self)
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
        raw = self.request.body or b""
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
        cls = type(name, (ApiHandler,), {"routes": methods, "__module__": __name__})
        table.append((prefix + pattern(path) + "/?", cls, {"hub": hub}))
    return table
