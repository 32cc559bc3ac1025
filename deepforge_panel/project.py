"""A project: its CRDT document and history, seen through typed views.

Every mutation is one pycrdt transaction on the document, made through a view method;
components, the CLI and the orchestrator all go through here (DESIGN.md: one source of truth).
"""

from __future__ import annotations

import contextlib
import getpass
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, Map, UndoManager

from deepforge_panel.crdt import ROOTS, Commit, CommitId, DocStore, dumps, loads, register_root, roots
from deepforge_panel.errors import ProjectError

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import Limits

logger = logging.getLogger(__name__)


class ReadOnlyError(ProjectError, RuntimeError):
    """An edit attempted on an old version opened with :meth:`Project.checkout`."""


def declare_library_roots() -> list[str]:
    """Give every document the design roots of the registered libraries (``crdt`` knows no library); their names."""
    from deepforge_panel.libraries import loaded_libraries

    names = []
    for lib in loaded_libraries():
        try:
            register_root(lib.root)
        except ValueError as exc:
            logger.error("library %r is left out of the document: %s", lib.name, exc)
            continue
        names.append(lib.root)
    return names


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
        from deepforge_panel.job_cache import ResultsView
        from deepforge_panel.notebooks import NotebooksView
        from deepforge_panel.operations import OperationsView
        from deepforge_panel.pipelines import PipelinesView
        from deepforge_panel.utilities import UtilitiesView

        self.doc = doc
        declare_library_roots()
        self._roots = roots(doc)
        self.store = store
        self.name = name or (store.get_info("name") or "" if store else "")
        self.readonly = readonly
        self.origin = origin
        self.operations = OperationsView(self)
        self.pipelines = PipelinesView(self)
        self.executions = ExecutionsView(self)
        self.artifacts = ArtifactsView(self)
        self.notebooks = NotebooksView(self)
        self.utilities = UtilitiesView(self)
        self.results = ResultsView(self)

    @classmethod
    def open(cls, store: DocStore, branch: str = "main") -> Project:
        return cls(store.open(branch), store)

    def map(self, name: str) -> Map:
        """A root map of the document (created once, so it can be read inside observers)."""
        if name not in self._roots and name in ROOTS:  # a root registered after this handle was made
            self._roots[name] = self.doc.get(name, type=Map)
        return self._roots[name]

    @property
    def meta(self) -> Map:
        return self.map("meta")

    @property
    def job_log_level(self) -> str:
        """How much start-up logging (TensorFlow's notices) jobs show: "quiet" (default) or "verbose"."""
        value = self.meta.get("job_log_level")
        return value if isinstance(value, str) else "quiet"

    @job_log_level.setter
    def job_log_level(self, level: str) -> None:
        from deepforge_panel.jobgen import JOB_LOG_LEVELS

        if level not in JOB_LOG_LEVELS:
            raise ValueError(f"job_log_level is one of {JOB_LOG_LEVELS}, not {level!r}")
        with self.transaction():
            self.meta["job_log_level"] = level

    @property
    def job_limits(self) -> Limits:
        """Every job's time and memory limits unless its node sets its own (none by default)."""
        from deepforge_panel.adapters.compute import Limits

        value = self.meta.get("job_limits")
        return Limits.from_dict(loads(value)) if isinstance(value, str) else Limits()

    @job_limits.setter
    def job_limits(self, limits: Limits) -> None:
        with self.transaction():
            self.meta["job_limits"] = dumps(limits.to_dict())

    def as_user(self, origin: str) -> Project:
        """The same project (same document and store) whose edits carry ``origin``, so they can be undone alone."""
        return Project(self.doc, self.store, name=self.name, readonly=self.readonly, origin=origin)

    def undo_manager(self) -> UndoManager:
        """Undo/redo for this handle's own edits of the design only (its ``origin``), never a peer's or a job's.

        Records roots (executions, artifacts) are out of scope: what happened is never undone.
        """
        if self.origin is None:
            raise ValueError("undo needs a per-user handle: use project.as_user(origin)")
        manager = UndoManager(scopes=[self.map(name) for name in ROOTS.design])
        manager.include_origin(self.origin)
        return manager

    def on_change(self, roots: Sequence[str], callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(root)`` after every transaction touching one of ``roots``; returns an unsubscribe."""

        def notify(name: str) -> Callable[..., None]:
            return lambda *_event: callback(name)

        subscriptions = []
        for name in roots:
            shared = self.map(name)
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

    def tips(self) -> list[CommitId]:
        """The open branch's heads, newest first: one, unless peers committed concurrently (divergent heads)."""
        return self.store.tips() if self.store is not None else []

    def get_commit(self, commit_id: str) -> Commit:
        return self._require_store().get_commit(commit_id)

    def pull(self) -> int:
        """Apply the edits other processes appended to this project's log; how many there were."""
        return self.store.pull() if self.store is not None else 0

    def close(self) -> None:
        """Release the store (the document stays readable); a no-op on a detached version."""
        if self.store is not None:
            self.store.close()
