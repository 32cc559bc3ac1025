"""The Yjs sync endpoint: every live document served as a y-websocket room on the app's own Tornado server.

>>> sync = SyncServer(lambda project, branch: open_store(project, branch))
>>> app = tornado.web.Application([sync.route()])      # ws://HOST:PORT/sync/<project>[/<branch>]

A :class:`SyncHandler` (one connection) is a pycrdt-websocket channel; a :class:`SyncRoom` is a
``YRoom`` bound to the *same* live ``pycrdt.Doc`` the rest of the process edits, so an edit from
any side reaches every other. The handler reads each frame strictly (:mod:`.protocol`); the room
applies clients' updates itself: each first to a shadow copy of the document, so an update that
does not decode or integrate never touches the live one, then the good ones of one loop tick
together in one transaction on the live document (origin :data:`SYNC_ORIGIN`), which its store
appends to SQLite as that transaction ends; ``store.flush()`` then proves it durable before the
room relays it (a group commit: one row, one fsync, one message per client for a burst of edits).
A bad frame closes only its own connection (code :data:`CLOSE_BAD_MESSAGE`, the reason logged); a
closed room (project deleted or renamed) closes its connections with a 44xx code, which
y-websocket takes as "do not reconnect".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from pycrdt import Doc, TransactionEvent, create_awareness_message
from pycrdt.websocket import YRoom
from tornado.websocket import WebSocketClosedError, WebSocketHandler, WebSocketProtocol, WebSocketProtocol13

from deepforge_panel.crdt.protocol import (
    AwarenessFrame,
    ProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncUpdate,
    parse,
    sync_step2,
)
from deepforge_panel.crdt.store import DocStore, StoreError

__all__ = [
    "CLOSE_BAD_MESSAGE",
    "CLOSE_GONE",
    "CLOSE_NOT_FOUND",
    "CLOSE_TOO_BIG",
    "MAX_MESSAGE_SIZE",
    "SYNC_ORIGIN",
    "Resolver",
    "RoomConnection",
    "SyncHandler",
    "SyncRoom",
    "SyncServer",
]

logger = logging.getLogger(__name__)

SYNC_ORIGIN = "sync"
"""The origin of transactions that apply a Yjs client's update (so undo managers leave them alone)."""

MAX_MESSAGE_SIZE = 64 * 1024 * 1024
"""Largest frame a client may send; a bigger one closes its connection (code :data:`CLOSE_TOO_BIG`)."""

CLOSE_BAD_MESSAGE = 4400
CLOSE_NOT_FOUND = 4404
CLOSE_GONE = 4410
CLOSE_TOO_BIG = 4413
CLOSE_SERVER_ERROR = 1011
"""Close codes; 4400-4499 tell y-websocket that reconnecting cannot help."""

Resolver = Callable[[str, str], DocStore]
"""``(project, branch) -> the store whose live document serves that room``; raises LookupError or
:class:`StoreError` for an unknown project or branch."""


class UpdateRefused(ValueError):
    """A client's update that does not decode or cannot be integrated into the document."""


