"""What separates two versions of a project's design (pure: reads, never writes).

Counted per design root (:func:`design_changes`, for a confirmation) or in detail (:func:`design_diff`:
pipelines' nodes, attributes and edges, operations' code as a unified diff, every other design entry
as its changed values). Restore, diff and merge act on the design roots only (DESIGN.md, "The
document"); records roots (executions, artifacts) are kept as they are, so they never appear here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from deepforge_panel.crdt import ROOTS, to_py

if TYPE_CHECKING:
    from deepforge_panel.operations import Operation
    from deepforge_panel.pipelines import Edge, Node, Pipeline
    from deepforge_panel.project import Project

__all__ = [
    "MISSING",
    "DesignDiff",
    "EntryDiff",
    "NodeDiff",
    "OperationDiff",
    "PipelineDiff",
    "RootChanges",
    "ValueChange",
    "code_diff",
    "describe_changes",
    "design_changes",
    "design_diff",
    "noun",
]

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


def noun(root: str, count: int) -> str:
    """What ``count`` entries of design root ``root`` are called ("1 pipeline", "2 project details")."""
    if count == 1:
        return _SINGULAR.get(root, root[:-1] if root.endswith("s") else root)
    return _PLURAL.get(root, root)


def describe_changes(changes: dict[str, RootChanges]) -> str:
    """``changes`` in words, e.g. "2 pipelines changed, 1 operation removed"; "nothing" when empty."""
    parts = [
        f"{count} {noun(root, count)} {verb}"
        for root, counted in changes.items()
        for count, verb in ((counted.changed, "changed"), (counted.added, "added"), (counted.removed, "removed"))
        if count
    ]
    return ", ".join(parts) or "nothing"


# -- the detailed diff ------------------------------------------------------------------------
Status = Literal["added", "removed", "changed"]


class _Missing:
    """The value on the side of a change where the thing did not exist."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class ValueChange:
    """One value going from ``old`` to ``new`` (either may be :data:`MISSING`); ``what`` names it."""

    what: str
    old: Any
    new: Any


@dataclass(frozen=True)
class NodeDiff:
    """A pipeline node added, removed, or changed (renamed, other operation, attributes, references, moved)."""

    name: str
    operation: str
    status: Status
    changes: tuple[ValueChange, ...] = ()


@dataclass(frozen=True)
class PipelineDiff:
    name: str
    status: Status
    nodes: tuple[NodeDiff, ...] = ()
    edges_added: tuple[str, ...] = ()
    edges_removed: tuple[str, ...] = ()
    renamed_from: str | None = None


@dataclass(frozen=True)
class OperationDiff:
    """An operation added, removed or changed; ``code`` is the unified diff of its code, line by line; ``changes``
    what else changed (its environment's requirements and Python version)."""

    name: str
    status: Status
    code: tuple[str, ...] = ()
    renamed_from: str | None = None
    changes: tuple[ValueChange, ...] = ()


@dataclass(frozen=True)
class EntryDiff:
    """An entry of any other design root (an architecture, a project detail) and its changed values."""

    root: str
    name: str
    status: Status
    changes: tuple[ValueChange, ...] = ()


@dataclass(frozen=True)
class DesignDiff:
    """Everything that differs between two versions' designs, going from the old to the new."""

    pipelines: tuple[PipelineDiff, ...] = ()
    operations: tuple[OperationDiff, ...] = ()
    entries: tuple[EntryDiff, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.pipelines or self.operations or self.entries)


def code_diff(old: str, new: str, old_label: str = "old", new_label: str = "new") -> tuple[str, ...]:
    """The unified diff from ``old`` to ``new`` (three lines of context), without line endings."""
    return tuple(
        difflib.unified_diff(old.splitlines(), new.splitlines(), fromfile=old_label, tofile=new_label, lineterm="")
    )


def _status(old: object, new: object) -> Status:
    return "added" if old is None else "removed" if new is None else "changed"


def _values(what: str, old: dict[str, Any], new: dict[str, Any]) -> list[ValueChange]:
    return [
        ValueChange(f"{what}{key}", old.get(key, MISSING), new.get(key, MISSING))
        for key in sorted(old.keys() | new.keys())
        if old.get(key, MISSING) != new.get(key, MISSING)
    ]


def _node_changes(old: Node, new: Node, op_names: dict[str, str]) -> list[ValueChange]:
    changes = [ValueChange("name", old.name, new.name)] if old.name != new.name else []
    if old.operation != new.operation:
        changes.append(
            ValueChange(
                "operation", op_names.get(old.operation, old.operation), op_names.get(new.operation, new.operation)
            )
        )
    changes += _values("", old.attributes, new.attributes)
    changes += _values("reference ", old.references, new.references)
    if (round(old.x), round(old.y)) != (round(new.x), round(new.y)):
        changes.append(ValueChange("position", (round(old.x), round(old.y)), (round(new.x), round(new.y))))
    return changes


def _edge_key(edge: Edge) -> tuple[str, str, str, str]:
    return (edge.src, edge.src_port, edge.dst, edge.dst_port)


