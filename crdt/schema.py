"""The project document's shape: its root maps, ids, and typed reads over pycrdt values.

pycrdt stores every number as a float, so values whose type matters (attribute values,
counters) are read back through the helpers here rather than used raw.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any, Literal, NewType, get_args, overload

from pycrdt import Array, Doc, Map, Text

RootKind = Literal["design", "records"]
"""What a root holds: *design* is what users author (versioned; restore, diff, merge and undo act on it),
*records* is what happened (kept as is across a restore, never undone)."""

CORE_DESIGN_ROOTS: tuple[str, ...] = ("meta", "operations", "pipelines", "notebooks", "utilities")
"""The core's design roots."""

CORE_RECORD_ROOTS: tuple[str, ...] = ("executions", "artifacts", "notebook_outputs", "results")
"""The core's records roots."""

CORE_ROOTS: tuple[str, ...] = CORE_DESIGN_ROOTS + CORE_RECORD_ROOTS
"""Top-level maps every project document has, each keyed by random ids (``meta`` by field)."""


class _Roots(Sequence[str]):
    """The roots of every project document: the core's, then those declared with :func:`register_root`.

    A live sequence, so ``ROOTS`` imported anywhere (the store's restore, the undo scope, components
    observing every root) sees roots that libraries add without this package knowing any library.
    """

    def __init__(self, design: tuple[str, ...], records: tuple[str, ...]) -> None:
        self.core = design + records
        self._names = self.core
        self._kinds: dict[str, RootKind] = dict.fromkeys(design, "design")
        self._kinds.update(dict.fromkeys(records, "records"))

    @property
    def design(self) -> tuple[str, ...]:
        """The design roots, in order: what restore, diff, merge and undo act on."""
        return tuple(name for name in self._names if self._kinds[name] == "design")

    @property
    def records(self) -> tuple[str, ...]:
        """The records roots, in order: kept as they are across a restore, never undone."""
        return tuple(name for name in self._names if self._kinds[name] == "records")

    def kind(self, name: str) -> RootKind:
        if name not in self._kinds:
            raise KeyError(f"{name!r} is not a root of the project document (roots: {', '.join(self._names)})")
        return self._kinds[name]

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...
    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self._names[index]

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return f"ROOTS{self._names!r}"

    def add(self, name: str, kind: RootKind = "design") -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"a document root needs a non-empty name, got {name!r}")
        if kind not in get_args(RootKind):
            raise ValueError(f"root {name!r}: kind must be one of {get_args(RootKind)}, got {kind!r}")
        if name in self.core:
            raise ValueError(f"{name!r} is a core root of the project document; a registered root needs its own name")
        if name in self._names and self._kinds[name] != kind:
            raise ValueError(f"root {name!r} is already registered as a {self._kinds[name]} root, not {kind}")
        if name not in self._names:
            self._names = (*self._names, name)
            self._kinds[name] = kind

    def remove(self, name: str) -> None:
        if name in self.core:
            raise ValueError(f"{name!r} is a core root of the project document and stays")
        self._names = tuple(n for n in self._names if n != name)
        self._kinds.pop(name, None)


ROOTS = _Roots(CORE_DESIGN_ROOTS, CORE_RECORD_ROOTS)
"""Top-level maps of every project document: :data:`CORE_ROOTS` plus the registered (library) roots.

``ROOTS.design`` and ``ROOTS.records`` split them by :data:`RootKind`."""


def register_root(name: str, kind: RootKind = "design") -> None:
    """Declare a root every document gets, e.g. a library's resources (design: versioned, restored, undoable)."""
    ROOTS.add(name, kind)


def unregister_root(name: str) -> None:
    """Stop giving new documents the registered root ``name`` (its content in existing documents stays)."""
    ROOTS.remove(name)


Id = NewType("Id", str)


def new_id(prefix: str = "") -> Id:
    """A random id, never a position: safe under concurrent inserts from peers."""
    return Id(f"{prefix}{secrets.token_hex(6)}")


def root(doc: Doc, name: str) -> Map:
    """The root map ``name`` of a project document."""
    if name not in ROOTS:
        raise KeyError(f"{name!r} is not a root of the project document (roots: {', '.join(ROOTS)})")
    return doc.get(name, type=Map)


def roots(doc: Doc) -> dict[str, Map]:
    """All root maps of a project document, created if absent."""
    return {name: doc.get(name, type=Map) for name in ROOTS}


def dumps(value: Any) -> str:
    """Encode a value whose exact type must survive the document (ints stay ints)."""
    return json.dumps(value, sort_keys=True)


def loads(text: str | None, default: Any = None) -> Any:
    """Decode a value written by :func:`dumps`."""
    if text is None:
        return default
    return json.loads(text)


MAX_INT = 2**53 - 1
"""The largest integer the document holds exactly: pycrdt refuses past 2**63, and Yjs peers read numbers as doubles."""


def as_int(value: Any, default: int = 0) -> int:
    """An integer read back from the document, where pycrdt hands floats."""
    if value is None:
        return default
    return int(value)


def to_py(value: Any) -> Any:
    """A plain Python copy of a pycrdt value (Map, Array, Text or scalar)."""
    if isinstance(value, Text):
        return str(value)
    if isinstance(value, (Map, Array)):
        return value.to_py()
    return value


def prelim(value: Any) -> Any:
    """A fresh (not yet integrated) pycrdt value equal to ``value``, for copying between docs."""
    if isinstance(value, Text):
        return Text(str(value))
    if isinstance(value, Map):
        return Map({k: prelim(v) for k, v in value.items()})
    if isinstance(value, Array):
        return Array([prelim(v) for v in value])
    return value


def make_equal(dst: Map, src: Map) -> None:
    """Edit ``dst`` in place until it equals ``src``, touching only what differs.

    Used to restore an old version: applying the old state as an update would be a no-op
    (a CRDT never forgets), so the live document is edited forward to look like it.
    """
    for key in list(dst.keys()):
        if key not in src:
            del dst[key]
    for key, value in src.items():
        if key not in dst:
            dst[key] = prelim(value)
            continue
        current = dst[key]
        if isinstance(value, Map) and isinstance(current, Map):
            make_equal(current, value)
        elif isinstance(value, Text) and isinstance(current, Text):
            if str(current) != str(value):
                del current[0 : len(current)]
                current.insert(0, str(value))
        elif isinstance(value, Array) and isinstance(current, Array):
            if current.to_py() != value.to_py():
                del current[0 : len(current)]
                current.extend([prelim(v) for v in value])
        elif type(value) is not type(current) or to_py(value) != to_py(current):
            dst[key] = prelim(value)


def splice_text(text: Text, new: str) -> None:
    """Edit ``text`` into ``new`` touching only the changed middle, so concurrent edits elsewhere survive.

    pycrdt indexes Text by UTF-8 bytes, so the common prefix and suffix found in characters are
    converted to byte offsets before editing.
    """
    old = str(text)
    if old == new:
        return
    start, limit = 0, min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1
    at = len(old[:start].encode("utf-8"))
    removed = len(old[start:end_old].encode("utf-8"))
    if removed:
        del text[at : at + removed]
    if end_new > start:
        text.insert(at, new[start:end_new])
