"""Storage adapters: where artifacts live, addressed by keys under a root URL, chosen by protocol."""

from __future__ import annotations

from deepforge_panel.adapters.storage.base import StorageAdapter
from deepforge_panel.adapters.storage.fsspec_storage import FsspecStorage
from deepforge_panel.adapters.storage.registry import available_storage, get_storage_class, register_storage, storage

__all__ = [
    "FsspecStorage",
    "StorageAdapter",
    "available_storage",
    "get_storage_class",
    "register_storage",
    "storage",
]
