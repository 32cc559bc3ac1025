"""Sign-in: one random token per home folder, required on every route of the server.

The token lives in ``<home>/token`` (created once, readable by its owner only). A request
carries it as ``?token=`` (the first visit, which also sets an HttpOnly cookie), as that
cookie, or as ``Authorization: token <token>`` (scripts). :func:`protect` wraps every
handler of a Tornado application's route table, so a route added later is guarded too;
websockets are guarded at their upgrade request, and a JSON route (the REST API: its handler
sets ``deepforge_json_errors``) is refused with ``{"error": ...}``. Without a token
(``--no-token``) the server may only listen on a loopback address.

Other tokens grant one project, in one scope (:class:`Grant`): a project's share token opens its
sync and peer routes to other workbenches; a read-only link's token (:mod:`~deepforge_panel.view_tokens`)
opens that project's present page, the page's session websocket and the static files, and nothing
else: every other route, those added later included, refuses it with 403.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from tornado.routing import Rule
from tornado.web import Application, HTTPError, RequestHandler
from tornado.websocket import WebSocketHandler

TOKEN_FILE = "token"
COOKIE = "deepforge_token"
VIEW_COOKIE = "deepforge_view"
"""A read-only link's token, kept apart from :data:`COOKIE`: opening a link does not sign its owner out."""
HEADER_SCHEME = "token"

__all__ = [
    "COOKIE",
    "TOKEN_FILE",
    "VIEW_COOKIE",
    "Grant",
    "Grants",
    "Guarded",
    "home_token",
    "is_loopback",
    "may_view",
    "protect",
    "request_token",
]


def home_token(home: str | Path) -> str:
    """The home folder's token, created on first use in a file only its owner can read."""
    path = Path(home) / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
        path.unlink()  # an empty file (a crash between create and write): make a new token
        return home_token(home)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token)
    return token


def is_loopback(address: str) -> bool:
    """Whether ``address`` (an IP or a host name) only accepts connections from this machine."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def request_token(handler: RequestHandler) -> str | None:
    """The token a request carries: the ``Authorization`` header, ``?token=``, or the cookie."""
    scheme, _, value = (handler.request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == HEADER_SCHEME and value.strip():
        return value.strip()
    query = handler.get_query_argument("token", default=None)
    if query:
        return query
    return handler.get_cookie(COOKIE) or handler.get_cookie(VIEW_COOKIE)


SHARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DeepForge-Panel: a shared project</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>This is the address of a shared project</h1>
<p>It lets another workbench keep a copy of one project in sync with this one; it does not open
this workbench in a browser. In your own workbench, choose <b>Open a shared project</b> and paste
this address, or run <code>deepforge-panel clone "ADDRESS"</code>.</p>
</body></html>"""

PEER_ROUTE = re.compile(r"^/(?:sync|peer)/([^/?]+)")
"""The routes a project's share token opens: that project's sync endpoint and peer routes."""

PRESENT_PAGE = re.compile(r"^/present/?$")
PRESENT_WS = "/present/ws"
VIEW_ASSETS = re.compile(r"^/static/|^/favicon\.ico$")
"""The routes a read-only link opens besides its project's present page and that page's session websocket:
the files every page loads (Bokeh's and Panel's scripts and styles), the same for every project."""


@dataclass(frozen=True)
class Grant:
    """What a token other than the home's opens: one project, to peers (``peer``) or for viewing (``view``)."""

    project: str
    """The project's id."""
    name: str
    """The project's name (routes may name a project either way)."""
    scope: Literal["peer", "view"]
    revoked: bool = False
    """A read-only link its owner revoked: refused everywhere, saying so."""

    def opens(self, project: str) -> bool:
        return project in (self.project, self.name)


Grants = Callable[[str], Grant | None]
"""``token -> Grant`` of the project that token opens, or None."""


def may_view(token: str | None, project: str, home: str, grants: Grants | None) -> bool:
    """Whether ``token`` may read ``project``'s (id or name) present view: the home's token, or a live read-only
    link to it."""
    if not token:
        return False
    if hmac.compare_digest(token.encode(), home.encode()):
        return True
    grant = grants(token) if grants is not None else None
    return grant is not None and grant.scope == "view" and not grant.revoked and grant.opens(project)


def view_allows(handler: RequestHandler, grant: Grant) -> bool:
    """Whether a read-only link's ``grant`` opens this request: a read of its project's present page, of
    that page's session websocket (the app checks the project again: :mod:`deepforge_panel.apps.present`),
    or of a static file."""
    request = handler.request
    if request.method not in ("GET", "HEAD") or grant.revoked:
        return False
    path = request.path
    if PRESENT_PAGE.match(path):
        return grant.opens(handler.get_query_argument("project", default="") or "")
    return path == PRESENT_WS or bool(VIEW_ASSETS.match(path))


REFUSED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DeepForge-Panel: not with this link</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>This link cannot open this page</h1>
<p>{message}</p>
</body></html>"""

DENIED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DeepForge-Panel: sign in</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>Sign in needed</h1>
<p>This workbench needs its token. Open the link <code>deepforge-panel serve</code> printed
(it ends in <code>?token=...</code>), or find the token in <code>{token_file}</code>.</p>
</body></html>"""


