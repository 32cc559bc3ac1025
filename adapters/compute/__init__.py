"""Compute adapters: where generated job folders run, behind one async interface and a registry."""

from __future__ import annotations

from deepforge_panel.adapters.compute.base import ComputeAdapter, JobControl, JobGone, JobSpec, Limits
from deepforge_panel.adapters.compute.messages import (
    EVENTS_FD_ENV,
    AdapterMessage,
    Emit,
    EventRecord,
    Line,
    Queued,
    Started,
    Stopped,
)
from deepforge_panel.adapters.compute.registry import available_compute, compute, get_compute_class, register_compute

__all__ = [
    "EVENTS_FD_ENV",
    "AdapterMessage",
    "ComputeAdapter",
    "Emit",
    "EventRecord",
    "JobControl",
    "JobGone",
    "JobSpec",
    "Limits",
    "Line",
    "Queued",
    "Started",
    "Stopped",
    "available_compute",
    "compute",
    "get_compute_class",
    "register_compute",
]