def _pipeline_diff(old: Pipeline | None, new: Pipeline | None, op_names: dict[str, str]) -> PipelineDiff | None:
    either = new or old
    assert either is not None
    old_nodes, new_nodes = (old.nodes if old else {}), (new.nodes if new else {})
    nodes = []
    for node_id in sorted(old_nodes.keys() | new_nodes.keys(), key=lambda i: (new_nodes.get(i) or old_nodes[i]).name):
        before, after = old_nodes.get(node_id), new_nodes.get(node_id)
        shown = after or before
        assert shown is not None
        changes = _node_changes(before, after, op_names) if before and after else []
        if before and after and not changes:
            continue
        nodes.append(
            NodeDiff(shown.name, op_names.get(shown.operation, shown.operation), _status(before, after), tuple(changes))
        )
    names = {node_id: node.name for node_id, node in {**old_nodes, **new_nodes}.items()}

    def edges(pipeline: Pipeline | None) -> dict[tuple[str, str, str, str], str]:
        return {
            _edge_key(e): f"{names.get(e.src, e.src)}.{e.src_port} → {names.get(e.dst, e.dst)}.{e.dst_port}"
            for e in (pipeline.edges.values() if pipeline else ())
        }

    old_edges, new_edges = edges(old), edges(new)
    renamed = old.name if old and new and old.name != new.name else None
    if old and new and not (nodes or old_edges.keys() != new_edges.keys() or renamed):
        return None
    return PipelineDiff(
        either.name,
        _status(old, new),
        tuple(nodes),
        tuple(sorted(new_edges[k] for k in new_edges.keys() - old_edges.keys())),
        tuple(sorted(old_edges[k] for k in old_edges.keys() - new_edges.keys())),
        renamed,
    )


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested maps as ``a.b.c`` paths to their leaves; an entry holding a ``name`` shows by that name."""
    if not isinstance(value, dict) or not value:
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        label = item["name"] if isinstance(item, dict) and isinstance(item.get("name"), str) else str(key)
        flat.update(_flatten(item, f"{prefix}.{label}" if prefix else label))
    return flat


def _entry_diffs(root: str, old: dict[str, Any], new: dict[str, Any]) -> list[EntryDiff]:
    found = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        shown = after if after is not None else before
        name = shown["name"] if isinstance(shown, dict) and isinstance(shown.get("name"), str) else key
        if isinstance(before, dict) and isinstance(after, dict):
            changes = _values("", _flatten(before), _flatten(after))
        else:
            changes = [ValueChange(key, MISSING if before is None else before, MISSING if after is None else after)]
        found.append(EntryDiff(root, name, _status(before, after), tuple(changes)))
    return found


def design_diff(old: Project, new: Project, old_label: str = "old", new_label: str = "new") -> DesignDiff:
    """What changed in the design from ``old`` to ``new``; the labels head the code diffs."""
    old_ops = {op.id: op for op in old.operations.all()}
    new_ops = {op.id: op for op in new.operations.all()}
    op_names: dict[str, str] = {op_id: op.name for op_id, op in {**old_ops, **new_ops}.items()}
    operations = []
    for op_id in sorted(old_ops.keys() | new_ops.keys(), key=lambda i: op_names[i]):
        before, after = old_ops.get(op_id), new_ops.get(op_id)
        shown = after or before
        assert shown is not None
        if (
            before
            and after
            and (before.code, before.name, before.environment) == (after.code, after.name, after.environment)
        ):
            continue
        lines = code_diff(
            before.code if before else "",
            after.code if after else "",
            f"{old_label}/{shown.name}",
            f"{new_label}/{shown.name}",
        )
        renamed = before.name if before and after and before.name != after.name else None
        changes = _environment_changes(before, after) if before and after else ()
        operations.append(OperationDiff(shown.name, _status(before, after), lines, renamed, changes))

    old_pipes = {p.id: p for p in old.pipelines.all()}
    new_pipes = {p.id: p for p in new.pipelines.all()}
    pipelines = [
        found
        for pid in sorted(old_pipes.keys() | new_pipes.keys(), key=lambda i: (new_pipes.get(i) or old_pipes[i]).name)
        if (found := _pipeline_diff(old_pipes.get(pid), new_pipes.get(pid), op_names)) is not None
    ]
    entries = [
        entry
        for root in ROOTS.design
        if root not in ("operations", "pipelines")
        for entry in _entry_diffs(root, to_py(old.map(root)) or {}, to_py(new.map(root)) or {})
    ]
    return DesignDiff(tuple(pipelines), tuple(operations), tuple(entries))


def _environment_changes(before: Operation, after: Operation) -> tuple[ValueChange, ...]:
    """How an operation's declared environment changed: its requirements (one per line) and its Python version."""
    old, new = before.environment, after.environment
    changes = []
    old_requirements = "\n".join(old.requirements) if old else MISSING
    new_requirements = "\n".join(new.requirements) if new else MISSING
    if old_requirements != new_requirements:
        changes.append(ValueChange("environment requirements", old_requirements, new_requirements))
    old_python = (old.python if old else None) or MISSING
    new_python = (new.python if new else None) or MISSING
    if old_python != new_python:
        changes.append(ValueChange("environment Python", old_python, new_python))
    return tuple(changes)
