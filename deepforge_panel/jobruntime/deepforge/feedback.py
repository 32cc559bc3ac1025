"""The job-to-server feedback wire protocol: one JSON event per marked stdout line.

A job reports progress, metrics and figures by printing event lines on its
original stdout; the server reads that stdout line by line and hands each line
to `parse_line`. Ordinary output passes through untouched. Emitting only happens
when the workbench launched the job (``DEEPFORGE_FEEDBACK=1``), so the same
operation code runs unchanged by hand.

This module imports nothing beyond the standard library on purpose.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
from typing import Any

MARKER = "\x1e@deepforge "
"""Prefix of an event line. It starts with ASCII record separator 0x1E, which
``str.strip()`` treats as whitespace and ``str.splitlines()`` as a line break:
readers split on ``"\\n"`` only (iterating a text stream does) and strip only
``"\\r\\n"``."""

ENV_VAR = "DEEPFORGE_FEEDBACK"

_lock = threading.Lock()


def enabled() -> bool:
    """Whether events are emitted: only when the workbench launched this process."""
    return os.environ.get(ENV_VAR) == "1"


def encode(event: dict[str, Any]) -> str:
    """The event line for *event*, without the trailing newline."""
    return MARKER + json.dumps(event, separators=(",", ":"))


def emit(event: dict[str, Any]) -> None:
    """Write *event* as one line on the original stdout and flush; no-op when disabled.

    Pending output buffered in a replaced ``sys.stdout`` is flushed first so the
    event keeps its place among the job's printed lines. Thread-safe.
    """
    if not enabled():
        return
    stream = sys.__stdout__
    if stream is None:
        return
    line = encode(event) + "\n"
    with _lock:
        current = sys.stdout
        if current is not None and current is not stream:
            current.flush()
        stream.write(line)
        stream.flush()


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


def parse_line(line: str) -> dict[str, Any] | None:
    """The event carried by *line*, or None when it is ordinary output.

    A trailing ``"\\r\\n"`` or ``"\\n"`` is tolerated. A line that starts with
    `MARKER` but whose payload is not a JSON object also returns None, so the
    caller shows it as ordinary output instead of losing it.
    """
    text = line.rstrip("\r\n")
    if not text.startswith(MARKER):
        return None
    try:
        event = json.loads(text[len(MARKER) :])
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
