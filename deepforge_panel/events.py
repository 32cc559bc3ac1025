"""Typed job events: what a job reports on its events channel, and what the orchestrator tells listeners.

A job writes one JSON object per line on a channel of its own (``deepforge.feedback`` in the job,
an ``EventRecord`` out of the compute adapter); :func:`decode` is the one place such a record
becomes a typed event. A record that cannot be read becomes :class:`Malformed`, which is shown as
a console note: never an exception, never dropped silently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deepforge_panel.adapters.compute.messages import EventRecord, Line
from deepforge_panel.crdt.schema import MAX_INT

if TYPE_CHECKING:
    from collections.abc import Callable

    from deepforge_panel.executions import Status

__all__ = [
    "ExecutionStatus",
    "Figure",
    "JobError",
    "JobEvent",
    "JobStatus",
    "Line",
    "ListenerEvent",
    "Malformed",
    "Metric",
    "Output",
    "Progress",
    "decode",
    "decode_record",
]

_NOTE_PAYLOAD_CHARS = 200


@dataclass(frozen=True, slots=True)
class Progress:
    """``current`` of ``total`` units done (``total`` None when unknown)."""

    current: int
    total: int | None
    label: str


@dataclass(frozen=True, slots=True)
class Metric:
    """One point of a scalar series; ``value`` None when it was not finite (NaN has no JSON)."""

    name: str
    value: float | None
    step: int | None


@dataclass(frozen=True, slots=True)
class Figure:
    """A matplotlib figure described as data (``deepforge.figures``), to be redrawn by the workbench."""

    id: str
    figure: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Output:
    """An output the job stored: where, its sha256, its size in bytes, its Python type, and why running the job
    again might not give the same bits (``caveats``, see the runtime's ``determinism``)."""

    name: str
    url: str
    hash: str
    size: int
    datatype: str
    caveats: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobError:
    """The operation failed; ``traceback`` says where."""

    traceback: str


@dataclass(frozen=True, slots=True)
class Malformed:
    """A record that is no event this workbench knows: kept so the console can say so."""

    payload: str
    reason: str

    @property
    def note(self) -> str:
        """The console line that reports it."""
        shown = self.payload[:_NOTE_PAYLOAD_CHARS] + ("…" if len(self.payload) > _NOTE_PAYLOAD_CHARS else "")
        return f"[deepforge] ignored an event from the job ({self.reason}): {shown}"


@dataclass(frozen=True, slots=True)
class JobStatus:
    """A job of the execution changed status; ``error`` says why it failed, was skipped or cancelled."""

    status: Status
    error: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionStatus:
    """The execution ended with ``status``."""

    status: Status


JobEvent = Progress | Metric | Figure | Output | JobError | Malformed
ListenerEvent = JobStatus | ExecutionStatus | Line | Progress | Metric | Malformed


class _Invalid(ValueError):
    """A field of a record has the wrong type."""


def decode_record(record: EventRecord) -> JobEvent:
    """The event an adapter's :class:`EventRecord` carries; :class:`Malformed` for a record dropped for its size."""
    if record.dropped:
        return Malformed(record.payload, f"a record of {record.dropped} bytes is over the size limit, dropped")
    return decode(record.payload)


def decode(payload: str) -> JobEvent:
    """The event a record of the events channel carries; :class:`Malformed` when it carries none."""
    try:
        record = json.loads(payload)
    except ValueError as exc:
        return Malformed(payload, f"not JSON: {exc}")
    if not isinstance(record, dict):
        return Malformed(payload, "not a JSON object")
    kind = record.get("type")
    build = _DECODERS.get(kind) if isinstance(kind, str) else None
    if build is None:
        return Malformed(payload, f"unknown event type {kind!r}")
    try:
        return build(record)
    except _Invalid as exc:
        return Malformed(payload, f"{kind} event: {exc}")


def _progress(record: dict[str, Any]) -> Progress:
    return Progress(_int(record, "current"), _optional_int(record, "total"), _str(record, "label", ""))


def _metric(record: dict[str, Any]) -> Metric:
    name = _str(record, "name")
    value = record.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _Invalid(f"'value' must be a number or null, got {value!r}")
    number = None if value is None or not math.isfinite(value) else float(value)
    return Metric(name, number, _optional_int(record, "step"))


def _figure(record: dict[str, Any]) -> Figure:
    figure = record.get("figure")
    if not isinstance(figure, dict):
        raise _Invalid("'figure' must be an object")
    figure_id = record.get("id")
    if not isinstance(figure_id, str | int) or isinstance(figure_id, bool):
        raise _Invalid(f"'id' must be a string, got {figure_id!r}")
    return Figure(str(figure_id), figure)


def _output(record: dict[str, Any]) -> Output:
    return Output(
        _str(record, "name"),
        _str(record, "url"),
        _str(record, "hash"),
        _int(record, "size"),
        _str(record, "datatype", ""),
        tuple(str(note) for note in record.get("caveats") or () if isinstance(note, str)),
    )


def _error(record: dict[str, Any]) -> JobError:
    return JobError(_str(record, "traceback", ""))


_DECODERS: dict[str, Callable[[dict[str, Any]], JobEvent]] = {
    "progress": _progress,
    "metric": _metric,
    "figure": _figure,
    "output": _output,
    "error": _error,
}


def _str(record: dict[str, Any], key: str, default: str | None = None) -> str:
    value = record.get(key, default)
    if not isinstance(value, str):
        raise _Invalid(f"{key!r} must be a string, got {value!r}")
    return value


def _int(record: dict[str, Any], key: str) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(f"{key!r} must be an integer, got {value!r}")
    if abs(value) > MAX_INT:
        raise _Invalid(f"{key!r} must be an integer between {-MAX_INT} and {MAX_INT}, got {value!r}")
    return int(value)


def _optional_int(record: dict[str, Any], key: str) -> int | None:
    return None if record.get(key) is None else _int(record, key)
