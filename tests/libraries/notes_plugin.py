"""A throwaway domain library: notes in their own document root, a one-line editor, a CLI command.

Registered in-process by ``test_plugin_library.py``, and copied there into a throwaway distribution
whose entry point adds it to a served workbench and a CLI process, as a third-party package would.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import panel as pn
import param
from pycrdt import Map

from deepforge_panel.crdt import new_id
from deepforge_panel.errors import NotFound
from deepforge_panel.libraries import Library


@dataclass(frozen=True)
class Note:
    id: str
    name: str
    text: str


class NotesView:
    """The project's notes, read from and written to the ``notes`` root."""

    def __init__(self, project: Any) -> None:
        self.project = project

    def all(self) -> list[Note]:
        return [Note(key, value["name"], value["text"]) for key, value in self.project.map("notes").items()]

    def get(self, note_id: str) -> Note:
        for note in self.all():
            if note.id == note_id:
                return note
        raise NotFound(f"project {self.project.name!r} has no note {note_id!r}", element=note_id)

    def create(self, name: str, text: str = "") -> str:
        note_id = new_id("nt")
        with self.project.transaction():
            self.project.map("notes")[note_id] = Map({"name": name, "text": text})
        return note_id


class NotesEditor(pn.viewable.Viewer):
    """How many notes the project has: the least an editor can be."""

    project = param.Parameter(doc="The project whose notes are shown.")
    session = param.Parameter(doc="The browser session.")

    def __panel__(self) -> pn.pane.Markdown:
        return pn.pane.Markdown(f"{len(NotesView(self.project).all())} notes")


def _open(args: argparse.Namespace) -> Any:
    from deepforge_panel.workspace import Workspace

    return Workspace(args.home, examples=False).open(args.project)


def cmd_add(args: argparse.Namespace) -> int:
    project = _open(args)
    try:
        print(f"added note {NotesView(project).create(args.name, args.text)}")
    finally:
        project.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    project = _open(args)
    try:
        for note in NotesView(project).all():
            print(f"{note.name}: {note.text}")
    finally:
        project.close()
    return 0


class NotesLibrary(Library):
    """Notes as a domain library; keeps the editors it made, so a test can reach the page's session."""

    name = "notes"
    root = "notes"
    tab = "Notes"

    def __init__(self) -> None:
        self.editors: list[NotesEditor] = []

    def catalog(self) -> dict[str, Any]:
        return {}

    def resources(self, project: Any) -> NotesView:
        return NotesView(project)

    def generate(self, project: Any, resource_id: str) -> str:
        return f"def build():\n    return {NotesView(project).get(resource_id).text!r}\n"

    def editor(self, project: Any, session: Any) -> NotesEditor:
        self.editors.append(NotesEditor(project=project, session=session))
        return self.editors[-1]

    def add_commands(self, subparsers: Any, common: argparse.ArgumentParser) -> None:
        notes = subparsers.add_parser("notes", parents=[common], help="add and list notes")
        actions = notes.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", parents=[common], help="a new note")
        add.add_argument("project")
        add.add_argument("name")
        add.add_argument("text")
        add.set_defaults(func=cmd_add)
        listing = actions.add_parser("list", parents=[common], help="every note")
        listing.add_argument("project")
        listing.set_defaults(func=cmd_list)
