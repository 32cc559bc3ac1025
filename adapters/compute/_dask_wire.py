"""How a job's messages cross from a Dask worker to the client: plain dicts a ``distributed.Queue`` carries.

The queue ships msgpack, not pickles, so the typed messages travel as dicts tagged by ``type``;
``to_wire`` and ``from_wire`` are the two halves of that one format. The worker's last message,
``{"type": "exit", "code": ...}``, is the task's own and is not an adapter message.
"""

from __future__ import annotations

from typing import Any

from deepforge_panel.adapters.compute.messages import AdapterMessage, EventRecord, Line, Queued, Started, Stopped

__all__ = ["from_wire", "size", "to_wire"]


def to_wire(message: AdapterMessage) -> dict[str, Any]:
    """The dict that carries ``message`` through the queue."""
    match message:
        case Queued():
            return {"type": "queued"}
        case Started(time=started):
            return {"type": "started", "time": started}
        case Line(stream=stream, text=text, newline=newline):
            return {"type": "line", "stream": stream, "text": text, "newline": newline}
        case EventRecord(payload=payload, dropped=dropped):
            return {"type": "event", "payload": payload, "dropped": dropped}
        case Stopped(reason=reason):
            return {"type": "stopped", "reason": reason}


def from_wire(wire: dict[str, Any]) -> AdapterMessage:
    """The message a dict of ``to_wire`` carries; ValueError for anything else."""
    match wire:
        case {"type": "queued"}:
            return Queued()
        case {"type": "started", "time": float() | int() as started}:
            return Started(float(started))
        case {"type": "line", "stream": "stdout" | "stderr" as stream, "text": str(text), "newline": bool(newline)}:
            return Line(stream, text, newline)
        case {"type": "event", "payload": str(payload), "dropped": int(dropped)}:
            return EventRecord(payload, dropped)
        case {"type": "stopped", "reason": str(reason)}:
            return Stopped(reason)
    raise ValueError(f"not a compute adapter message: {str(wire)[:200]}")


def size(wire: dict[str, Any]) -> int:
    """Characters of text a wire message carries, for batching."""
    return len(wire.get("text") or wire.get("payload") or "")
