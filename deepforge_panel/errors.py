"""The one error base for requests about a project that are refused: shown to the user, never a traceback.

Components, the CLI and the server catch :data:`USER_ERRORS` and show the message as it is; any
other exception is a programming bug and surfaces as one. Messages name the element at fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from deepforge_panel.crdt import StoreError
from deepforge_panel.crdt.peer_wire import PeerError

__all__ = ["USER_ERRORS", "NotFound", "Place", "ProjectError"]


@dataclass(frozen=True)
class Place:
    """Where in the project a problem is, so the page can link to it."""

    root: str
    """The document root holding it: ``pipelines``, or a library's root (Keras: ``architectures``)."""
    resource: str
    """The pipeline's or the library resource's id."""
    element: str | None
    """The node's or the resource element's (a layer's) id, if the problem is on one."""
    label: str
    """How a link to it reads: ``layer conv2d of digits-cnn``."""


class ProjectError(Exception):
    """A request refused with a message for the user; ``element`` is the id or name at fault, if any,
    and ``place`` where the (first) problem is, for a link to it."""

    def __init__(self, message: str, element: str | None = None, place: Place | None = None) -> None:
        super().__init__(message)
        self.element = element
        self.place = place


class NotFound(ProjectError, LookupError):
    """Something named does not exist: a project, pipeline, node, artifact, commit... The message lists what does."""


USER_ERRORS: tuple[type[Exception], ...] = (ProjectError, StoreError, PeerError)
"""What a user can cause and read: project errors and the store's (history, names, files)."""
