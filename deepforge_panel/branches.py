"""Branches of a project: the version at each head, compared, and merged into the open branch.

A merge is a CRDT merge (``DocStore.merge``): the source head's state applied to the live
document, so edits made on both branches since they parted all survive. Its preview is the same
merge made on a detached copy, diffed against the live design: what confirming will change.
"""

from __future__ import annotations

from deepforge_panel.crdt import CommitId, DocStore, StoreError
from deepforge_panel.diff import DesignDiff, design_diff
from deepforge_panel.project import Project, ReadOnlyError, default_author

__all__ = ["branch_version", "compare", "merge", "merge_preview"]


def _store(project: Project) -> DocStore:
    if project.readonly or project.store is None:
        raise ReadOnlyError(f"project {project.name!r} is an old version opened read-only: it has no branches to merge")
    return project.store


def branch_version(project: Project, branch: str) -> Project:
    """Branch ``branch`` as of its head, read-only; StoreError when it has no commit yet."""
    head = _store(project).head(branch)
    if head is None:
        raise StoreError(f"branch {branch!r} has no commit yet")
    return project.checkout(head)


def compare(project: Project, base: str, other: str) -> DesignDiff:
    """What changed in the design from branch ``base``'s head to branch ``other``'s."""
    return design_diff(branch_version(project, base), branch_version(project, other), base, other)


def merge_preview(project: Project, source: str) -> DesignDiff:
    """What merging branch ``source`` into the open branch would change in the live design."""
    store = _store(project)
    merged = Project(store.merged(source), None, name=project.name, readonly=True)
    return design_diff(project, merged, store.branch_name, f"merged with {source}")


def merge(project: Project, source: str, author: str | None = None) -> CommitId:
    """Merge branch ``source``'s head into the open branch and commit it ("Merge <source> into <branch>")."""
    return _store(project).merge(source, author or default_author())
