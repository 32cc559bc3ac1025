"""Peer links: this workbench keeps a project in step with a peer's copy of it, and clones from peers.

A :class:`PeerLink` joins each branch's live document to the peer's over the peer's Yjs sync
endpoint, as one more connection of the local room (:class:`PeerConnection`): the room sends it
every local update and awareness change, and what the peer sends is vetted and applied like any
client's frames (a malformed frame closes the link and nothing of it is applied). On connecting,
both sides exchange state vectors and the updates the other lacks, so edits made while apart
merge. History goes over HTTP (:mod:`.peer_routes`): the link polls the peer's history tag,
fetches the commits it lacks, and pushes the ones the peer lacks. A link that fails is retried
with exponential backoff (:data:`BACKOFF`), for ever, until stopped.

:func:`clone` makes a new local project from a peer's own state (its Yjs updates, never the content
re-created, which would duplicate everything on the first merge) and history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from deepforge_panel.crdt.exchange import CommitRecord, ExchangeError
from deepforge_panel.crdt.home import Home
from deepforge_panel.crdt.peer_book import PeerBook
from deepforge_panel.crdt.peer_wire import (
    PeerAddress,
    PeerError,
    commit_from_json,
    commit_to_json,
    heads_from_json,
    meta_from_json,
)
from deepforge_panel.crdt.store import DocStore
from deepforge_panel.crdt.sync import CLOSE_GONE, MAX_MESSAGE_SIZE, RoomConnection, SyncRoom, _close_reason, _consume

__all__ = ["BACKOFF", "LinkState", "PeerConnection", "PeerError", "PeerLink", "clone"]

logger = logging.getLogger(__name__)

BACKOFF = (0.25, 30.0)
"""First and longest wait before reconnecting a failed link (doubling, with jitter)."""
POLL_S = 0.5
"""How often a connected link compares histories (a cheap request answered 304 when nothing changed)."""
TIMEOUT_S = 30.0
MAX_BODY = 512 * 1024 * 1024
FETCH_BATCH = 500
"""Commits asked for per request when catching up a long history."""


@dataclass
class LinkState:
    """How a link fares, as the CLI and the page show it."""

    state: str = "connecting"
    error: str = ""
    contact: float | None = None
    attempts: int = 0
    history: dict[str, int] = field(default_factory=lambda: {"fetched": 0, "pushed": 0})


class PeerConnection(RoomConnection):
    """A connection this process opened to a peer's sync endpoint, served as one of a local room's connections."""

    def __init__(self, ws: WebSocketClientConnection, label: str) -> None:
        self.ws = ws
        self.label = label
        self.pumping: asyncio.Task[None] | None = None
        self._init_connection()

    def describe(self) -> str:
        return f"to peer {self.label}"

    def send_now(self, message: bytes) -> None:
        if self.closing or self.ws.protocol is None:
            return
        try:
            future = self.ws.write_message(message, binary=True)
        except WebSocketClosedError:
            return
        future.add_done_callback(_consume)

    def close_with(self, code: int, reason: str) -> None:
        self.closing = True
        self.ws.close(code, _close_reason(reason))

    async def pump(self) -> None:
        """Hand the peer's frames to the room until the connection ends."""
        try:
            while True:
                message = await self.ws.read_message()
                if message is None:
                    return
                self.receive(message)
        finally:
            self.left()