class Guarded:
    """Mixed in front of a route's handler: refuse a request without the server's token, or with a token
    whose :class:`Grant` does not open it."""

    deepforge_token: str = ""
    deepforge_token_file: str = ""
    deepforge_grants: Grants | None = None

    def prepare(self) -> Any:
        handler: RequestHandler = self  # type: ignore[assignment]
        given = request_token(handler)
        if given is not None and hmac.compare_digest(given.encode(), self.deepforge_token.encode()):
            if handler.get_query_argument("token", default=None) and not isinstance(handler, WebSocketHandler):
                handler.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/")
            return super().prepare()  # type: ignore[misc]
        lookup = type(self).deepforge_grants
        grant = lookup(given) if given is not None and lookup is not None else None
        if grant is None:
            return self._sign_in(handler)
        if grant.scope == "view":
            return self._view(handler, grant, given or "")
        match = PEER_ROUTE.match(handler.request.path)
        if match is not None and grant.opens(unquote(match.group(1))):
            return super().prepare()  # type: ignore[misc]
        if getattr(handler, "deepforge_json_errors", False):
            _refuse_json(handler, 403, "a share token opens its own project's sync and peer routes only")
            return None
        if not isinstance(handler, WebSocketHandler) and not match:
            handler.set_status(403)
            handler.set_header("Content-Type", "text/html; charset=utf-8")
            handler.finish(SHARE_PAGE)
            return None
        raise HTTPError(403, "a share token opens its own project's sync and peer routes only")

    def _view(self, handler: RequestHandler, grant: Grant, given: str) -> Any:
        """A read-only link: its project's present page and what that page loads, else 403 saying why."""
        if view_allows(handler, grant):
            if PRESENT_PAGE.match(handler.request.path) and handler.get_query_argument("token", default=None):
                handler.set_cookie(VIEW_COOKIE, given, httponly=True, samesite="Strict", path="/")
            return super().prepare()  # type: ignore[misc]
        if grant.revoked:
            message = "this read-only link was revoked by the project's owner; ask them for a new one"
        else:
            message = (
                f"a read-only link shows the present view of project {grant.name!r} only "
                f"(/present?project=...&token=...): it cannot open {handler.request.path}, "
                "edit, download or open other projects"
            )
        if getattr(handler, "deepforge_json_errors", False):
            _refuse_json(handler, 403, message)
            return None
        if isinstance(handler, WebSocketHandler):  # the reason phrase is what a plain GET's error page shows
            raise HTTPError(403, message, reason="a read-only link opens its project's present view only")
        handler.set_status(403)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.finish(REFUSED_PAGE.format(message=html.escape(message)))
        return None

    def _sign_in(self, handler: RequestHandler) -> None:
        if isinstance(handler, WebSocketHandler):
            raise HTTPError(403, "the sync and session websockets need the server's token")
        if getattr(handler, "deepforge_json_errors", False):
            _refuse_json(handler, 401, "this route needs the workbench's token: send 'Authorization: token <token>'")
            return
        handler.set_status(401)
        handler.set_header("Content-Type", "text/html; charset=utf-8")
        handler.finish(DENIED_PAGE.format(token_file=html.escape(self.deepforge_token_file)))


def _refuse_json(handler: RequestHandler, status: int, message: str) -> None:
    """Refuse a request to a JSON route (the REST API) as it refuses everything else: ``{"error": ...}``."""
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    handler.finish(json.dumps({"error": message}))


def _guarded(handler: type[RequestHandler], token: str, token_file: str, grants: Grants | None) -> type[RequestHandler]:
    if issubclass(handler, Guarded):
        return handler
    return type(
        f"Guarded{handler.__name__}",
        (Guarded, handler),
        {
            "deepforge_token": token,
            "deepforge_token_file": token_file,
            "deepforge_grants": staticmethod(grants) if grants is not None else None,
            "__module__": handler.__module__,
        },
    )


def protect(application: Application, token: str, token_file: str = "", grants: Grants | None = None) -> list[str]:
    """Guard every handler in ``application``'s route table with ``token``; returns the patterns guarded.

    ``grants`` names the project another token opens, and how: a share token is accepted on that project's
    sync and peer routes only (``/sync/<project>...``, ``/peer/<project>/...``, by id or name); a read-only
    link's on :func:`view_allows`'s routes only.
    """
    guarded: list[str] = []
    for rule in application.wildcard_router.rules:
        _guard_rule(rule, token, token_file, grants, guarded)
    return guarded


def _guard_rule(rule: Rule, token: str, token_file: str, grants: Grants | None, guarded: list[str]) -> None:
    target = rule.target
    if isinstance(target, type) and issubclass(target, RequestHandler):
        rule.target = _guarded(target, token, token_file, grants)
        regex = getattr(rule.matcher, "regex", None)
        guarded.append(regex.pattern if regex is not None else repr(rule.matcher))
    else:  # a nested router, or a handler not known to tornado.web: refuse to serve it unguarded
        raise TypeError(f"route {rule.matcher!r} leads to {target!r}, which cannot be guarded")
