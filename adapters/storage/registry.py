"""Storage adapters by URL protocol ("file", "s3", entry points in ``deepforge_panel.storage``), imported on first use; fsspec fills the gaps."""

from __future__ import annotations

from typing import Any

from fsspec.registry import known_implementations
from fsspec.registry import registry as fsspec_registry

from deepforge_panel.adapters.storage._urls import protocol_of
from deepforge_panel.adapters.storage.base import StorageAdapter
from deepforge_panel.registry import Registry

__all__ = ["available_storage", "get_storage_class", "register_storage", "storage"]

_registry: Registry[StorageAdapter] = Registry("storage adapter", StorageAdapter, group="deepforge_panel.storage")
_FALLBACK = "deepforge_panel.adapters.storage.fsspec_storage:FsspecStorage"


def register_storage(
    protocol: str, cls_or_path: type[StorageAdapter] | str, clobber: bool = False, hint: str | None = None
) -> None:
    """Register a storage adapter class, or its "module:Class" path to import lazily, for ``protocol``."""
    _registry.register(protocol, cls_or_path, clobber=clobber, hint=hint)


def get_storage_class(protocol: str) -> type[StorageAdapter]:
    """The adapter class for ``protocol``: the registered one, else FsspecStorage if fsspec knows it."""
    if protocol in _registry:
        return _registry.get(protocol)
    if protocol in fsspec_registry or protocol in known_implementations:
        return _fsspec_class()
    registered = ", ".join(repr(name) for name in _registry.names()) or "none"
    raise ValueError(
        f"No storage adapter for protocol {protocol!r}: registered are {registered}, "
        "and fsspec does not know it either (see fsspec.available_protocols())"
    )


def storage(url: str, **options: Any) -> StorageAdapter:
    """A storage adapter rooted at ``url`` (a plain path means a local folder), with fsspec ``options``."""
    return get_storage_class(protocol_of(url))(url, **options)


def available_storage() -> list[str]:
    """Protocols with an explicitly registered adapter (any other protocol fsspec knows works too)."""
    return _registry.names()


def _fsspec_class() -> type[StorageAdapter]:
    """The generic fsspec-backed adapter class, imported lazily."""
    from deepforge_panel.adapters.storage.fsspec_storage import FsspecStorage

    return FsspecStorage


register_storage("file", _FALLBACK)
register_storage("s3", _FALLBACK, hint="Install it with: pip install s3fs")