class PeerLink:
    """One project's link to one peer: live documents of every branch, and history, both ways."""

    def __init__(
        self,
        address: PeerAddress,
        store: Callable[[], DocStore],
        room: Callable[[str], SyncRoom],
        *,
        label: str,
        report: Callable[[LinkState], None] | None = None,
    ) -> None:
        self.address = address
        self.open_store = store
        """The project's live store of branch main (its history is every branch's), asked for anew each time
        the link connects: a project closed and reopened (renamed, say) gets a new store."""
        self.store: DocStore | None = None
        self.room = room
        """The local room of a branch, opened on demand."""
        self.label = label
        self.report = report
        self.status = LinkState()
        self._task: asyncio.Task[None] | None = None
        self._connections: dict[str, PeerConnection] = {}
        self._tag: str | None = None
        """The peer's history tag when last read (its history is asked for again only once that changes)."""
        self._pushed_tag: str | None = None
        """This store's history tag when the peer last had all of it."""
        self._theirs: set[str] = set()
        """The commits the peer is known to hold."""
        self._their_heads: dict[str, str] = {}
        """The heads last pushed."""

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._supervise())

    async def stop(self) -> None:
        """Close the link for good (its connections closed and their readers finished)."""
        task, self._task = self._task, None
        if task is not None:  # first, so no connection is opened after the others were closed
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        pumps = [c.pumping for c in self._connections.values() if c.pumping is not None]
        self._close_all(1000, "the link was removed")
        if pumps:
            await asyncio.wait(pumps, timeout=5)
        self._set("stopped")

    @property
    def connected(self) -> bool:
        return self.status.state == "connected"

    async def _supervise(self) -> None:
        wait = BACKOFF[0]
        while True:
            started = time.monotonic()
            try:
                await self._session()
                error = "the peer closed the link"
            except asyncio.CancelledError:
                raise
            except PeerError as exc:
                error = str(exc)
            except Exception as exc:  # a bug must not end the link for ever: log it and retry
                logger.exception("peer %s: link failed", self.address.display)
                error = f"{type(exc).__name__}: {exc}"
            self._close_all(1001, "reconnecting")
            if time.monotonic() - started > 10 * BACKOFF[0] and self.status.state == "connected":
                wait = BACKOFF[0]  # it was up for a while: start over from the shortest wait
            self.status.attempts += 1
            self._set("disconnected", error)
            logger.warning("peer %s: %s; retrying in %.1f s", self.address.display, error, wait)
            await asyncio.sleep(wait * random.uniform(0.8, 1.2))
            wait = min(wait * 2, BACKOFF[1])

    async def _session(self) -> None:
        self._set("connecting", self.status.error)
        self._tag = self._pushed_tag = None
        store = self.store = self.open_store()
        await self.sync_history()
        _, heads = store.history()
        for branch in heads:
            await self._connect(branch)
        self._set("connected", contact=True)
        while True:
            await asyncio.sleep(POLL_S)
            for branch, connection in self._connections.items():
                if connection.closing:
                    raise PeerError(f"the live link of branch {branch!r} closed" + _why(connection))
            await self.sync_history()
            _, heads = store.history()
            for branch in heads:
                if branch not in self._connections:
                    await self._connect(branch)
            self._set("connected", contact=True)

    async def _connect(self, branch: str) -> None:
        request = HTTPRequest(
            self.address.websocket(branch, peer=self.label),
            headers=self.address.headers(),
            request_timeout=TIMEOUT_S,
        )
        connecting = asyncio.ensure_future(websocket_connect(request, max_message_size=MAX_MESSAGE_SIZE))
        try:
            ws = await asyncio.shield(connecting)
        except asyncio.CancelledError:
            connecting.add_done_callback(_close_if_open)  # else the peer keeps a connection nobody reads
            raise
        except (OSError, HTTPClientError, WebSocketClosedError) as exc:
            raise PeerError(f"cannot open the live link of branch {branch!r}: {_describe(exc)}") from None
        connection = PeerConnection(ws, f"{self.address.display}#{branch}")
        self._connections[branch] = connection
        try:
            joined = await asyncio.wait_for(connection.join(self.room(branch)), TIMEOUT_S)
        except TimeoutError:
            raise PeerError(f"the local document of branch {branch!r} did not open within {TIMEOUT_S:.0f} s") from None
        if not joined:
            raise PeerError(f"the local document of branch {branch!r} closed")
        connection.pumping = asyncio.ensure_future(connection.pump())

    def _close_all(self, code: int, reason: str) -> None:
        for connection in self._connections.values():
            if not connection.closing:
                connection.close_with(code, reason)
        self._connections.clear()

    def _set(self, state: str, error: str = "", *, contact: bool = False) -> None:
        self.status.state, self.status.error = state, error
        if contact:
            self.status.contact = time.time()
        if self.report is not None:
            self.report(self.status)

    # -- history ------------------------------------------------------------------------
    async def sync_history(self) -> None:
        """Take the peer's commits this store lacks and push the ones it lacks; fast-forward heads both ways."""
        store = self.store if self.store is not None else self.open_store()
        remote = await _history(self.address, self.label, self._tag)
        local_tag = store.history_tag()
        if remote is None and local_tag == self._pushed_tag:
            return  # nothing changed on either side
        if remote is not None:
            self._tag, commits, heads = remote["tag"], remote["commits"], remote["heads"]
            known = {c.id for c in store.history()[0]}
            missing = [c.id for c in commits if c.id not in known]
            records = await _fetch(self.address, self.label, missing)
            try:
                taken, _ = store.take_history(records, {n: h for n, h in heads.items() if h})
            except ExchangeError as exc:
                raise PeerError(f"the peer's history cannot be taken in: {exc}") from None
            self.status.history["fetched"] += len(taken)
            theirs = {c.id for c in commits} | set(taken)
        else:
            theirs = None
        ours, heads = store.history()
        if theirs is None:  # unchanged on their side since we last looked: what we knew of it then
            theirs = self._theirs
        push = [c.id for c in ours if c.id not in theirs]
        current = {n: str(h) for n, h in heads.items() if h}
        if push or current != self._their_heads:
            body = {
                "commits": [commit_to_json(r) for r in store.export_commits(push)],
                "heads": current,
            }
            await _call(self.address, self.label, "POST", "push", body)
            self.status.history["pushed"] += len(push)
            theirs = theirs | set(push)
            self._tag = None  # their history changed: look again next time
        self._theirs, self._their_heads = theirs, current
        self._pushed_tag = store.history_tag()