class SyncRoom(YRoom):
    """The room of one live document: YRoom's fan-out and awareness, plus vetted, durable client updates."""

    def __init__(self, store: DocStore, key: str) -> None:
        super().__init__(ready=True, ydoc=store.doc, log=logger, exception_handler=_log_exception)
        self.store = store
        self.key = key
        self.closed = False
        self.handlers: set[RoomConnection] = set()
        """Every open connection to this room, served or about to be."""
        self._task: asyncio.Task[None] | None = None
        self.stopped: asyncio.Future[None] | None = None
        """Set by :meth:`close`: done once the room has stopped."""
        self._shadow: Doc | None = None
        self._vetting = False
        self._pending: list[tuple[RoomConnection, bytes]] = []
        self._scheduled = False
        self._mirror = store.doc.observe(self._follow)

    # -- lifecycle ----------------------------------------------------------------------
    async def run(self) -> None:
        """Start the room (once) and return when it broadcasts the document's updates."""
        if self._task is None:
            self._task = asyncio.ensure_future(self.start())
        await self.ydoc_observed.wait()

    def close(self, code: int, reason: str) -> None:
        """Close every connection with ``code`` and stop the room; it serves no one afterwards."""
        if self.closed:
            return
        self.closed = True
        for handler in list(self.handlers):
            handler.close_with(code, reason)
        self.ydoc.unobserve(self._mirror)
        self._shadow = None
        if self._task is not None:
            self.stopped = asyncio.ensure_future(self._stop_when_started())

    async def _stop_when_started(self) -> None:
        await self.ydoc_observed.wait()
        if self._task_group is not None:
            await self.stop()
        self._update_send_stream.close()  # YRoom leaves it open (a ResourceWarning when collected)

    # -- client updates -----------------------------------------------------------------
    def submit(self, handler: RoomConnection, update: bytes) -> None:
        """Queue a client's update; the updates of one loop tick are applied together (:meth:`apply_pending`)."""
        self._pending.append((handler, update))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.apply_pending)

    def apply_pending(self) -> None:
        """Vet each queued update on the shadow copy, apply the good ones in one transaction, make it durable.

        yrs can fail half-way through integrating a forged update and a document cannot be rolled
        back, so each update is tried on the shadow first; a bad one closes its own connection
        (later frames of that connection are dropped) and costs a fresh shadow. One transaction
        per tick is one row in the store, one fsync and one message to each client, however many
        updates arrived together (a group commit).
        """
        self._scheduled = False
        pending, self._pending = self._pending, []
        if self.closed:
            return
        shadow = self._shadow if self._shadow is not None else self._copy()
        self._shadow = None
        good: list[bytes] = []
        for handler, update in pending:
            if handler.refused:  # what it sent after a bad frame; a plain close keeps what came before it
                continue
            try:
                _vet(shadow, update)
            except UpdateRefused as exc:
                handler.refuse(str(exc))
                shadow = self._copy(good)
                continue
            good.append(update)
        if good:
            self._vetting = True
            try:
                with self.ydoc.transaction(origin=SYNC_ORIGIN):
                    for update in good:
                        self.ydoc.apply_update(update)
            finally:
                self._vetting = False
        self._shadow = shadow
        try:
            self.store.flush()
        except StoreError as exc:  # the edit is live but not durable: no one may take it as stored
            logger.error("sync %s: %s; closing every connection", self.key, exc)
            self.close(CLOSE_SERVER_ERROR, "the server could not store an edit")

    def _copy(self, then: list[bytes] | None = None) -> Doc:
        """A fresh shadow: the live document, plus ``then`` (vetted updates not applied to it yet)."""
        shadow: Doc = Doc()
        shadow.apply_update(self.ydoc.get_update())
        for update in then or ():
            shadow.apply_update(update)
        return shadow

    def _follow(self, event: TransactionEvent) -> None:
        """Keep the shadow equal to the live document (edits from this process, other processes, clients)."""
        if self._vetting or self._shadow is None:
            return
        try:
            self._shadow.apply_update(event.update)
        except (ValueError, RuntimeError):
            self._shadow = None  # rebuilt from the live document when next needed

    # -- awareness ------------------------------------------------------------------------
    def awareness_message(self, clients: list[int] | None = None) -> bytes:
        """The awareness states of ``clients`` (default: everyone known) as one message."""
        ids = list(self.awareness.states) if clients is None else clients
        return create_awareness_message(self.awareness.encode_awareness_update(ids))

    def forget_clients(self, clients: set[int], origin: object) -> None:
        """Drop the presence of a closed connection's clients and tell everyone else at once."""
        gone = [client for client in clients if client in self.awareness.states]
        if not gone:
            return
        self.awareness.remove_awareness_states(gone, origin)
        message = self.awareness_message(gone)
        for handler in list(self.handlers):
            handler.send_now(message)


def _vet(shadow: Doc, update: bytes) -> None:
    """Apply ``update`` to ``shadow``; :class:`UpdateRefused` if it does not decode or integrate."""
    try:
        shadow.apply_update(update)
    except (ValueError, RuntimeError) as exc:
        raise UpdateRefused(f"the update does not apply: {exc}") from None
    except BaseException as exc:  # a Rust panic is pyo3's PanicException, a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        raise UpdateRefused(f"the update does not apply: {exc}") from None


class _Protocol(WebSocketProtocol13):
    """Tornado's protocol, but a frame over the size limit closes with :data:`CLOSE_TOO_BIG` and a log line."""

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if code == 1009:
            size = self.params.max_message_size
            reason = f"message too big: over {size} bytes"
            logger.warning("sync: closing a connection: %s", reason)
            code = CLOSE_TOO_BIG
        super().close(code, reason)


