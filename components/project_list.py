"""The start page: every project in the home with its last change; create, open, rename, fork, delete,
open a project a colleague shared (cloned from their workbench, then kept in step with it), and import a
DeepForge project export."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import panel as pn
import param

from deepforge_panel.components.markup import html_text, md_text
from deepforge_panel.errors import USER_ERRORS, ProjectError
from deepforge_panel.hub import ProjectHub

_ENTRY_CSS = """
.df-open { display: block; max-width: 300px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  font-size: 1.2em; font-weight: 600; }
.df-changed { color: var(--df-muted, #6c757d); }
"""
"""A long name ends in an ellipsis instead of running under the rename box (its title holds it whole)."""

ADDRESS_ERRORS: tuple[type[Exception], ...] = (ValueError, *USER_ERRORS)
"""What cloning from a typed share address may raise for the user to read (``ValueError``: not an address)."""


class ProjectList(pn.viewable.Viewer):
    """Projects of the server's home folder (the store's index, not a document)."""

    hub = param.ClassSelector(class_=ProjectHub)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.list = pn.Column(sizing_mode="stretch_width")
        self.message = pn.pane.Alert("", alert_type="danger", visible=False)
        self.new_name = pn.widgets.TextInput(label="New project", placeholder="project name", width=240)
        self.create_button = pn.widgets.Button(label="Create", color="primary", align="end")
        self.create_button.on_click(lambda _e: self._act(self.create, self.new_name.value.strip()))
        self._confirming: str | None = None
        peering = self.hub.peering is not None
        self.share_address = pn.widgets.TextInput(
            label="Open a shared project",
            placeholder="share address: http://host:port/?project=NAME&token=...",
            width=460,
            visible=peering,
        )
        self.share_name = pn.widgets.TextInput(
            label="Name here (optional)", placeholder="as the peer names it", width=200, visible=peering
        )
        self.clone_button = pn.widgets.Button(
            label="Open shared project", color="primary", align="end", disabled=not peering, visible=peering
        )
        self.clone_button.on_click(self.open_shared)
        self.cloned = pn.pane.HTML("", visible=False, css_classes=["df-cloned"])
        self.import_file = pn.widgets.FileInput(accept=".webgmex", label="Import a DeepForge project (.webgmex)")
        self.import_name = pn.widgets.TextInput(
            label="Name here (optional)", placeholder="as DeepForge names it", width=200
        )
        self.import_button = pn.widgets.Button(label="Import", color="primary", align="end")
        self.import_button.on_click(self.import_project)
        self.import_report = pn.pane.HTML("", visible=False, css_classes=["df-import-report"])
        self.refresh()

    def _act(self, action: Any, *args: Any) -> None:
        try:
            action(*args)
        except USER_ERRORS as exc:
            self.message.param.update(object=md_text(exc), visible=True)
            return
        self.message.visible = False
        self.refresh()

    def create(self, name: str) -> None:
        if not name:
            raise ProjectError("give the new project a name")
        self.hub.create(name)
        self.new_name.value = ""

    async def open_shared(self, _event: object = None) -> None:
        """Clone the project at the share address typed in (its link to the peer starts by itself)."""
        url, name = self.share_address.value.strip(), self.share_name.value.strip()
        if self.hub.peering is None:
            return
        self.cloned.visible = False
        if not url:
            self.message.param.update(object="Paste the share address a colleague gave you.", visible=True)
            return
        self.clone_button.param.update(disabled=True, label="Opening…")
        try:
            local = await self.hub.peering.clone(url, name or None)
        except ADDRESS_ERRORS as exc:
            self.message.param.update(object=md_text(exc), visible=True)
            return
        finally:
            self.clone_button.param.update(disabled=False, label="Open shared project")
        self.message.visible = False
        self.share_address.value = self.share_name.value = ""
        href = html_text("?" + urlencode({"project": local}))
        self.cloned.param.update(
            object=f"Opened the shared project as <a class='df-open-cloned' href='{href}'>{html_text(local)}</a>; "
            "it stays in step with the peer's.",
            visible=True,
        )
        self.refresh()

    def import_project(self, _event: object = None) -> None:
        """Import the chosen ``.webgmex`` file as a new project and show the import's report."""
        data, file_name = self.import_file.value, Path(self.import_file.filename or "project.webgmex").name
        self.import_report.visible = False
        if not data:
            self.message.param.update(object="Choose a .webgmex file DeepForge exported first.", visible=True)
            return
        with tempfile.TemporaryDirectory(prefix="deepforge-import-") as folder:
            path = Path(folder) / (file_name if file_name.endswith(".webgmex") else f"{file_name}.webgmex")
            path.write_bytes(data)
            try:
                report = self.hub.import_deepforge(path, self.import_name.value.strip() or None)
            except USER_ERRORS as exc:
                self.message.param.update(object=md_text(exc), visible=True)
                return
        self.message.visible = False
        self.import_file.clear()
        self.import_name.value = ""
        href = html_text("?" + urlencode({"project": report.project}))
        notes = "".join(f"<li>{html_text(note)}</li>" for note in report.notes)
        lines = html_text(report.summary().splitlines()[0])
        self.import_report.param.update(
            object=f"<p>{lines}. <a class='df-open-imported' href='{href}'>Open {html_text(report.project)}</a></p>"
            + (f"<p>Not carried over, or changed:</p><ul>{notes}</ul>" if notes else "<p>Everything came over.</p>"),
            visible=True,
        )
        self.refresh()

    def rename(self, name: str, new_name: str) -> None:
        self.hub.rename(name, new_name)

    def fork(self, name: str, new_name: str) -> None:
        self.hub.fork(name, new_name)

    def delete(self, name: str) -> None:
        if self._confirming != name:
            self._confirming = name
            return
        self._confirming = None
        self.hub.delete(name)

    def refresh(self) -> None:
        rows = []
        for entry in self.hub.projects():
            changed = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.modified))
            href = html_text("?" + urlencode({"project": entry.name}))
            name = html_text(entry.name)
            open_link = pn.pane.HTML(
                f"<a class='df-open' href='{href}' title='{name}'>{name}</a>"
                f"<div class='df-changed'>last change {changed}</div>",
                width=300,
                stylesheets=[_ENTRY_CSS],
            )
            target = pn.widgets.TextInput(placeholder="new name", width=160)
            rename = pn.widgets.Button(label="Rename", width=80)
            rename.on_click(lambda _e, n=entry.name, t=target: self._act(self.rename, n, t.value.strip()))
            fork = pn.widgets.Button(label="Fork", width=70)
            fork.on_click(lambda _e, n=entry.name, t=target: self._act(self.fork, n, t.value.strip()))
            confirming = self._confirming == entry.name
            delete = pn.widgets.Button(label="Confirm delete" if confirming else "Delete", color="danger", width=120)
            delete.on_click(lambda _e, n=entry.name: self._act(self.delete, n))
            rows.append(pn.Row(open_link, target, rename, fork, delete, css_classes=["df-project"]))
        if not rows:
            rows = [pn.pane.Markdown("### No projects yet\nCreate one below.")]
        self.list.objects = rows

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("## Projects"),
            self.message,
            self.list,
            pn.layout.Divider(),
            pn.Row(self.new_name, self.create_button),
            pn.Row(self.share_address, self.share_name, self.clone_button),
            self.cloned,
            pn.Row(self.import_file, self.import_name, self.import_button),
            self.import_report,
            sizing_mode="stretch_width",
        )
