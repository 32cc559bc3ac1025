"""Presence in the page: who else is in the project, and what they have selected, in their colors.

A projection of the hub's :class:`~deepforge_panel.presence.Presence` (never of the document):
other people's changes reach this page on its own document's next tick.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from deepforge_panel.components.session import Session
from deepforge_panel.presence import Member, Presence


def on_this_page(callback: Callable[[], None]) -> Callable[[], None]:
    """``callback`` run on this browser session's document (under its lock) when called from anywhere."""
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        return callback
    return lambda: doc.add_next_tick_callback(callback)


def marks(session: Session, kind: str) -> dict[str, list[Member]]:
    """Elements of ``kind`` (``node``, ``layer``) that other people have selected, by element id."""
    found: dict[str, list[Member]] = {}
    if session.presence is None:
        return found
    for member in session.presence.members():
        if member.key != session.key and member.selection and member.selection[0] == kind:
            found.setdefault(member.selection[1], []).append(member)
    return found


def on_marks_change(session: Session, kind: str, refresh: Callable[[], None]) -> Callable[[], None] | None:
    """Subscribe ``refresh`` to changes of others' ``kind`` selections only (an editor passes its coalescing
    ``_changed``, so a selection and the edit that came with it redraw once); returns the unsubscribe."""
    if session.presence is None:
        return None
    shown = [marks(session, kind)]

    def changed() -> None:
        now = marks(session, kind)
        if now != shown[0]:  # most presence changes (my own selection, a join) mark nothing new here
            shown[0] = now
            refresh()

    return session.presence.subscribe(changed)


def mark_style(members: list[Member]) -> dict[str, str]:
    """A graph node's outline in the color of the first person who selected it."""
    return {"outline": f"3px solid {members[0].color}", "outlineOffset": "3px"} if members else {}


def mark_html(members: list[Member]) -> str:
    """Who selected a graph node, in their colors, for the top of its body."""
    names = "".join(f"<span class='df-peer' style='color:{m.color}'>● {html.escape(m.name)}</span>" for m in members)
    return f"<div class='df-peers'>{names}</div>" if names else ""


class PresenceList(pn.viewable.Viewer):
    """Everyone in the project right now, in their colors; you first."""

    session = param.ClassSelector(class_=Session, doc="This browser tab's session (its presence and key).")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.pane = pn.pane.HTML("", margin=(12, 10), css_classes=["df-presence"])
        self._unsubscribe: Callable[[], None] | None = None
        if self.session.presence is not None:
            self._unsubscribe = self.session.presence.subscribe(on_this_page(self.refresh))
            if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
                pn.state.on_session_destroyed(lambda _context: self.dispose())
        self.refresh()

    def refresh(self) -> None:
        presence: Presence | None = self.session.presence
        members = presence.members() if presence is not None else []
        others = [m for m in members if m.key != self.session.key]
        chips = "".join(
            f"<span class='df-member' data-name='{html.escape(m.name, quote=True)}' "
            f"title='{html.escape(m.name, quote=True)}{' (Yjs client)' if m.key.startswith('yjs:') else ''}' "
            f"style='display:inline-block;margin-left:8px;padding:1px 8px;border-radius:10px;"
            f"background:{m.color};color:white;font-size:12px'>{html.escape(m.name)}</span>"
            for m in others
        )
        alone = "<span style='color:#dde;font-size:12px'>only you here</span>"
        self.pane.object = f"<div class='df-present'>{chips or alone}</div>"

    def dispose(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def __panel__(self) -> pn.viewable.Viewable:
        return self.pane