async def _call(address: PeerAddress, label: str, method: str, path: str, body: Any = None, etag: str | None = None):
    headers = {**address.headers(), "Content-Type": "application/json"}
    if etag:
        headers["If-None-Match"] = etag
    request = HTTPRequest(
        f"{address.http(path)}?{urlencode({'peer': label})}" if label else address.http(path),
        method=method,
        headers=headers,
        body=json.dumps(body) if body is not None else None,
        request_timeout=TIMEOUT_S,
    )
    try:
        return await _client().fetch(request, raise_error=False)
    except OSError as exc:
        raise PeerError(f"cannot reach {address.display}: {exc}") from None


_clients: dict[asyncio.AbstractEventLoop, AsyncHTTPClient] = {}


def _client() -> AsyncHTTPClient:
    """This event loop's HTTP client, taking bodies as large as a long history."""
    loop = asyncio.get_running_loop()
    for other in [other for other in _clients if other.is_closed()]:
        del _clients[other]
    if loop not in _clients:
        _clients[loop] = AsyncHTTPClient(force_instance=True, max_body_size=MAX_BODY)
    return _clients[loop]


def _check(response: Any, what: str) -> Any:
    if response.code == 599:
        raise PeerError(f"cannot reach the peer for {what}: {response.error}")
    if response.code in (401, 403):
        raise PeerError(f"the peer refused the token for {what} (HTTP {response.code})")
    if response.code >= 400:
        raise PeerError(f"the peer answered {what} with HTTP {response.code} {response.reason}")
    try:
        return json.loads(response.body)
    except ValueError:
        raise PeerError(f"the peer's answer to {what} is not JSON") from None


