"""What every route that reads or writes a project shares: the live project, and all-or-nothing edits.

Writes go through the hub's live project (the document every open page shows), with the origin
:data:`ORIGIN`, through the same view methods the UI uses, so the same checks refuse the same edits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pycrdt import Doc

from deepforge_panel.api.declare import ApiError, Call
from deepforge_panel.crdt import StoreError
from deepforge_panel.project import Project

__all__ = ["ORIGIN", "Step", "author", "live", "rehearsed"]

ORIGIN = "api"
"""The origin of the API's transactions: never undone by a page's undo, which tracks its own edits only."""


def live(call: Call) -> Project:
    """The project named (or with id) ``{project}`` as every page has it open; 404 when there is none."""
    name = call.params["project"]
    try:
        project = call.hub.project(name)
    except StoreError as exc:
        raise ApiError(404, str(exc)) from None
    return project.as_user(ORIGIN)


def author(call: Call) -> str:
    """Who a commit or run is recorded as: the body's ``author``, else "api"."""
    given = call.body.get("author") if isinstance(call.body, dict) else None
    return given if isinstance(given, str) and given.strip() else "api"


Step = Callable[[Project], Any]


def rehearsed(project: Project, steps: Sequence[Step], *, always: bool = False) -> list[Any]:
    """Run ``steps`` (view method calls) on the live project, all or none: when there are several (or
    ``always``: one step making several edits), they first run on a detached copy of the document, so the first
    one refused stops the request before anything changed. (A CRDT transaction cannot be rolled back; the copy
    is how a request changing a node's name and its attributes at once never leaves half of it done.)"""
    if len(steps) > 1 or always:
        copy: Doc[Any] = Doc()
        copy.apply_update(project.doc.get_update())
        rehearsal = Project(copy, None, name=project.name)
        for step in steps:
            step(rehearsal)
    return [step(project) for step in steps]
