"""Name -> implementation registries for adapters, modelled on ``fsspec.registry``.

Implementations are registered as classes or as "module:Class" / "module.Class" paths that are
imported only on first use, so adding an adapter never edits the core and optional dependencies
cost nothing until asked for.
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

__all__ = ["Registry", "import_class"]

T = TypeVar("T")

# Top-level modules whose pip distribution name differs from the module name.
_DISTRIBUTIONS: dict[str, str] = {
    "dask": "dask[distributed]",
    "distributed": "dask[distributed]",
    "s3fs": "s3fs",
    "gcsfs": "gcsfs",
    "adlfs": "adlfs",
}


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
    """Adapters of one kind (e.g. compute) by name; lazily imported, guarded against clobbering."""

    def __init__(self, kind: str, base: type[T]) -> None:
        self.kind = kind
        self.base = base
        self._entries: dict[str, type[T] | str] = {}
        self._hints: dict[str, str] = {}
        self._loaded: dict[str, type[T]] = {}

    def register(self, name: str, impl: type[T] | str, *, clobber: bool = False, hint: str | None = None) -> None:
        """Register ``impl`` (class or dotted path) as ``name``; replace another only if ``clobber``."""
        if not isinstance(impl, str) and not (isinstance(impl, type) and issubclass(impl, self.base)):
            raise TypeError(
                f"{self.kind} adapter {name!r} must be a {self.base.__name__} subclass or a dotted path, got {impl!r}"
            )
        current = self._entries.get(name)
        if current is not None and not clobber:
            if current == impl or self._loaded.get(name) is impl:
                return
            raise ValueError(
                f"{self.kind} adapter {name!r} is already registered as {_describe(current)}; "
                f"pass clobber=True to replace it with {_describe(impl)}"
            )
        self._entries[name] = impl
        self._loaded.pop(name, None)
        self._hints.pop(name, None)
        if isinstance(impl, str):
            if hint:
                self._hints[name] = hint
        else:
            self._loaded[name] = impl

    def get(self, name: str) -> type[T]:
        """Return the class registered as ``name``, importing it on first use."""
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        entry = self._entries.get(name)
        if entry is None:
            known = ", ".join(repr(n) for n in self.names()) or "none"
            raise ValueError(f"Unknown {self.kind} adapter {name!r}; known: {known}")
        assert isinstance(entry, str)
        try:
            cls = import_class(entry)
        except ImportError as exc:
            hint = self._hints.get(name) or _install_hint(exc)
            raise ImportError(
                f"{self.kind} adapter {name!r} ({entry}) could not be imported: {exc}. {hint}".rstrip()
            ) from exc
        if not issubclass(cls, self.base):
            raise TypeError(f"{self.kind} adapter {name!r} ({entry}) is not a {self.base.__name__} subclass")
        self._loaded[name] = cls
        return cls

    def names(self) -> list[str]:
        """Sorted names of every registered adapter, imported or not."""
        return sorted(self._entries)

    def is_loaded(self, name: str) -> bool:
        """Whether ``name``'s class has been imported already."""
        return name in self._loaded

    def copy(self) -> Registry[T]:
        """An independent registry with the same entries, e.g. to register into inside a test."""
        twin: Registry[T] = Registry(self.kind, self.base)
        twin._entries = dict(self._entries)
        twin._hints = dict(self._hints)
        twin._loaded = dict(self._loaded)
        return twin

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def _describe(impl: type | str) -> str:
    """A readable "module:Class" form of a class or path, for error messages."""
    if isinstance(impl, str):
        return repr(impl)
    return repr(f"{impl.__module__}:{impl.__qualname__}")
