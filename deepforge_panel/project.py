"""A project: its CRDT document and history, seen through typed views.

Every mutation is one pycrdt transaction on the document, made through a view method;
components, the CLI and the orchestrator all go through here (DESIGN.md: one source of truth).
"""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Callable, Iterator
from typing import Any

from pycrdt import Doc, Map, UndoManager

from deepforge_panel.crdt import ROOTS, Commit, CommitId, DocStore, roots
from deepforge_panel.errors import ProjectError


class ReadOnlyError(ProjectError, RuntimeError):
    """An edit attempted on an old version opened with :meth:`Project.checkout`."""


def default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "anonymous"


class Project:
    """One project: a document, the store behind it (absent for a checkout), and its views."""

    def __init__(
        self,
        doc: Doc,
        store: DocStore | None = None,
        *,
        name: str = "",
        readonly: bool = False,
        origin: str | None = None,
    ) -> None:
        from deepforge_panel.artifacts import ArtifactsView
        from deepforge_panel.executions import ExecutionsView
        from deepforge_panel.operations import OperationsView
        from deepforge_panel.pipelines import PipelinesView

        self.doc = doc
        self._roots = roots(doc)
        self.store = store
        self.name = name or (store.get_info("name") or "" if store else "")
        self.readonly = readonly
        self.origin = origin
        self.operations = OperationsView(self)
        self.pipelines = PipelinesView(self)
        self.executions = ExecutionsView(self)
        self.artifacts = ArtifactsView(self)

    @classmethod
    def open(cls, store: DocStore, branch: str = "main") -> Project:
        return cls(store.open(branch), store)

    def map(self, name: str) -> Map:
        """A root map of the document (created once, so it can be read inside observers)."""
        return self._roots[name]

    @property
    def meta(self) -> Map:
        return self.map("meta")

    def as_user(self, origin: str) -> Project:
        """The same project (same document and store) whose edits carry ``origin``, so they can be undone alone."""
        return Project(self.doc, self.store, name=self.name, readonly=self.readonly, origin=origin)

    def undo_manager(self) -> UndoManager:
        """Undo/redo for this handle's own edits only (its ``origin``), never a peer's or a job's."""
        if self.origin is None:
            raise ValueError("undo needs a per-user handle: use project.as_user(origin)")
        manager = UndoManager(scopes=[self._roots[name] for name in ROOTS if name != "executions"])
        manager.include_origin(self.origin)
        return manager

    def on_change(self, roots: tuple[str, ...] | list[str], callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(root)`` after every transaction touching one of ``roots``; returns an unsubscribe."""

        def notify(name: str) -> Callable[..., None]:
            return lambda *_event: callback(name)

        subscriptions = []
        for name in roots:
            shared = self._roots[name]
            subscriptions.append((shared, shared.observe_deep(notify(name))))

        def unsubscribe() -> None:
            for shared, subscription in subscriptions:
                shared.unobserve(subscription)

        return unsubscribe

    @contextlib.contextmanager
    def transaction(self, origin: Any = None) -> Iterator[None]:
        """One atomic, durable edit; refused on a read-only checkout."""
        if self.readonly:
            raise ReadOnlyError(f"project {self.name!r} is an old version opened read-only; restore it to edit")
        with self.doc.transaction(origin=origin if origin is not None else self.origin):
            yield
        if self.store is not None:
            self.store.flush()

    # -- history ---------------------------------------------------------------------
    def _require_store(self) -> DocStore:
        if self.store is None:
            raise ReadOnlyError(f"project {self.name!r} is a detached version with no history")
        return self.store

    def commit(self, message: str, author: str | None = None) -> CommitId:
        return self._require_store().commit(message, author or default_author())

    def log(self) -> list[Commit]:
        return self._require_store().log()

    def checkout(self, commit_id: str) -> Project:
        """The project as it was at ``commit_id``, read-only."""
        return Project(self._require_store().checkout(commit_id), None, name=self.name, readonly=True)

    def restore(self, commit_id: str, author: str | None = None) -> CommitId:
        if self.readonly:
            raise ReadOnlyError("restore from the live project, not from a checkout")
        return self._require_store().restore(commit_id, author or default_author())

    def branch(self, name: str, commit_id: str | None = None) -> None:
        self._require_store().branch(name, commit_id)

    @property
    def branch_name(self) -> str | None:
        """The open branch; None for a detached (checked-out) version."""
        return self.store.branch_name if self.store is not None else None

    def branches(self) -> list[str]:
        return self.store.branches() if self.store is not None else []

    def head(self) -> CommitId | None:
        """The open branch's newest commit; None before the first commit or on a detached version."""
        return self.store.head() if self.store is not None else None

    def get_commit(self, commit_id: str) -> Commit:
        return self._require_store().get_commit(commit_id)

    def pull(self) -> int:
        """Apply the edits other processes appended to this project's log; how many there were."""
        return self.store.pull() if self.store is not None else 0

    def close(self) -> None:
        """Release the store (the document stays readable); a no-op on a detached version."""
        if self.store is not None:
            self.store.close()
