"""The HTTP side of peering: a project's history and live state, for peers that clone or link to it.

>>> routes = PeerRoutes(resolve)            # resolve(project, branch) -> the live store
>>> app = tornado.web.Application(routes.routes())

``GET  /peer/<project>/history``         every commit's metadata and every branch head (ETag: a history tag)
``POST /peer/<project>/fetch``           {"ids": [...]} -> those commits, states included, parents first
``POST /peer/<project>/push``            {"commits": [...], "heads": {...}} -> taken in, heads fast-forwarded
``GET  /peer/<project>/state/<branch>``  the branch's live document as one Yjs update (what a clone starts from)

A peer that sends something malformed gets a 400 with the reason, the reason is logged, and
nothing it sent is stored (one write transaction).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from tornado.web import HTTPError, RequestHandler

from deepforge_panel.crdt.exchange import ExchangeError
from deepforge_panel.crdt.peer_wire import commit_from_json, commit_to_json, heads_from_json
from deepforge_panel.crdt.store import DocStore, StoreError

logger = logging.getLogger(__name__)

MAX_BODY = 512 * 1024 * 1024
"""Largest history push accepted (a clone of a long history goes the other way, by fetch)."""

Resolver = Callable[[str, str], DocStore]


def project_info(store: DocStore) -> dict[str, str]:
    """The project's id (its folder's name in its home) and name."""
    return {"id": store.path.parent.name, "name": store.get_info("name") or store.path.parent.name}


class PeerRoutes:
    """The peer routes of one server over its live stores."""

    def __init__(self, resolve: Resolver, heard: Callable[[DocStore, str], None] | None = None) -> None:
        self.resolve = resolve
        self.heard = heard
        """Called with (store, label) when a peer that gave a label (``?peer=``) pushes or polls."""

    def routes(self, prefix: str = "/peer") -> list[tuple[str, type[RequestHandler], dict[str, Any]]]:
        kwargs = {"routes": self}
        return [
            (rf"{prefix}/([^/]+)/history/?", HistoryHandler, kwargs),
            (rf"{prefix}/([^/]+)/fetch/?", FetchHandler, kwargs),
            (rf"{prefix}/([^/]+)/push/?", PushHandler, kwargs),
            (rf"{prefix}/([^/]+)/state/([^/]+)/?", StateHandler, kwargs),
        ]


class _PeerHandler(RequestHandler):
    def initialize(self, routes: PeerRoutes) -> None:
        self.peer_routes = routes

    def check_xsrf_cookie(self) -> None:
        """Peers are servers signing in with a token header, not browsers carrying a form's cookie."""

    def live(self, project: str, branch: str = "main") -> DocStore:
        try:
            store = self.peer_routes.resolve(project, branch)
        except (LookupError, StoreError) as exc:
            raise HTTPError(404, reason=_reason(str(exc))) from None
        label = self.get_query_argument("peer", default=None)
        if label and self.peer_routes.heard is not None:
            self.peer_routes.heard(store, label[:200])
        return store

    def body_json(self) -> Any:
        if len(self.request.body) > MAX_BODY:
            raise HTTPError(413, reason="history push too large")
        try:
            return json.loads(self.request.body or b"null")
        except (UnicodeDecodeError, ValueError, RecursionError):
            self.refuse("the body is not JSON")

    def refuse(self, reason: str) -> None:
        logger.warning("peer %s from %s refused: %s", self.request.path, self.request.remote_ip, reason)
        raise HTTPError(400, reason=_reason(reason))

    def write_json(self, data: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": self._reason}))


class HistoryHandler(_PeerHandler):
    def get(self, project: str) -> None:
        store = self.live(project)
        tag = f'"{store.history_tag()}"'
        self.set_header("ETag", tag)
        if self.request.headers.get("If-None-Match") == tag:
            self.set_status(304)
            self.finish()
            return
        commits, heads = store.history()
        self.write_json(
            {
                "project": project_info(store),
                "heads": heads,
                "commits": [
                    {
                        "id": c.id,
                        "parent": c.parent,
                        "merged": list(c.merged),
                        "branch": c.branch,
                        "author": c.author,
                        "message": c.message,
                        "time": c.time,
                    }
                    for c in commits
                ],
            }
        )


class FetchHandler(_PeerHandler):
    def post(self, project: str) -> None:
        store = self.live(project)
        body = self.body_json()
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            self.refuse('expected {"ids": [commit ids]}')
        self.write_json({"commits": [commit_to_json(r) for r in store.export_commits(ids)]})


class PushHandler(_PeerHandler):
    def post(self, project: str) -> None:
        store = self.live(project)
        body = self.body_json()
        if not isinstance(body, dict) or not isinstance(body.get("commits"), list):
            self.refuse('expected {"commits": [...], "heads": {...}}')
        try:
            records = [commit_from_json(c) for c in body["commits"]]
            heads = heads_from_json(body.get("heads", {}))
            taken, moved = store.take_history(records, {n: h for n, h in heads.items() if h})
        except ExchangeError as exc:
            self.refuse(str(exc))
        self.write_json({"taken": taken, "moved": moved})


class StateHandler(_PeerHandler):
    def get(self, project: str, branch: str) -> None:
        store = self.live(project, branch)
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Cache-Control", "no-store")
        self.finish(store.doc.get_update())


def _reason(text: str) -> str:
    """An HTTP reason phrase: one line of printable ASCII."""
    line = text.splitlines()[0] if text else ""
    return "".join(ch if " " <= ch <= "~" else "?" for ch in line)[:300] or "error"
