"""The one error base for requests about a project that are refused: shown to the user, never a traceback.

Components, the CLI and the server catch :data:`USER_ERRORS` and show the message as it is; any
other exception is a programming bug and surfaces as one. Messages name the element at fault.
"""

from __future__ import annotations

from deepforge_panel.crdt import StoreError

__all__ = ["USER_ERRORS", "NotFound", "ProjectError"]


class ProjectError(Exception):
    """A request refused with a message for the user; ``element`` is the id or name at fault, if any."""

    def __init__(self, message: str, element: str | None = None) -> None:
        super().__init__(message)
        self.element = element


class NotFound(ProjectError, LookupError):
    """Something named does not exist: a project, pipeline, node, artifact, commit... The message lists what does."""


USER_ERRORS: tuple[type[Exception], ...] = (ProjectError, StoreError)
"""What a user can cause and read: project errors and the store's (history, names, files)."""
