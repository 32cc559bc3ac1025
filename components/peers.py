"""Sharing on the project page: the address a colleague clones the project from, and the peers it syncs with.

Both read the server's :class:`~deepforge_panel.peering.Peering` (links and their state live in the
project's peer book, written by the server's links), never the document.
"""

from __future__ import annotations

import time
from typing import Any

import panel as pn
import param

from deepforge_panel.cli_peers import served_url, share_address
from deepforge_panel.components.markup import html_text
from deepforge_panel.components.view_links import ReadOnlyLinks
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.hub import ProjectHub
from deepforge_panel.project import Project

__all__ = ["REFRESH_MS", "PeersPanel", "ShareDialog", "server_address"]

REFRESH_MS = 2000
"""How often a live page re-reads its project's peers (links report into the peer book every few seconds)."""

ADDRESS_ERRORS: tuple[type[Exception], ...] = (ValueError, *USER_ERRORS)
"""Why no share address can be given (``ValueError``: this workbench's own address is unknown)."""

_STATE_COLORS = {"connected": "#2e9e44", "connecting": "#d49a00", "disconnected": "#d9534f"}
"""A state's dot; states not listed ("seen", "not linked") are grey."""

_PEERS_CSS = """
.df-peers-table { border-collapse: collapse; width: 100%; font-size: 0.95em; }
.df-peers-table th { text-align: left; font-weight: 600; padding: 4px 10px 4px 0;
  border-bottom: 1px solid var(--panel-border-color, #dee2e6); }
.df-peers-table td { padding: 4px 10px 4px 0; vertical-align: top; }
.df-peer-address { font-family: monospace; word-break: break-all; }
.df-peer-error { color: var(--df-error, #b02a37); word-break: break-word; }
.df-peer-dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; }
.df-peers-none, .df-peers-hint { color: var(--df-muted, #6c757d); }
.df-peers-hint { margin-top: 8px; }
"""

_SHARE_CSS = """
.df-share-address { box-sizing: border-box; width: 100%; padding: 6px 8px; font-family: monospace;
  font-size: 0.95em; border: 1px solid var(--panel-border-color, #ced4da); border-radius: 4px;
  background: var(--panel-surface-color, #fff); color: var(--panel-on-surface-color, #212529); }
.df-share-hint { color: var(--df-muted, #6c757d); margin-top: 8px; }
.df-share-hint code { font-size: 0.95em; }
"""


def server_address(hub: ProjectHub) -> str | None:
    """This workbench's address for colleagues: what the running server wrote, else the browser's origin."""
    served = served_url(hub.workspace.path)
    if served:
        return served
    location = pn.state.location
    if location is None or not location.hostname:
        return None
    port = f":{location.port}" if location.port else ""
    return f"{location.protocol or 'http:'}//{location.hostname}{port}/"


def _contact(when: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "never"


def _row(peer: dict[str, Any]) -> str:
    state = str(peer.get("state") or "")
    color = _STATE_COLORS.get(state, "#8a9299")
    error = html_text(peer.get("error") or "")
    return (
        f"<tr class='df-peer-row'><td class='df-peer-address'>{html_text(peer.get('peer', ''))}</td>"
        f"<td>{html_text(peer.get('direction', ''))}</td>"
        f"<td class='df-peer-state'><span class='df-peer-dot' style='background:{color}'></span>{html_text(state)}</td>"
        f"<td>{_contact(peer.get('contact'))}</td>"
        f"<td class='df-peer-error'>{error}</td></tr>"
    )


class PeersPanel(pn.viewable.Viewer):
    """The workbenches a project syncs with, which way, how the link fares; re-read every two seconds."""

    hub = param.ClassSelector(class_=ProjectHub, doc="The server's hub (its ``peering``; none in a bare hub).")
    project = param.ClassSelector(class_=Project, doc="The project whose peers are listed.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[_PEERS_CSS], css_classes=["df-peers"])
        self._layout = pn.Card(
            self.pane,
            title="Peers",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["df-peers-card"],
            visible=self.hub.peering is not None,
        )
        self._poll: pn.io.callbacks.PeriodicCallback | None = None
        if self.hub.peering is not None and pn.state.curdoc is not None and pn.state.curdoc.session_context:
            self._poll = pn.state.add_periodic_callback(self.refresh, period=REFRESH_MS)
            pn.state.on_session_destroyed(lambda _context: self.dispose())
        self.refresh()

    def rows(self) -> list[dict[str, Any]]:
        """The project's peers as :meth:`Peering.status` gives them (none without peering)."""
        peering = self.hub.peering
        return peering.status(self.project.name) if peering is not None else []

    def refresh(self) -> None:
        try:
            rows = self.rows()
        except USER_ERRORS as exc:  # the project was renamed or deleted under this page
            self.pane.object = f"<div class='df-peers-none'>{html_text(exc)}</div>"
            return
        hint = (
            "<div class='df-peers-hint'>Workbenches this project syncs with. "
            "<b>Share</b> (at the top) gives the address a colleague clones it from.</div>"
        )
        if not rows:
            self.pane.object = f"<div class='df-peers-none'>no peers</div>{hint}"
            return
        body = "".join(_row(peer) for peer in rows)
        self.pane.object = (
            "<table class='df-peers-table'><thead><tr><th>Peer</th><th>Link</th><th>State</th>"
            f"<th>Last contact</th><th>Last error</th></tr></thead><tbody>{body}</tbody></table>{hint}"
        )

    def dispose(self) -> None:
        if self._poll is not None:
            self._poll.stop()
            self._poll = None

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class ShareDialog(pn.viewable.Viewer):
    """The project's share address, read-only and selected on a click, with how a colleague uses it; and its
    read-only links (:class:`~deepforge_panel.components.view_links.ReadOnlyLinks`)."""

    hub = param.ClassSelector(class_=ProjectHub, doc="The server's hub (its home holds the share token).")
    project = param.ClassSelector(class_=Project, doc="The project to share.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.pane = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=[_SHARE_CSS], css_classes=["df-share"])
        self.read_only = ReadOnlyLinks(hub=self.hub, project=self.project)
        self._layout = pn.Column(
            pn.pane.Markdown("### Share this project"),
            self.pane,
            self.read_only,
            sizing_mode="stretch_width",
            min_width=560,
        )

    @property
    def address(self) -> str:
        """The share address (raises ``ValueError`` when this workbench's own address is unknown)."""
        return share_address(self.hub.workspace.home, self.project.name, server_address(self.hub))

    def refresh(self) -> None:
        """Build the addresses now (the browser's origin is known once the page has loaded)."""
        self.read_only.server = server_address(self.hub) or ""
        self.read_only.refresh()
        try:
            address = self.address
        except ADDRESS_ERRORS as exc:
            self.pane.object = f"<div class='df-peer-error'>{html_text(exc)}</div>"
            return
        self.pane.object = (
            f"<input class='df-share-address' type='text' readonly value='{html_text(address)}' "
            "onfocus='this.select()' aria-label='Share address'>"
            "<div class='df-share-hint'>Give this address to a colleague: in their workbench, "
            "<b>Open a shared project</b> on the start page, or <code>deepforge-panel clone ADDRESS</code>. "
            "Their copy and this one then stay in step both ways. The address opens this project only.</div>"
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
