"""A reader of WebGME project exports (``.webgmex``): the node tree, with inheritance, pointers, sets and META.

DeepForge stores a project in WebGME, and exports it as a zip holding ``project.json`` (the raw storage
objects, a Merkle tree) and one ``<hash>.metadata`` / ``<hash>.content`` pair per stored file (asset). In
``project.json``, ``objects`` is a flat list of nodes keyed by ``_id``; ``rootHash`` names the root. A node
holds its own attributes (``atr``), registry (``reg``), META rules (``_meta``), sets (``_sets``) and
pointer overlays (``ovr``); every other key not starting with ``_`` is a child's *relid*, mapped to the
child's ``_id`` (or, for small children, the child itself). A node's path is the chain of relids from the
root (``/k/W``; the root is ``""``).

The rules, as WebGME's core reads them:

* A pointer (``base`` included) is stored in the ``ovr`` of the lowest common ancestor of source and
  target, keyed by the source's path relative to it, valued by the target's relative path; a target ending
  in ``_nullptr`` is a null pointer.
* A node inherits from its *base*: attributes, registry, children and pointers not set on the node come
  from the base chain. A child of a node whose base has a child of the same relid is that child's instance
  (its base is that child, whatever its own ``ovr`` says); a pointer inherited from inside a prototype is
  moved into the instance.
* The META is the root's set ``MetaAspectSet``; a node's type is the first node of its base chain in it.

Only what a reader needs is here: nothing writes, and nothing checks the Merkle hashes. Whatever a file
lacks (a missing object, a missing ``project.json``) raises :class:`WebGMEError` naming the node at fault.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = ["NULL", "WebGMEError", "WebGMEProject"]

NULL = "_nullptr"
"""The relid a null pointer points at."""

_OWN_KEYS = frozenset({"atr", "reg", "ovr"})


class WebGMEError(ValueError):
    """A file that is not a readable WebGME export, or a node it refers to that it lacks."""

    def __init__(self, message: str, node: str | None = None) -> None:
        super().__init__(message)
        self.node = node


def is_relid(key: str) -> bool:
    """Whether ``key`` of a stored node names a child (every key but the reserved ones)."""
    return not key.startswith("_") and key not in _OWN_KEYS


class WebGMEProject:
    """The nodes of one exported project, read by path with WebGME's inheritance rules."""

    def __init__(self, document: dict[str, Any], assets: dict[str, tuple[dict[str, Any], bytes]] | None = None):
        objects = document.get("objects")
        root_hash = document.get("rootHash")
        if not isinstance(objects, list) or not all(isinstance(o, dict) and "_id" in o for o in objects):
            raise WebGMEError("project.json has no list of stored objects: not a WebGME project export")
        self._objects: dict[str, dict[str, Any]] = {o["_id"]: o for o in objects}
        if not isinstance(root_hash, str) or root_hash not in self._objects:
            raise WebGMEError(
                "project.json names no root object (a selection export (.webgmexm) or a truncated file?)", ""
            )
        self.root_hash = root_hash
        self.project_id = str(document.get("projectId") or "")
        self.kind = str(document.get("kind") or "")
        self.assets = assets or {}
        self._raw: dict[str, dict[str, Any] | None] = {"": self._objects[root_hash]}
        self._base: dict[str, str | None] = {"": None}

    # --- reading a file -------------------------------------------------------------------------------

    @classmethod
    def read(cls, path: str | Path) -> WebGMEProject:
        """The project in a ``.webgmex`` file; :class:`WebGMEError` for a file that is not one (named why)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no file {str(path)!r}")
        if not zipfile.is_zipfile(path):
            raise WebGMEError(f"{path.name} is not a .webgmex file: a .webgmex export is a zip archive (truncated?)")
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                if "project.json" not in names:
                    raise WebGMEError(f"{path.name} is a zip file but not a WebGME export (no project.json)")
                document = json.loads(archive.read("project.json"))
                assets = {}
                for name in names:
                    if name.endswith(".metadata") and name[: -len(".metadata")] + ".content" in names:
                        digest = name[: -len(".metadata")]
                        metadata = json.loads(archive.read(name))
                        assets[digest] = (metadata, archive.read(digest + ".content"))
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise WebGMEError(f"{path.name} is a damaged zip archive ({exc})") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise WebGMEError(f"{path.name}: project.json is not readable JSON ({exc})") from None
        if not isinstance(document, dict):
            raise WebGMEError(f"{path.name}: project.json is not a WebGME project export")
        return cls(document, assets)

    # --- own data ---------------------------------------------------------------------------------------

    def _deref(self, value: Any, at: str) -> dict[str, Any] | None:
        if isinstance(value, dict):
            return value
        if isinstance(value, str):
            found = self._objects.get(value)
            if found is None:
                raise WebGMEError(f"node {at or '/'}: object {value} is missing from project.json (truncated?)", at)
            return found
        return None

    def raw(self, path: str) -> dict[str, Any] | None:
        """The node's own stored data (nothing inherited); None for a node only its base defines."""
        if path in self._raw:
            return self._raw[path]
        parent, _, relid = path.rpartition("/")
        own = self.raw(parent)
        found = self._deref(own.get(relid), path) if own else None
        self._raw[path] = found
        return found

    def _overlay(self, holder: str) -> dict[str, Any]:
        own = self.raw(holder) or {}
        overlay = own.get("ovr") or {}
        if overlay.get("sharded"):
            merged: dict[str, Any] = {}
            for key, shard in overlay.items():
                if key != "sharded":
                    merged.update((self._deref(shard, holder) or {}).get("items", {}))
            return merged
        return overlay

    def own_pointer(self, path: str, name: str) -> str | bool | None:
        """The pointer ``name`` set on the node itself: its target's path, None for null, False when unset."""
        holder, source = path, ""
        while True:
            entry = self._overlay(holder).get(source) or {}
            target = entry.get(name)
            if isinstance(target, str):
                resolved = holder + target if target else holder
                return None if resolved.rsplit("/", 1)[-1] == NULL else resolved
            if holder == "":
                return False
            holder, _, relid = holder.rpartition("/")
            source = f"/{relid}{source}"

    # --- inheritance ------------------------------------------------------------------------------------

    def base(self, path: str) -> str | None:
        """The node's base (prototype) or None for the root of all (FCO)."""
        if path in self._base:
            return self._base[path]
        parent, _, relid = path.rpartition("/")
        parent_base = self.base(parent)
        if parent_base is not None and relid in self._relids(parent_base):
            found: str | None = f"{parent_base}/{relid}"  # an inherited child: the prototype's own child
        else:
            target = self.own_pointer(path, "base")
            found = target if isinstance(target, str) else None
        self._base[path] = found
        return found

    def chain(self, path: str) -> Iterator[str]:
        """The node, its base, its base's base, ..."""
        seen: set[str] = set()
        current: str | None = path
        while current is not None:
            if current in seen:
                raise WebGMEError(f"node {path}: its bases form a loop through {current}", path)
            seen.add(current)
            yield current
            current = self.base(current)

    def _relids(self, path: str) -> list[str]:
        found: dict[str, None] = {}
        for node in self.chain(path):
            for key in self.raw(node) or {}:
                if is_relid(key):
                    found[key] = None
        return list(found)

    def children(self, path: str) -> list[str]:
        """Paths of the node's children, its own and inherited."""
        return [f"{path}/{relid}" for relid in self._relids(path)]

    def attributes(self, path: str) -> dict[str, Any]:
        """Every attribute value, inherited ones included (WebGME's internal ``_relguid`` left out)."""
        merged: dict[str, Any] = {}
        for node in reversed(list(self.chain(path))):
            merged.update((self.raw(node) or {}).get("atr") or {})
        merged.pop("_relguid", None)
        return merged

    def own_attributes(self, path: str) -> dict[str, Any]:
        """The attribute values set on the node itself (an instance's overrides)."""
        own = dict((self.raw(path) or {}).get("atr") or {})
        own.pop("_relguid", None)
        return own

    def attribute(self, path: str, name: str, default: Any = None) -> Any:
        for node in self.chain(path):
            attributes = (self.raw(node) or {}).get("atr") or {}
            if name in attributes:
                return attributes[name]
        return default

    def registry(self, path: str, name: str, default: Any = None) -> Any:
        for node in self.chain(path):
            registry = (self.raw(node) or {}).get("reg") or {}
            if name in registry:
                return registry[name]
        return default

    def name(self, path: str) -> str:
        return str(self.attribute(path, "name", ""))

    def _instance_root(self, path: str) -> str:
        """The outermost node of which ``path`` is an inherited descendant (the instance it came with)."""
        while path:
            parent = path.rpartition("/")[0]
            base, parent_base = self.base(path), self.base(parent)
            if base is None or parent_base is None or base.rpartition("/")[0] != parent_base:
                return path
            path = parent
        return path

    def pointer(self, path: str, name: str) -> str | None:
        """The target of the node's pointer ``name``, inherited ones included; None when null or unset."""
        found = self._pointer(path, name)
        return found if isinstance(found, str) else None

    def _pointer(self, path: str | None, name: str) -> str | bool | None:
        if path is None:
            return False
        own = self.own_pointer(path, name)
        if own is not False:
            return own
        inherited = self._pointer(self.base(path), name)
        if not isinstance(inherited, str):
            return inherited
        instance = self._instance_root(path)
        prototype = self.base(instance)
        if prototype and (inherited == prototype or inherited.startswith(prototype + "/")):
            return instance + inherited[len(prototype) :]  # a pointer within the prototype, moved into the instance
        return inherited

    def set_members(self, path: str, set_name: str) -> list[tuple[str, dict[str, Any]]]:
        """The members of the node's set ``set_name``, each with its member attributes (``index``, ...)."""
        members: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        for node in self.chain(path):
            sets = (self.raw(node) or {}).get("_sets") or {}
            stored = self._deref(sets.get(set_name), node) or {}
            for relid, entry in stored.items():
                if not is_relid(relid):
                    continue
                target = self.pointer(f"{path}/_sets/{set_name}/{relid}", "member")
                if target and target not in seen:
                    seen.add(target)
                    members.append((target, dict((self._deref(entry, node) or {}).get("atr") or {})))
        return members

    # --- META -------------------------------------------------------------------------------------------

    @cached_property
    def meta_nodes(self) -> frozenset[str]:
        """Paths of the META's nodes (the root's ``MetaAspectSet``)."""
        return frozenset(target for target, _ in self.set_members("", "MetaAspectSet"))

    def meta_type(self, path: str) -> str | None:
        """The node's META type: the first node of its base chain that is in the META."""
        return next((node for node in self.chain(path) if node in self.meta_nodes), None)

    def type_name(self, path: str) -> str:
        """The name of the node's META type ('' when it has none)."""
        meta = self.meta_type(path)
        return self.name(meta) if meta is not None else ""

    def is_a(self, path: str, type_name: str) -> bool:
        """Whether any META node named ``type_name`` is in the node's base chain."""
        return any(node in self.meta_nodes and self.name(node) == type_name for node in self.chain(path))

    def library_of(self, path: str) -> str:
        """The name of the library (a root child with ``_libraryInfo``) defining the node's type; '' if none."""
        meta = self.meta_type(path)
        while meta:
            if self.attribute(meta, "_libraryInfo") is not None:
                return self.name(meta)
            meta = meta.rpartition("/")[0]
        return ""

    def _meta(self, path: str) -> dict[str, Any]:
        return self._deref((self.raw(path) or {}).get("_meta"), path) or {}

    def meta_attributes(self, path: str) -> dict[str, dict[str, Any]]:
        """The attribute schemas the node's META rules declare (``{"number": {"type": "integer"}}``)."""
        merged: dict[str, dict[str, Any]] = {}
        for node in reversed(list(self.chain(path))):
            merged.update(self._meta(node).get("atr") or {})
        return merged

    def meta_pointers(self, path: str) -> list[str]:
        """Names of the pointers (at most one target each) the node's own META rules declare."""
        rules = self._meta(path)
        names = []
        for key, rule in rules.items():
            if key.startswith("_p_") and isinstance(rule, dict):
                limits = rule.get("atr") or {}
                if limits.get("max") == 1:
                    names.append(key[len("_p_") :])
        return names

    def walk(self, path: str = "") -> Iterator[str]:
        """The node and all its descendants, depth first."""
        yield path
        for child in self.children(path):
            yield from self.walk(child)
