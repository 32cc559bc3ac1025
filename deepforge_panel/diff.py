"""What separates two versions of a project's design, counted per design root (pure: reads, never writes).

Restore, diff and merge act on the design roots only (DESIGN.md, "The document"); records roots
(executions, artifacts) are kept as they are, so they never appear here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deepforge_panel.crdt import ROOTS, to_py

if TYPE_CHECKING:
    from deepforge_panel.project import Project

__all__ = ["RootChanges", "describe_changes", "design_changes"]

_SINGULAR = {"meta": "project detail", "settings": "setting"}
_PLURAL = {"meta": "project details"}


@dataclass(frozen=True)
class RootChanges:
    """How many entries of one root going from ``live`` to ``target`` adds, removes and changes."""

    added: int = 0
    removed: int = 0
    changed: int = 0

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def design_changes(live: Project, target: Project) -> dict[str, RootChanges]:
    """Per design root with a difference: what making ``live``'s design equal to ``target``'s changes."""
    changes = {}
    for name in ROOTS.design:
        now, then = live.map(name), target.map(name)
        now_keys, then_keys = set(now.keys()), set(then.keys())
        counted = RootChanges(
            added=len(then_keys - now_keys),
            removed=len(now_keys - then_keys),
            changed=sum(1 for key in now_keys & then_keys if to_py(now[key]) != to_py(then[key])),
        )
        if counted:
            changes[name] = counted
    return changes


def _noun(root: str, count: int) -> str:
    if count == 1:
        return _SINGULAR.get(root, root[:-1] if root.endswith("s") else root)
    return _PLURAL.get(root, root)


def describe_changes(changes: dict[str, RootChanges]) -> str:
    """``changes`` in words, e.g. "2 pipelines changed, 1 operation removed"; "nothing" when empty."""
    parts = [
        f"{count} {_noun(root, count)} {verb}"
        for root, counted in changes.items()
        for count, verb in ((counted.changed, "changed"), (counted.added, "added"), (counted.removed, "removed"))
        if count
    ]
    return ", ".join(parts) or "nothing"
