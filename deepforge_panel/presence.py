"""Who is in a live document right now: browser sessions and Yjs clients, with their names, colors and selections.

Presence is not project state: it lives only while people are connected, is never stored, and is
never in the document. Browser sessions join and leave explicitly; Yjs clients arrive through the
sync endpoint's awareness (:meth:`Presence.set_remote`) in the documented state shape::

    {"user": {"name": str, "color": "#rrggbb"}, "selection": {"kind": "node" | "layer", "id": str} | null}
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Member", "Presence", "awareness_state"]

log = logging.getLogger(__name__)
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_NAME = 40


@dataclass(frozen=True)
class Member:
    """One person in the document: ``key`` is ``session:<id>`` for a browser tab, ``yjs:<client id>`` for a Yjs client."""

    key: str
    name: str
    color: str
    selection: tuple[str, str] | None = None
    """What they have selected: (kind, id), kind ``node`` (a pipeline node) or ``layer`` (an architecture layer)."""


def awareness_state(member: Member) -> dict[str, Any]:
    """The awareness state a Yjs client sees for ``member``."""
    selection = {"kind": member.selection[0], "id": member.selection[1]} if member.selection else None
    return {"user": {"name": member.name, "color": member.color}, "selection": selection}


def _from_state(key: str, state: Mapping[str, Any]) -> Member | None:
    """A Yjs client's awareness state as a member; None if it says nothing we can show (no user)."""
    user = state.get("user")
    if not isinstance(user, Mapping):
        return None
    name = str(user.get("name") or "").strip()[:MAX_NAME] or "anonymous"
    color = str(user.get("color") or "")
    selection = state.get("selection")
    chosen: tuple[str, str] | None = None
    if (
        isinstance(selection, Mapping)
        and isinstance(selection.get("kind"), str)
        and isinstance(selection.get("id"), str)
    ):
        chosen = (selection["kind"], selection["id"])
    return Member(key, name, color if _COLOR.match(color) else "#888888", chosen)


class Presence:
    """The members of one live document; listeners hear every change (they may be called from the server loop)."""

    def __init__(self) -> None:
        self._local: dict[str, Member] = {}
        self._remote: dict[str, Member] = {}
        self._listeners: list[Callable[[], None]] = []

    def members(self) -> list[Member]:
        """Everyone here, browser sessions first, each group by name."""
        return sorted(self._local.values(), key=lambda m: m.name.lower()) + sorted(
            self._remote.values(), key=lambda m: m.name.lower()
        )

    def local(self) -> list[Member]:
        """The browser sessions here (what the sync endpoint publishes to Yjs clients)."""
        return list(self._local.values())

    def join(self, key: str, name: str, color: str) -> None:
        old = self._local.get(key)
        self._local[key] = Member(key, name, color, old.selection if old else None)
        self._changed()

    def select(self, key: str, selection: tuple[str, str] | None) -> None:
        member = self._local.get(key)
        if member is not None and member.selection != selection:
            self._local[key] = Member(member.key, member.name, member.color, selection)
            self._changed()

    def leave(self, key: str) -> None:
        if self._local.pop(key, None) is not None:
            self._changed()

    def set_remote(self, states: Mapping[int, Mapping[str, Any]]) -> None:
        """The Yjs clients' awareness states, by client id (all of them: those missing have left)."""
        remote = {}
        for client, state in states.items():
            member = _from_state(f"yjs:{client}", state) if isinstance(state, Mapping) else None
            if member is not None:
                remote[member.key] = member
        if remote != self._remote:
            self._remote = remote
            self._changed()

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change; returns the unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("a presence listener failed")