class RoomConnection:
    """One y-websocket connection to a room, whichever side opened it: a pycrdt-websocket channel
    (``path``, ``send``, ``recv``, async iteration) whose frames are read strictly.

    A subclass supplies the transport: :meth:`send_now`, :meth:`close_with` and :meth:`describe`.
    :class:`SyncHandler` is a connection a Yjs client opened to this server; a peer link's
    connection to another server (:mod:`.peers`) is one this process opened, served the same way.
    """

    room: SyncRoom | None = None

    def _init_connection(self) -> None:
        self.room = None
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._clients: set[int] = set()
        """Awareness client ids this connection spoke for: their presence ends with it."""
        self.closing = False
        self.refused = False
        self.refusal = ""
        """Why this connection was closed for a bad frame ('' if it was not)."""

    # -- the transport (subclasses) ---------------------------------------------------------
    def send_now(self, message: bytes) -> None:
        """Send a binary message unless the connection is closing; never raises for a closed one."""
        raise NotImplementedError

    def close_with(self, code: int, reason: str) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        """Who is at the other end, for log lines."""
        raise NotImplementedError

    # -- the channel ----------------------------------------------------------------------
    @property
    def path(self) -> str:
        return self.room.key if self.room is not None else self.describe()

    async def send(self, message: bytes) -> None:
        self.send_now(message)

    async def recv(self) -> bytes:
        message = await self._queue.get()
        if message is None:
            raise StopAsyncIteration
        return message

    def __aiter__(self) -> RoomConnection:
        return self

    async def __anext__(self) -> bytes:
        return await self.recv()

    # -- the room -----------------------------------------------------------------------------
    async def join(self, room: SyncRoom) -> bool:
        """Become one of ``room``'s connections and start serving it; False if either closed meanwhile."""
        self.room = room
        room.handlers.add(self)
        await room.run()
        if self.closing or room.closed:
            return False
        room.clients.add(self)  # a receiver of every update before any of its own frames is handled
        self._task = asyncio.ensure_future(self._serve(room))
        return True

    async def _serve(self, room: SyncRoom) -> None:
        try:
            await room.serve(self)
        except Exception:
            logger.exception("sync %s: serving a connection failed", room.key)
            self.close_with(CLOSE_SERVER_ERROR, "server error")

    def receive(self, message: str | bytes) -> None:
        """Handle one frame from the other end: updates are vetted by the room, a bad frame closes this connection."""
        room = self.room
        if room is None or room.closed or self.closing:
            return
        if isinstance(message, str):
            self.refuse("a text frame: y-websocket messages are binary")
            return
        try:
            frame = parse(message)
        except ProtocolError as exc:
            self.refuse(str(exc))
            return
        if isinstance(frame, SyncUpdate):
            room.submit(self, frame.update)
        elif isinstance(frame, SyncStep1):
            try:
                update = room.ydoc.get_update(frame.state_vector)
            except ValueError as exc:
                self.refuse(f"the state vector does not decode: {exc}")
                return
            self.send_now(sync_step2(update))
        elif isinstance(frame, AwarenessFrame):
            self._clients.update(client for client, state in frame.states.items() if state is not None)
            self._queue.put_nowait(frame.frame)
        elif isinstance(frame, QueryAwareness):
            self.send_now(room.awareness_message())

    def left(self) -> None:
        """The connection is gone: stop serving it and end the presence it spoke for."""
        self.closing = True
        self._queue.put_nowait(None)
        room = self.room
        if room is not None:
            room.handlers.discard(self)
            if not room.closed:
                room.forget_clients(self._clients, self)

    def refuse(self, reason: str) -> None:
        """Close this connection for a bad frame, with the reason logged; the document is untouched."""
        logger.warning("sync %s: closing the connection %s: %s", self.path, self.describe(), reason)
        self.refused = True
        self.refusal = reason
        self.close_with(CLOSE_BAD_MESSAGE, reason)