async def _history(address: PeerAddress, label: str, etag: str | None) -> dict[str, Any] | None:
    """The peer's history (commit metadata, heads, its tag), or None if unchanged since ``etag``."""
    response = await _call(address, label, "GET", "history", etag=etag)
    if response.code == 304:
        return None
    data = _check(response, "its history")
    try:
        if not isinstance(data, dict):
            raise ExchangeError("the history is not an object")
        commits = [meta_from_json(c) for c in data.get("commits", [])]
        heads = heads_from_json(data.get("heads", {}))
        project = data.get("project")
        if not isinstance(project, dict) or not isinstance(project.get("id"), str):
            raise ExchangeError("the history names no project")
    except ExchangeError as exc:
        raise PeerError(f"the peer sent a malformed history: {exc}") from None
    return {"tag": response.headers.get("ETag"), "commits": commits, "heads": heads, "project": project}


async def _fetch(address: PeerAddress, label: str, ids: list[str]) -> list[CommitRecord]:
    records: list[CommitRecord] = []
    for start in range(0, len(ids), FETCH_BATCH):
        data = _check(
            await _call(address, label, "POST", "fetch", {"ids": ids[start : start + FETCH_BATCH]}), "a fetch"
        )
        try:
            records.extend(commit_from_json(c) for c in data.get("commits", []))
        except (ExchangeError, AttributeError) as exc:
            raise PeerError(f"the peer sent malformed commits: {exc}") from None
    return records


def _close_if_open(connecting: asyncio.Future[WebSocketClientConnection]) -> None:
    if not connecting.cancelled() and connecting.exception() is None:
        connecting.result().close(1001, "the link was stopped")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, HTTPClientError) and exc.code in (401, 403):
        return f"the peer refused the token (HTTP {exc.code})"
    return str(exc) or type(exc).__name__


def _why(connection: PeerConnection) -> str:
    if connection.refused:
        return f": the peer sent what cannot be applied ({connection.refusal}); nothing of it was applied"
    code, reason = connection.ws.close_code, connection.ws.close_reason
    if code is None:
        return ""
    if code == CLOSE_GONE:
        return f": the peer's project is gone ({reason})"
    return f" (code {code}{': ' + reason if reason else ''})"


async def clone(
    address: PeerAddress, home: Home, name: str | None = None, *, label: str = ""
) -> tuple[str, PeerAddress]:
    """A new project in ``home`` holding the peer's project: its live documents (every branch, from the
    peer's own state) and all its history; the peer is remembered as an outgoing peer of it.

    Returns the new project's name and the peer's address (naming its project by id). Raises
    :class:`PeerError` (nothing is created) if the peer cannot be read.
    """
    remote = await _history(address, label, None)
    assert remote is not None
    project = remote["project"]
    stable = address.with_project(project["id"])
    records = await _fetch(stable, label, [c.id for c in remote["commits"]])
    states: dict[str, bytes] = {}
    for branch in remote["heads"]:
        response = await _call(stable, label, "GET", f"state/{branch}")
        if response.code >= 400 or response.code == 599:
            _check(response, f"the live state of branch {branch!r}")
        states[branch] = response.body
    local_name = name or project.get("name") or project["id"]
    store = home.create(local_name)
    try:
        try:
            store.take_history(records, {n: h for n, h in remote["heads"].items() if h})
        except ExchangeError as exc:
            raise PeerError(f"the peer's history cannot be taken in: {exc}") from None
        for branch, state in states.items():
            doc = store.open(branch)
            try:
                doc.apply_update(state)
            except (ValueError, RuntimeError) as exc:
                raise PeerError(f"the live state of branch {branch!r} does not apply: {exc}") from None
        store.flush()
        store.set_info("cloned_from", stable.display)
        book = PeerBook(store.path)
        try:
            book.add(stable)
        finally:
            book.close()
    except BaseException:
        store.close()
        home.delete(local_name)
        raise
    store.close()
    return local_name, stable
