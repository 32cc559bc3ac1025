"""The REST API under ``/api/v1``, served by the workbench's own Tornado server (see the README's *REST API*).

Each module declares its resource's routes (:func:`.declare.route`); :func:`routes` turns them into
Tornado handlers over a hub's live projects, and :mod:`.openapi` into the document served at
``/api/v1/openapi.json``, so the handlers and the document are one declaration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deepforge_panel.api import (
    architectures,
    artifacts,
    executions,
    history,
    openapi,
    operations,
    pipelines,
    projects,
)
from deepforge_panel.api.declare import ROUTES, ApiError, Route
from deepforge_panel.api.handler import handlers

if TYPE_CHECKING:
    from tornado.web import RequestHandler

    from deepforge_panel.hub import ProjectHub

__all__ = ["PREFIX", "ROUTES", "ApiError", "Route", "routes"]

PREFIX = "/api/v1"

_MODULES = (projects, operations, pipelines, executions, artifacts, architectures, history, openapi)
"""The modules whose import declares the routes (named so the import is not unused)."""


def routes(hub: ProjectHub, prefix: str = PREFIX) -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
    """The API's Tornado routes over ``hub``, for ``pn.serve(extra_patterns=...)``."""
    return handlers(hub, ROUTES, prefix)
