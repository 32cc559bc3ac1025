"""Compute and storage adapters: pluggable places where jobs run and artifacts live.

The factories live in the subpackages, ``deepforge_panel.adapters.compute.compute(name, **config)`` and
``deepforge_panel.adapters.storage.storage(url, **options)``, so those names stay the subpackages here.
Depends only on the stdlib and fsspec; s3fs and dask/distributed are imported when first used.
"""

from __future__ import annotations

from deepforge_panel.adapters import compute, storage
from deepforge_panel.adapters.compute.base import ComputeAdapter, Emit, JobSpec
from deepforge_panel.adapters.compute.registry import available_compute, get_compute_class, register_compute
from deepforge_panel.adapters.storage.base import StorageAdapter
from deepforge_panel.adapters.storage.fsspec_storage import FsspecStorage
from deepforge_panel.adapters.storage.registry import available_storage, get_storage_class, register_storage

__all__ = [
    "ComputeAdapter",
    "Emit",
    "FsspecStorage",
    "JobSpec",
    "StorageAdapter",
    "available_compute",
    "available_storage",
    "compute",
    "get_compute_class",
    "get_storage_class",
    "register_compute",
    "register_storage",
    "storage",
]
