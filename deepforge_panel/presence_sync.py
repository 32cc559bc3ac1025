"""Presence over the Yjs sync endpoint: Yjs clients see the browser users, browser users see the Yjs clients.

Each sync room's awareness feeds the document's :class:`~deepforge_panel.presence.Presence`
(``set_remote``), and each browser tab in that presence is published into the room's awareness
as a client of its own (a random client id per tab, the documented state shape), renewed well
within the 30 s after which Yjs clients forget a silent peer, and removed when the tab leaves.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

from pycrdt import Encoder, create_awareness_message

from deepforge_panel.crdt import DocStore
from deepforge_panel.crdt.sync import SyncRoom, SyncServer
from deepforge_panel.presence import Presence, awareness_state

RENEW_S = 15.0
"""How often browser users' awareness states are re-sent (y-protocols drops a state after 30 s)."""
ORIGIN = "presence"


def awareness_update(entries: list[tuple[int, int, dict[str, Any] | None]]) -> bytes:
    """The y-protocols awareness update for (client id, clock, state or None for gone) entries."""
    encoder = Encoder()
    encoder.write_var_uint(len(entries))
    for client, clock, state in entries:
        encoder.write_var_uint(client)
        encoder.write_var_uint(clock)
        encoder.write_var_string(json.dumps(state) if state is not None else "null")
    return encoder.to_bytes()


class PresenceBridge:
    """One sync room's awareness and one document's presence, kept in step both ways."""

    def __init__(self, room: SyncRoom, presence: Presence) -> None:
        self.room, self.presence = room, presence
        self._clients: dict[str, int] = {}
        """Browser tab key -> the awareness client id it is published as."""
        self._clocks: dict[int, int] = {}
        self._observer = room.awareness.observe(self._heard)
        self._unsubscribe = presence.subscribe(self.publish)
        self._timer: asyncio.TimerHandle | None = None
        self.publish()

    def _ours(self) -> set[int]:
        return {*self._clients.values(), self.room.awareness.client_id}

    def _heard(self, topic: str, _changes: Any) -> None:
        if topic != "change":
            return
        if self.room.closed:
            self.stop()
            return
        ours = self._ours()
        self.presence.set_remote({c: s for c, s in self.room.awareness.states.items() if c not in ours})

    def publish(self) -> None:
        """Send every browser tab's state (and the departure of those gone) to the room and its clients."""
        if self.room.closed:
            self.stop()
            return
        members = {member.key: member for member in self.presence.local()}
        entries: list[tuple[int, int, dict[str, Any] | None]] = []
        for key, member in members.items():
            client = self._clients.setdefault(key, secrets.randbits(31))
            entries.append((client, self._tick(client), awareness_state(member)))
        for key in set(self._clients) - set(members):
            client = self._clients.pop(key)
            entries.append((client, self._tick(client), None))
        if entries:
            update = awareness_update(entries)
            self.room.awareness.apply_awareness_update(update, ORIGIN)
            message = create_awareness_message(update)
            for handler in list(self.room.handlers):
                handler.send_now(message)
        self._renew_later()

    def _tick(self, client: int) -> int:
        self._clocks[client] = self._clocks.get(client, 0) + 1
        return self._clocks[client]

    def _renew_later(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._timer = loop.call_later(RENEW_S, self.publish)

    def stop(self) -> None:
        """Forget the room: its Yjs clients leave the presence, and nothing is sent to it any more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._unsubscribe()
        self.room.awareness.unobserve(self._observer)
        self.presence.set_remote({})


class PresenceSyncServer(SyncServer):
    """The sync endpoint whose rooms share presence with the workbench pages (``presence_for(project, branch)``)."""

    def __init__(
        self, resolve: Callable[[str, str], DocStore], presence_for: Callable[[str, str], Presence], **kwargs: Any
    ) -> None:
        super().__init__(resolve, **kwargs)
        self.presence_for = presence_for
        self.bridges: dict[int, PresenceBridge] = {}

    def room(self, project: str, branch: str) -> SyncRoom:
        room = super().room(project, branch)
        if id(room) not in self.bridges:
            for key, bridge in list(self.bridges.items()):
                if bridge.room.closed:
                    del self.bridges[key]
            self.bridges[id(room)] = PresenceBridge(room, self.presence_for(project, branch))
        return room
