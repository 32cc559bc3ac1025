"""What a compute adapter tells its caller about a running job: one small frozen dataclass per kind.

Adapters know nothing of the records a job sends on its events channel: they hand each one over
whole, as an :class:`EventRecord`, for the core to decode (``deepforge_panel.events.decode``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "EVENTS_FD_ENV",
    "AdapterMessage",
    "Emit",
    "EventRecord",
    "Line",
    "Queued",
    "Started",
    "Stopped",
    "Stream",
]

EVENTS_FD_ENV = "DEEPFORGE_EVENTS_FD"
"""The variable naming, in a job's environment, the file descriptor of its events channel (a pipe's write end)."""

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True, slots=True)
class Queued:
    """The adapter accepted the job; it may still wait for a free slot."""


@dataclass(frozen=True, slots=True)
class Started:
    """The job's process started, at ``time`` (unix seconds). ``handle`` (JSON-able), where the adapter gives
    one, is what its ``attach`` needs to follow the job again from another process, should this one die."""

    time: float
    handle: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One line the job printed, exactly: ``text`` without its newline; ``newline`` False only for an unfinished last line."""

    stream: Stream
    text: str
    newline: bool = True

    @property
    def printed(self) -> str:
        """The text as the job wrote it, newline included."""
        return self.text + "\n" if self.newline else self.text


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One record the job wrote on its events channel, undecoded (a JSON object, without the newline).

    A record longer than the adapter reads whole (16 MiB) is dropped, not held in memory: then ``dropped``
    is its size in bytes and ``payload`` only how it began.
    """

    payload: str
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Stopped:
    """The adapter stopped the job for going past a limit; ``reason`` says which ("timed out after 5 s")."""

    reason: str


AdapterMessage = Queued | Started | Line | EventRecord | Stopped
Emit = Callable[[AdapterMessage], None]
