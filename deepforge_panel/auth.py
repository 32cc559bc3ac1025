"""Sign-in: one random token per home folder, required on every route of the server.

The token lives in ``<home>/token`` (created once, readable by its owner only). A request
carries it as ``?token=`` (the first visit, which also sets an HttpOnly cookie), as that
cookie, or as ``Authorization: token <token>`` (scripts). :func:`protect` wraps every
handler of a Tornado application's route table, so a route added later is guarded too;
websockets are guarded at their upgrade request, and a JSON route (the REST API: its handler
sets ``deepforge_json_errors``) is refused with ``{"error": ...}``. Without a token
(``--no-token``) the server may only listen on a loopback address.
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
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from tornado.routing import Rule
from tornado.web import Application, HTTPError, RequestHandler
from tornado.websocket import WebSocketHandler

TOKEN_FILE = "token"
COOKIE = "deepforge_token"
HEADER_SCHEME = "token"

__all__ = ["COOKIE", "TOKEN_FILE", "Guarded", "home_token", "is_loopback", "protect", "request_token"]


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
    return handler.get_cookie(COOKIE)


SHARE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DeepForge-Panel: a shared project</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>This is the address of a shared project</h1>
<p>It lets another workbench keep a copy of one project in sync with this one; it does not open
this workbench in a browser. In your own workbench, choose <b>Open a shared project</b> and paste
this address, or run <code>deepforge-panel clone "ADDRESS"</code>.</p>
</body></html>"""

PEER_ROUTE = re.compile(r"^/(?:sync|peer)/([^/?]+)")
"""The routes a project's share token opens: that project's sync endpoint and peer routes."""

Shares = Callable[[str], tuple[str, str] | None]
"""``token -> (project id, project name)`` of the project that token is the share token of, or None."""

DENIED_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>DeepForge-Panel: sign in</title></head>
<body style="font-family: sans-serif; margin: 3em">
<h1>Sign in needed</h1>
<p>This workbench needs its token. Open the link <code>deepforge-panel serve</code> printed
(it ends in <code>?token=...</code>), or find the token in <code>{token_file}</code>.</p>
</body></html>"""


class Guarded:
    """Mixed in front of a route's handler: refuse a request without the server's token."""

    deepforge_token: str = ""
    deepforge_token_file: str = ""
    deepforge_shares: Shares | None = None

    def prepare(self) -> Any:
        handler: RequestHandler = self  # type: ignore[assignment]
        given = request_token(handler)
        if given is not None and not hmac.compare_digest(given.encode(), self.deepforge_token.encode()):
            lookup = type(self).deepforge_shares
            shared = lookup(given) if lookup is not None else None
            if shared is not None:
                match = PEER_ROUTE.match(handler.request.path)
                if match is not None and unquote(match.group(1)) in shared:
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
        if given is None or not hmac.compare_digest(given.encode(), self.deepforge_token.encode()):
            if isinstance(handler, WebSocketHandler):
                raise HTTPError(403, "the sync and session websockets need the server's token")
            if getattr(handler, "deepforge_json_errors", False):
                _refuse_json(
                    handler, 401, "this route needs the workbench's token: send 'Authorization: token <token>'"
                )
                return None
            handler.set_status(401)
            handler.set_header("Content-Type", "text/html; charset=utf-8")
            handler.finish(DENIED_PAGE.format(token_file=html.escape(self.deepforge_token_file)))
            return None
        if handler.get_query_argument("token", default=None) and not isinstance(handler, WebSocketHandler):
            handler.set_cookie(COOKIE, given, httponly=True, samesite="Strict", path="/")
        return super().prepare()  # type: ignore[misc]


def _refuse_json(handler: RequestHandler, status: int, message: str) -> None:
    """Refuse a request to a JSON route (the REST API) as it refuses everything else: ``{"error": ...}``."""
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    handler.finish(json.dumps({"error": message}))


def _guarded(handler: type[RequestHandler], token: str, token_file: str, shares: Shares | None) -> type[RequestHandler]:
    if issubclass(handler, Guarded):
        return handler
    return type(
        f"Guarded{handler.__name__}",
        (Guarded, handler),
        {
            "deepforge_token": token,
            "deepforge_token_file": token_file,
            "deepforge_shares": staticmethod(shares) if shares is not None else None,
            "__module__": handler.__module__,
        },
    )


def protect(application: Application, token: str, token_file: str = "", shares: Shares | None = None) -> list[str]:
    """Guard every handler in ``application``'s route table with ``token``; returns the patterns guarded.

    ``shares`` names the project a share token opens: such a token is accepted on that project's
    sync and peer routes only (``/sync/<project>...``, ``/peer/<project>/...``, by id or name).
    """
    guarded: list[str] = []
    for rule in application.wildcard_router.rules:
        _guard_rule(rule, token, token_file, shares, guarded)
    return guarded


def _guard_rule(rule: Rule, token: str, token_file: str, shares: Shares | None, guarded: list[str]) -> None:
    target = rule.target
    if isinstance(target, type) and issubclass(target, RequestHandler):
        rule.target = _guarded(target, token, token_file, shares)
        regex = getattr(rule.matcher, "regex", None)
        guarded.append(regex.pattern if regex is not None else repr(rule.matcher))
    else:  # a nested router, or a handler not known to tornado.web: refuse to serve it unguarded
        raise TypeError(f"route {rule.matcher!r} leads to {target!r}, which cannot be guarded")
