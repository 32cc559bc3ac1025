"""The project document's shape: its root maps, ids, and typed reads over pycrdt values.

pycrdt stores every number as a float, so values whose type matters (attribute values,
counters) are read back through the helpers here rather than used raw.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any, NewType, overload

from pycrdt import Array, Doc, Map, Text

CORE_ROOTS: tuple[str, ...] = (
    "meta",
    "operations",
    "pipelines",
    "executions",
    "artifacts",
)
"""Top-level maps every project document has, each keyed by random ids (``meta`` by field)."""


class _Roots(Sequence[str]):
    """The roots of every project document: the core's, then those declared with :func:`register_root`.

    A live sequence, so ``ROOTS`` imported anywhere (the store's restore, the undo scope, components
    observing every root) sees roots that libraries add without this package knowing any library.
    """

    def __init__(self, core: tuple[str, ...]) -> None:
        self.core = core
        self._names = core

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

    def add(self, name: str) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"a document root needs a non-empty name, got {name!r}")
        if name in self.core:
            raise ValueError(f"{name!r} is a core root of the project document; a registered root needs its own name")
        if name not in self._names:
            self._names = (*self._names, name)

    def remove(self, name: str) -> None:
        if name in self.core:
            raise ValueError(f"{name!r} is a core root of the project document and stays")
        self._names = tuple(n for n in self._names if n != name)


ROOTS = _Roots(CORE_ROOTS)
"""Top-level maps of every project document: :data:`CORE_ROOTS` plus the registered (library) roots."""


def register_root(name: str) -> None:
    """Declare a design root (versioned, restored, undoable) every document gets, e.g. a library's resources."""
    ROOTS.add(name)


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
