"""The job's side of its events channel: one JSON record per line on a pipe of its own.

The workbench's compute adapter gives each job the write end of a pipe and names it in
``$DEEPFORGE_EVENTS_FD``. This module takes that descriptor over when first imported (the
generated ``main.py`` imports it before the operation runs): it marks it non-inheritable and
drops the variable, so processes the operation starts neither hold the channel open nor write
to a descriptor that means something else to them. What the job prints on stdout and stderr is
never read as an event, and nothing it prints can hide one. Without the variable (the job run
by hand with ``python main.py``) every call here does nothing, so the same code runs anywhere.

This module imports nothing beyond the standard library on purpose.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import threading
from typing import IO, Any

ENV_VAR = "DEEPFORGE_EVENTS_FD"
"""The variable that names the events channel's file descriptor (``EVENTS_FD_ENV`` of the adapters)."""

_lock = threading.Lock()
_channel: IO[bytes] | None = None


def connect(fd: int) -> None:
    """Send events to ``fd`` (a pipe's write end) from now on; this module owns and closes it."""
    global _channel
    os.set_inheritable(fd, False)
    stream = os.fdopen(fd, "wb")
    with _lock:
        previous, _channel = _channel, stream
    if previous is not None:
        previous.close()


def connect_from_environment() -> bool:
    """Take over the channel ``$DEEPFORGE_EVENTS_FD`` names, if any; True when connected."""
    value = os.environ.pop(ENV_VAR, None)
    if value is None:
        return False
    try:
        fd = int(value)
        os.fstat(fd)
    except (ValueError, OSError):
        sys.stderr.write(f"deepforge: ${ENV_VAR}={value!r} names no open file; feedback is off\n")
        return False
    connect(fd)
    return True


def disconnect() -> None:
    """Close the channel; events are dropped from now on."""
    global _channel
    with _lock:
        previous, _channel = _channel, None
    if previous is not None:
        previous.close()


def hand_over() -> dict[str, str]:
    """Ready the channel for the program this process is about to ``exec`` (the job's own environment): flushed,
    inheritable, and the variable that names it, to add to the new program's environment; ``{}`` without one."""
    with _lock:
        if _channel is None:
            return {}
        _channel.flush()
        fd = _channel.fileno()
    os.set_inheritable(fd, True)
    return {ENV_VAR: str(fd)}


def enabled() -> bool:
    """Whether events go anywhere: only when the workbench gave this process a channel."""
    return _channel is not None


def encode(event: dict[str, Any]) -> bytes:
    """The record for *event*, newline included."""
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def emit(event: dict[str, Any]) -> None:
    """Write *event* as one record on the channel and flush; no-op without a channel. Thread-safe."""
    global _channel
    if _channel is None:
        return
    record = encode(event)
    with _lock:
        if _channel is None:
            return
        try:
            _channel.write(record)
            _channel.flush()
        except OSError as exc:  # the workbench stopped reading: say so once, then go on without it
            broken, _channel = _channel, None
            with contextlib.suppress(OSError):
                broken.close()
            sys.stderr.write(f"deepforge: the events channel closed ({exc}); feedback is off\n")


def progress(current: int, total: int | None = None, label: str = "") -> None:
    """Report that *current* of *total* (None when unknown) units of work are done."""
    emit(
        {
            "type": "progress",
            "current": int(current),
            "total": None if total is None else int(total),
            "label": str(label),
        }
    )


def metric(name: str, value: float, step: int | None = None) -> None:
    """Report a scalar metric; a NaN or infinite *value* is sent as null (JSON has no NaN)."""
    number = float(value)
    emit(
        {
            "type": "metric",
            "name": str(name),
            "value": number if math.isfinite(number) else None,
            "step": None if step is None else int(step),
        }
    )


connect_from_environment()
