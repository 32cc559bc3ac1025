"""Compute adapters: where generated job folders run, behind one async interface and a registry."""

from __future__ import annotations

from deepforge_panel.adapters.compute.base import ComputeAdapter, Emit, JobSpec
from deepforge_panel.adapters.compute.registry import available_compute, compute, get_compute_class, register_compute

__all__ = [
    "ComputeAdapter",
    "Emit",
    "JobSpec",
    "available_compute",
    "compute",
    "get_compute_class",
    "register_compute",
]