class SyncHandler(RoomConnection, WebSocketHandler):
    """One y-websocket connection a client opened to this server."""

    def initialize(self, server: SyncServer) -> None:
        self.server = server
        self._init_connection()

    # -- Tornado --------------------------------------------------------------------------
    @property
    def max_message_size(self) -> int:
        return self.server.max_message_size

    def get_websocket_protocol(self) -> WebSocketProtocol | None:
        protocol = super().get_websocket_protocol()
        if isinstance(protocol, WebSocketProtocol13):
            protocol.__class__ = _Protocol
        return protocol

    def check_origin(self, origin: str) -> bool:
        """Same host only: a page of another site must not edit projects through a visitor's browser."""
        return urlparse(origin).netloc.lower() == self.request.host.lower()

    async def open(self, project: str, branch: str | None = None) -> None:
        self.set_nodelay(True)  # small frames go out at once, not after Nagle's 40 ms wait for an ACK
        branch = branch or "main"
        try:
            room = self.server.room(project, branch)
        except (LookupError, StoreError) as exc:
            self.close_with(CLOSE_NOT_FOUND, str(exc))
            return
        self.server.opened(self, room)
        await self.join(room)  # Tornado holds this connection's frames until open() returns

    def on_message(self, message: str | bytes) -> None:
        self.receive(message)

    def on_close(self) -> None:
        self.left()
        if self.room is not None:
            self.server.closed(self, self.room)
        logger.debug(
            "sync %s: connection closed (code %s %s)", self.request.path, self.close_code, self.close_reason or ""
        )

    # -- the transport ----------------------------------------------------------------------
    def describe(self) -> str:
        return f"from {self.request.remote_ip}"

    def send_now(self, message: bytes) -> None:
        if self.closing or self.ws_connection is None or self.ws_connection.is_closing():
            return
        try:
            future = self.write_message(message, binary=True)
        except WebSocketClosedError:
            return
        future.add_done_callback(_consume)

    def close_with(self, code: int, reason: str) -> None:
        self.closing = True
        self.close(code, _close_reason(reason))


class SyncServer:
    """The rooms of one server, one per live document, made on a document's first connection."""

    def __init__(self, resolve: Resolver, *, max_message_size: int = MAX_MESSAGE_SIZE) -> None:
        self.resolve = resolve
        self.max_message_size = max_message_size
        self.rooms: dict[str, SyncRoom] = {}

    def route(self, prefix: str = "/sync") -> tuple[str, type[SyncHandler], dict[str, Any]]:
        """The Tornado route serving ``<prefix>/<project>`` and ``<prefix>/<project>/<branch>``."""
        return (rf"{prefix}/([^/]+)(?:/([^/]+))?/?", SyncHandler, {"server": self})

    def room(self, project: str, branch: str) -> SyncRoom:
        """The room of ``project`` on ``branch`` (by name or id), made if it is not open yet."""
        store = self.resolve(project, branch)
        key = f"{store.path}#{store.branch_name}"
        room = self.rooms.get(key)
        if room is not None and (room.closed or room.ydoc is not store.doc):
            room.close(CLOSE_GONE, "the document was reopened")
            room = None
        if room is None:
            room = self.rooms[key] = SyncRoom(store, key)
        return room

    def opened(self, handler: SyncHandler, room: SyncRoom) -> None:
        """A client connected to ``room`` (a hook: the workbench lists connected peers)."""

    def closed(self, handler: SyncHandler, room: SyncRoom) -> None:
        """A client of ``room`` disconnected."""

    def close(self, store: DocStore, code: int = CLOSE_GONE, reason: str = "the document was closed") -> None:
        """Close the room of ``store``'s open branch, if any: its clients are told ``code`` and ``reason``."""
        room = self.rooms.pop(f"{store.path}#{store.branch_name}", None)
        if room is not None:
            room.close(code, reason)

    async def stop(self) -> None:
        """Close every room (the server is going away) and wait until they have stopped."""
        rooms = list(self.rooms.values())
        self.rooms.clear()
        for room in rooms:
            room.close(1001, "the server is stopping")
        await asyncio.gather(*(room.stopped for room in rooms if room.stopped is not None))


def _close_reason(reason: str) -> str:
    """A close reason fits 123 bytes of UTF-8 (RFC 6455)."""
    encoded = reason.encode("utf-8")
    if len(encoded) <= 123:
        return reason
    return encoded[:120].decode("utf-8", errors="ignore") + "..."


def _consume(future: asyncio.Future[Any]) -> None:
    """Retrieve a finished write's error (the peer went away): nothing to do, nothing to log."""
    if not future.cancelled():
        future.exception()


def _log_exception(exception: Exception, log: logging.Logger) -> bool:
    log.error("sync room error: %s", exception, exc_info=exception)
    return True
