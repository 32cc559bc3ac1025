"""The sync endpoint alone, in-process: a Tornado app with a :class:`SyncServer` over DocStores, on a loop thread.

Everything that touches a document runs on that thread (:meth:`Served.call`), as in the real
server (DESIGN.md: one thread touches a Doc); tests and Node clients talk to it over loopback.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar

from pycrdt import Doc
from tornado.websocket import WebSocketClientConnection

from deepforge_panel.crdt import DocStore, StoreError
from deepforge_panel.crdt.sync import MAX_MESSAGE_SIZE, SyncServer

T = TypeVar("T")


class Served:
    """DocStores under ``folder`` (one per room name, made on first use) served at ``ws://127.0.0.1:PORT/sync``."""

    def __init__(
        self,
        folder: Path,
        *,
        max_message_size: int = MAX_MESSAGE_SIZE,
        create: bool = True,
        sync: SyncServer | None = None,
    ) -> None:
        """``sync``: serve this endpoint (over a hub, say) instead of one over plain stores."""
        self.folder = folder
        self.create = create
        self.stores: dict[str, DocStore] = {}
        self.loop = asyncio.new_event_loop()
        self.sync = sync or SyncServer(self._resolve, max_message_size=max_message_size)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"ws://127.0.0.1:{self.port}/sync"
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.call(self._listen)

    def _listen(self) -> None:
        from tornado.httpserver import HTTPServer
        from tornado.web import Application

        self._http = HTTPServer(Application([self.sync.route()]))
        self._http.listen(self.port, "127.0.0.1")

    def _resolve(self, project: str, branch: str) -> DocStore:
        if project not in self.stores:
            if not self.create:
                raise StoreError(f"no project {project!r}")
            store = DocStore(self.folder / f"{project}.sqlite")
            store.open(branch)
            self.stores[project] = store
        return self.stores[project]

    def store(self, name: str) -> DocStore:
        return self.call(lambda: self._resolve(name, "main"))

    def doc(self, name: str) -> Doc:
        return self.store(name).doc

    def call(self, function: Callable[[], T], timeout: float = 30.0) -> T:
        """Run ``function`` on the server's loop thread and return its result."""
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(function())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(run)
        return done.result(timeout)

    def state(self, name: str) -> bytes:
        """The document's full state, read on the loop thread."""
        return self.call(lambda: self._resolve(name, "main").doc.get_update())

    def close(self) -> None:
        async def stop() -> None:
            self._http.stop()
            await self.sync.stop()
            current = asyncio.current_task()
            tasks = [task for task in asyncio.all_tasks() if task is not current]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for store in self.stores.values():
                store.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def hang_up(connection: WebSocketClientConnection) -> None:
    """Close a client websocket and wait until the server has answered, so no socket outlives its loop."""
    protocol = connection.protocol
    connection.close()
    if protocol is None or protocol.stream is None:
        return
    deadline = time.monotonic() + 10
    while not protocol.stream.closed() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
