"""Compute adapters by name ("local", "dask", and entry points in group ``deepforge_panel.compute``), imported on first use."""

from __future__ import annotations

from typing import Any

from deepforge_panel.adapters.compute.base import ComputeAdapter
from deepforge_panel.registry import Registry

__all__ = ["available_compute", "compute", "get_compute_class", "register_compute"]

_registry: Registry[ComputeAdapter] = Registry("compute adapter", ComputeAdapter, group="deepforge_panel.compute")


def register_compute(
    name: str, cls_or_path: type[ComputeAdapter] | str, clobber: bool = False, hint: str | None = None
) -> None:
    """Register a compute adapter class, or its "module:Class" path to import lazily, as ``name``."""
    _registry.register(name, cls_or_path, clobber=clobber, hint=hint)


def get_compute_class(name: str) -> type[ComputeAdapter]:
    """The compute adapter class registered as ``name`` (ValueError lists the known names)."""
    return _registry.get(name)


def compute(name: str, **config: Any) -> ComputeAdapter:
    """A new, not yet started, compute adapter ``name`` configured with ``config``."""
    return get_compute_class(name)(**config)


def available_compute() -> list[str]:
    """Names of all registered compute adapters."""
    return _registry.names()


register_compute("local", "deepforge_panel.adapters.compute.local:LocalCompute")
register_compute(
    "dask", "deepforge_panel.adapters.compute.dask:DaskCompute", hint="Install it with: pip install 'dask[distributed]'"
)
