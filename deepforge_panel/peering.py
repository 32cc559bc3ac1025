"""The server's peers: links to the peers each project lists, and a record of the peers that link here.

Every second (the server's pull tick) :meth:`Peering.refresh` reads each project's peer book and
starts a :class:`~deepforge_panel.crdt.peer_link.PeerLink` for every outgoing peer without one, and
stops the links of peers removed (by ``deepforge-panel peers PROJECT remove``, say, from another
process). Links report their state into the book, which the CLI and the project's page read.
Incoming peers (another workbench's links, which say who they are with ``?peer=``) are recorded
as they connect and leave.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from typing import Any

from deepforge_panel.crdt import DocStore
from deepforge_panel.crdt.peer_book import IN, OUT, Peer, PeerBook
from deepforge_panel.crdt.peer_link import LinkState, PeerLink, clone
from deepforge_panel.crdt.peer_routes import PeerRoutes
from deepforge_panel.crdt.peer_wire import PeerAddress
from deepforge_panel.crdt.sync import SyncHandler, SyncRoom
from deepforge_panel.hub import ProjectHub
from deepforge_panel.presence_sync import PresenceSyncServer

__all__ = ["PeerSyncServer", "Peering", "peers_of"]

logger = logging.getLogger(__name__)

REPORT_EVERY_S = 5.0
"""How often a peer's last contact is written to the peer book (by its link, or as it polls us)."""


def peers_of(store_path: str | Path) -> list[Peer]:
    """The peers of the project stored at ``store_path``, outgoing first."""
    book = PeerBook(store_path)
    try:
        peers = book.peers()
    finally:
        book.close()
    return sorted(peers, key=lambda p: (p.direction != OUT, p.added))


class PeerSyncServer(PresenceSyncServer):
    """The sync endpoint, recording the peers that connect to it (connections that give ``?peer=LABEL``).

    A peer is connected while any of its connections is open (one per branch; a reconnect may open the
    new one before the old one's close arrives), so connections are counted per (store, label).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: dict[tuple[str, str], int] = {}

    def opened(self, handler: SyncHandler, room: SyncRoom) -> None:
        self._count(handler, room, +1)

    def closed(self, handler: SyncHandler, room: SyncRoom) -> None:
        self._count(handler, room, -1)

    def _count(self, handler: SyncHandler, room: SyncRoom, step: int) -> None:
        label = handler.get_query_argument("peer", default=None)
        if not label:
            return
        key = (str(room.store.path), label[:200])
        count = self._open[key] = max(0, self._open.get(key, 0) + step)
        book = PeerBook(room.store.path)
        try:
            book.heard(key[1], "connected" if count else "disconnected")
        finally:
            book.close()


class Peering:
    """The links of one server: one per (project, outgoing peer)."""

    def __init__(self, hub: ProjectHub, sync: PresenceSyncServer, port: int) -> None:
        self.hub = hub
        self.sync = sync
        self.label = f"{socket.gethostname()}:{port}"
        """How this workbench introduces itself to the peers it links to."""
        self.links: dict[tuple[str, str, str], PeerLink] = {}
        """(project id, peer address, its token) -> its link: a new token (``peers add`` again) makes a new link."""
        self._books: dict[str, PeerBook] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        for path in self._stores():  # before any peer can connect: a crash leaves rows saying connected
            self._book(path).reset()

    def routes(self) -> PeerRoutes:
        """The peer routes over the hub's live projects, recording which peers poll them."""

        def resolve(project: str, branch: str) -> DocStore:
            store = self.hub.project(project, branch).store
            assert store is not None
            return store

        last: dict[tuple[str, str], float] = {}

        def heard(store: DocStore, label: str) -> None:
            """A peer polled: its last contact, written at most every few seconds (it polls twice a second)."""
            key, now = (str(store.path), label), time.monotonic()
            if now - last.get(key, -REPORT_EVERY_S) >= REPORT_EVERY_S:
                last[key] = now
                self._book(store.path).heard(label)

        return PeerRoutes(resolve, heard)

    def _book(self, path: Path) -> PeerBook:
        key = str(path)
        if key not in self._books:
            self._books[key] = PeerBook(path)
        return self._books[key]

    def _stores(self) -> list[Path]:
        folders = sorted(self.hub.workspace.home.projects_dir.iterdir())
        return [folder / "project.sqlite" for folder in folders if (folder / "project.sqlite").exists()]

    def refresh(self) -> None:
        """Start links for peers added, stop links for peers removed (or projects deleted)."""
        wanted: dict[tuple[str, str, str], Peer] = {}
        for gone in [path for path in self._books if not Path(path).exists()]:  # a project deleted
            self._books.pop(gone).close()
        for path in self._stores():
            for peer in self._book(path).peers(OUT):
                wanted[(path.parent.name, peer.address, peer.token)] = peer
        for key in set(self.links) - set(wanted):
            link = self.links.pop(key)
            self._stopping.add(task := asyncio.ensure_future(link.stop()))
            task.add_done_callback(self._stopping.discard)
        for key, peer in wanted.items():
            if key not in self.links:
                self._start(key[0], peer)

    def _start(self, project_id: str, peer: Peer) -> None:
        book = self._book(self.hub.workspace.home.find(project_id).path)
        last: list[Any] = [None, 0.0]

        def report(status: LinkState) -> None:
            """Into the book when the state changes, and every few seconds for the last contact."""
            now = time.monotonic()
            if last[0] != (status.state, status.error) or now - last[1] > REPORT_EVERY_S:
                book.report(peer.address, status.state, status.error, contact=status.contact is not None)
                last[:] = [(status.state, status.error), now]

        def store() -> DocStore:
            live = self.hub.project(project_id).store
            assert live is not None, "the hub opens live projects only"
            return live

        link = PeerLink(
            peer.link,
            store,
            lambda branch: self.sync.room(project_id, branch),
            label=self.label,
            report=report,
        )
        self.links[(project_id, peer.address, peer.token)] = link
        link.start()

    async def clone(self, url: str, name: str | None = None) -> str:
        """Clone a peer's project into this home (its links start on the next refresh); the new project's name."""
        local, _ = await clone(PeerAddress.parse(url), self.hub.workspace.home, name)
        return local

    async def stop(self) -> None:
        links = list(self.links.values())
        self.links.clear()
        await asyncio.gather(*(link.stop() for link in links))
        for book in self._books.values():
            book.close()
        self._books.clear()

    def status(self, project: str) -> list[dict[str, Any]]:
        """The project's peers as rows for a page: address or label, direction, state, last contact, error."""
        entry = self.hub.workspace.home.find(project)
        return [
            {
                "peer": p.address,
                "direction": p.linked,
                "state": p.state,
                "contact": p.contact,
                "error": p.error,
            }
            for p in peers_of(entry.path)
            if p.direction in (OUT, IN)
        ]
