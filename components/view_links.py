"""Read-only links in the share dialog: make one with a label, copy its address, revoke it.

A read-only link (:mod:`deepforge_panel.view_tokens`) opens the project's present view and nothing else:
an audience follows a run live on their own screens without being able to edit or open other projects.
"""

from __future__ import annotations

import time
from typing import Any

import panel as pn
import param

from deepforge_panel.components.base import notify
from deepforge_panel.components.markup import html_text
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.hub import ProjectHub
from deepforge_panel.project import Project
from deepforge_panel.view_tokens import ViewToken, ViewTokens, present_link

__all__ = ["ReadOnlyLinks"]

_CSS = """
.df-view-link { box-sizing: border-box; width: 100%; padding: 4px 8px; font-family: monospace; font-size: 0.9em;
  border: 1px solid var(--panel-border-color, #ced4da); border-radius: 4px;
  background: var(--panel-surface-color, #fff); color: var(--panel-on-surface-color, #212529); }
.df-view-label { font-weight: 600; }
.df-view-created, .df-view-hint, .df-view-none { color: var(--df-muted, #6c757d); }
.df-view-error { color: var(--df-error, #b02a37); }
"""


class ReadOnlyLinks(pn.viewable.Viewer):
    """The project's read-only links: a label and a button make one; each is listed with its address and a
    Revoke button (new requests with it are refused at once, its open pages close within a second)."""

    hub = param.ClassSelector(class_=ProjectHub, doc="The server's hub (its home keeps the links).")
    project = param.ClassSelector(class_=Project, doc="The project the links show.")
    server = param.String(default="", doc="This workbench's address for the audience; links are paths without it.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.tokens = ViewTokens(self.hub.workspace.path)
        self.label = pn.widgets.TextInput(
            label="Label", placeholder="who it is for: group meeting, talk...", width=320, css_classes=["df-view-label"]
        )
        self.label.param.watch(lambda _e: self.create() if self.label.value.strip() else None, "enter_pressed")
        self.create_button = pn.widgets.Button(
            label="Create read-only link", color="primary", align="end", css_classes=["df-view-create"]
        )
        self.create_button.on_click(lambda _e: self.create())
        self.message = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width", visible=False)
        self.rows = pn.Column(sizing_mode="stretch_width", css_classes=["df-view-links"])
        hint = pn.pane.HTML(
            "<div class='df-view-hint'>A read-only link opens this project's <b>present view</b> (the newest run, "
            "live: figures, metrics, progress) and nothing else: whoever has it cannot edit, download or open "
            "other projects. Add <code>&amp;execution=PIPELINE</code> to follow one pipeline's runs.</div>",
            stylesheets=[_CSS],
            sizing_mode="stretch_width",
        )
        self._layout = pn.Column(
            pn.pane.Markdown("#### Read-only links"),
            hint,
            pn.Row(self.label, self.create_button),
            self.message,
            self.rows,
            sizing_mode="stretch_width",
            css_classes=["df-view-links-section"],
        )

    @property
    def project_id(self) -> str:
        return self.hub.workspace.home.find(self.project.name).id

    def links(self) -> list[ViewToken]:
        """The project's links that still work, oldest first."""
        return self.tokens.links(self.project_id)

    def address(self, link: ViewToken) -> str:
        """``link``'s full address; a path on this server when its address is unknown."""
        return present_link(self.server, link.project, link.token)

    def create(self, label: str | None = None) -> ViewToken | None:
        """A new link labelled ``label`` (default: the label field's text); None, saying why, when refused."""
        try:
            link = self.tokens.create(self.project_id, self.label.value if label is None else label)
        except USER_ERRORS as exc:
            self._say(str(exc))
            return None
        self.label.value = ""
        self._say("")
        self.refresh()
        return link

    def revoke(self, link_id: str) -> None:
        try:
            link = self.tokens.revoke(self.project_id, link_id)
        except USER_ERRORS as exc:
            self._say(str(exc))
            return
        notify(f"read-only link {link.label!r} revoked: it opens nothing from now on", level="info")
        self.refresh()

    def refresh(self) -> None:
        try:
            links = self.links()
        except USER_ERRORS as exc:  # the project was renamed or deleted under this page
            self._say(str(exc))
            return
        if not links:
            self.rows.objects = [pn.pane.HTML("<div class='df-view-none'>no read-only links</div>", stylesheets=[_CSS])]
            return
        self.rows.objects = [self._row(link) for link in links]

    def _row(self, link: ViewToken) -> pn.Row:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(link.created))
        info = pn.pane.HTML(
            f"<div><span class='df-view-label'>{html_text(link.label)}</span> "
            f"<span class='df-view-created'>made {created}</span></div>"
            f"<input class='df-view-link' type='text' readonly value='{html_text(self.address(link))}' "
            f"onfocus='this.select()' aria-label='Read-only link: {html_text(link.label)}'>",
            stylesheets=[_CSS],
            sizing_mode="stretch_width",
            css_classes=["df-view-row"],
        )
        revoke = pn.widgets.Button(
            label="Revoke",
            color="danger",
            variant="outline",
            width=90,
            align="end",
            css_classes=["df-view-revoke"],
        )
        revoke.on_click(lambda _e: self.revoke(link.id))
        return pn.Row(info, revoke, sizing_mode="stretch_width")

    def _say(self, message: str) -> None:
        self.message.object = f"<div class='df-view-error'>{html_text(message)}</div>" if message else ""
        self.message.visible = bool(message)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
