"""Name -> implementation registries for adapters and libraries, modelled on ``fsspec.registry``.

Implementations are registered as classes or as "module:Class" / "module.Class" paths imported only
on first use, so adding one never edits the core and optional dependencies cost nothing until asked
for. Installed distributions add theirs through entry points (e.g. group ``deepforge_panel.compute``,
``name = "package.module:Class"``), read once, on the first lookup or listing. A stdlib-only leaf:
it imports nothing of ours, so the adapters can use it without loading the core.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import EntryPoint, entry_points
from typing import Generic, TypeVar

__all__ = ["ENTRY_POINT_GROUPS", "Registry", "import_class"]

T = TypeVar("T")

ENTRY_POINT_GROUPS = ("deepforge_panel.libraries", "deepforge_panel.compute", "deepforge_panel.storage")
"""The entry point groups third-party distributions register libraries, compute and storage adapters in."""

# Top-level modules whose pip distribution name differs from the module name.
_DISTRIBUTIONS: dict[str, str] = {
    "dask": "dask[distributed]",
    "distributed": "dask[distributed]",
    "s3fs": "s3fs",
    "gcsfs": "gcsfs",
    "adlfs": "adlfs",
}

logger = logging.getLogger(__name__)


def import_class(path: str) -> type:
    """Import "package.module:Class" (or "package.module.Class") and return the class."""
    if ":" in path:
        module_name, attr = path.rsplit(":", 1)
    elif "." in path:
        module_name, attr = path.rsplit(".", 1)
    else:
        raise ValueError(f"{path!r} is not a dotted path like 'package.module:Class'")
    obj: object = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type):
        raise TypeError(f"{path!r} names {obj!r}, which is not a class")
    return obj


def _install_hint(exc: ImportError) -> str:
    """Tell how to get the module whose import failed."""
    missing = (exc.name or "").split(".")[0]
    if not missing:
        return ""
    return f"Install it with: pip install '{_DISTRIBUTIONS.get(missing, missing)}'"


class Registry(Generic[T]):
    """Implementations of one kind (e.g. "compute adapter") by name; lazily imported, guarded against clobbering.

    ``kind`` names the implementations in messages; ``group``, if given, is the entry point group whose
    entries join the registry on first use. An explicit :meth:`register` wins over an entry point.
    """

    def __init__(self, kind: str, base: type, group: str | None = None) -> None:
        self.kind = kind
        self.base: type[T] = base
        self.group = group
        self._entries: dict[str, type[T] | str] = {}
        self._hints: dict[str, str] = {}
        self._loaded: dict[str, type[T]] = {}
        self._origins: dict[str, str] = {}
        """Names that came from an entry point -> a description of the distribution that declared it."""
        self._entry_points_read = group is None

    def register(self, name: str, impl: type[T] | str, *, clobber: bool = False, hint: str | None = None) -> None:
        """Register ``impl`` (class or dotted path) as ``name``; replace another only if ``clobber``."""
        if not isinstance(impl, str) and not (isinstance(impl, type) and issubclass(impl, self.base)):
            raise TypeError(
                f"{self.kind} {name!r} must be a {self.base.__name__} subclass or a dotted path, got {impl!r}"
            )
        current = self._entries.get(name)
        if current is not None and not clobber and name not in self._origins:
            if current == impl or self._loaded.get(name) is impl:
                return
            raise ValueError(
                f"{self.kind} {name!r} is already registered as {_describe(current)}; "
                f"pass clobber=True to replace it with {_describe(impl)}"
            )
        self._entries[name] = impl
        self._loaded.pop(name, None)
        self._hints.pop(name, None)
        self._origins.pop(name, None)
        if isinstance(impl, str):
            if hint:
                self._hints[name] = hint
        else:
            self._loaded[name] = impl

    def unregister(self, name: str) -> None:
        """Forget ``name`` (e.g. a plugin registered for the length of a test); unknown names are ignored."""
        self._read_entry_points()
        for table in (self._entries, self._hints, self._loaded, self._origins):
            table.pop(name, None)

    def get(self, name: str) -> type[T]:
        """Return the class registered as ``name``, importing it on first use."""
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        self._read_entry_points()
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(repr(n) for n in self.names()) or "none"
            raise ValueError(f"Unknown {self.kind} {name!r}; known: {known}")
        assert isinstance(entry, str)
        where = f"{entry}, {self._origins[name]}" if name in self._origins else entry
        try:
            cls = import_class(entry)
        except ImportError as exc:
            hint = self._hints.get(name) or _install_hint(exc)
            raise ImportError(f"{self.kind} {name!r} ({where}) could not be imported: {exc}. {hint}".rstrip()) from exc
        except Exception as exc:  # a plugin's module may fail any way while importing: say which plugin
            raise ImportError(f"{self.kind} {name!r} ({where}) could not be loaded: {exc!r}") from exc
        if not issubclass(cls, self.base):
            raise TypeError(f"{self.kind} {name!r} ({where}) is not a {self.base.__name__} subclass")
        self._loaded[name] = cls
        return cls

    def names(self) -> list[str]:
        """Sorted names of every registered implementation, imported or not, entry points included."""
        self._read_entry_points()
        return sorted(self._entries)

    def is_loaded(self, name: str) -> bool:
        """Whether ``name``'s class has been imported already."""
        return name in self._loaded

    def origin(self, name: str) -> str | None:
        """Which distribution's entry point declared ``name``; None for one registered in code."""
        self._read_entry_points()
        return self._origins.get(name)

    def copy(self) -> Registry[T]:
        """An independent registry with the same entries, e.g. to register into inside a test."""
        twin: Registry[T] = Registry(self.kind, self.base, self.group)
        twin._entries = dict(self._entries)
        twin._hints = dict(self._hints)
        twin._loaded = dict(self._loaded)
        twin._origins = dict(self._origins)
        twin._entry_points_read = self._entry_points_read
        return twin

    def reload_entry_points(self) -> None:
        """Read the entry points again on next use (after installing a distribution in a running process)."""
        for name in list(self._origins):
            self._entries.pop(name, None)
            self._loaded.pop(name, None)
        self._origins.clear()
        self._entry_points_read = self.group is None

    def __contains__(self, name: object) -> bool:
        self._read_entry_points()
        return name in self._entries

    def _read_entry_points(self) -> None:
        """Add the group's entry points, once; a name registered in code keeps its registration."""
        if self._entry_points_read:
            return
        self._entry_points_read = True
        assert self.group is not None
        try:
            found = entry_points(group=self.group)
        except Exception:  # a corrupt installation must not take the registered implementations down with it
            logger.exception("could not read the %r entry points", self.group)
            return
        for entry in found:
            if entry.name in self._entries:
                continue
            self._entries[entry.name] = _path_of(entry)
            self._origins[entry.name] = f"entry point {entry.name!r} in group {self.group!r} of {_distribution(entry)}"


def _path_of(entry: EntryPoint) -> str:
    """The entry point's "module:attr" path, without any [extras]; a malformed value is kept, to fail on use."""
    try:
        module, attr = entry.module, entry.attr
    except AttributeError:
        return entry.value
    return f"{module}:{attr}" if attr else module


def _distribution(entry: EntryPoint) -> str:
    """The distribution that declared ``entry``, for error messages."""
    dist = entry.dist
    if dist is None:
        return "an unknown distribution"
    return f"distribution {dist.name!r} {dist.version}"


def _describe(impl: type | str) -> str:
    """A readable "module:Class" form of a class or path, for error messages."""
    if isinstance(impl, str):
        return repr(impl)
    return repr(f"{impl.__module__}:{impl.__qualname__}")
