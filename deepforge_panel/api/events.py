"""An execution's events as server-sent events (``text/event-stream``), read from the document.

The stream compares the execution's record with what it sent before, every :data:`POLL_S`: so it
carries what any writer did (this server's runs, a CLI run the hub pulled, a peer's), needs no
document observer (pycrdt keeps unsubscribed callbacks, #421), and a client connecting late first
gets what happened so far. Events (``event:`` names, ``data:`` JSON):

- ``execution``: ``{"status", "error"}`` when the execution's status changes;
- ``job``: ``{"job", "id", "status", "error"}`` when a job's status changes;
- ``console``: ``{"job", "stream", "text"}`` per console line (``text`` keeps its newline);
- ``end``: ``{"status", "error"}`` once the execution is final; the stream then ends.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

from pycrdt import Map, Text
from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from deepforge_panel.errors import NotFound
from deepforge_panel.executions import FINAL
from deepforge_panel.project import Project

__all__ = ["ExecutionWatch", "sse", "stream_events"]

POLL_S = 0.1
"""How often the record is compared with what was sent."""
KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies and clients from dropping a quiet stream."""

Event = tuple[str, dict[str, Any]]


def sse(kind: str, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


class ExecutionWatch:
    """What changed in one execution's record since the last look, as events."""

    def __init__(self, project: Project, execution_id: str) -> None:
        self.project = project
        self.execution_id = execution_id
        self.status: str | None = None
        self.jobs: dict[str, str] = {}
        self.console: dict[tuple[str, str], int] = {}
        """Characters of each job's stream already sent (complete lines only)."""
        self.lengths: dict[tuple[str, str], int] = {}
        """Each job's stream's length (the document's measure) when last read."""
        self.ended = False

    def changes(self) -> list[Event]:
        """The events since the last call; after the final one, ``end`` (and :attr:`ended` is set)."""
        record = self.project.executions.record(self.execution_id)
        events: list[Event] = []
        status = record.get("status")
        final = isinstance(status, str) and status in FINAL
        if isinstance(status, str) and status != self.status and not final:
            self.status = status
            events.append(("execution", {"status": status, "error": _text(record.get("error"))}))
        jobs = record.get("jobs")
        for job_id, job in sorted(jobs.items() if isinstance(jobs, Map) else (), key=lambda item: _name(*item)):
            if isinstance(job, Map):
                events.extend(self._job(job_id, job, final))
        if final:
            events.append(("execution", {"status": status, "error": _text(record.get("error"))}))
            events.append(("end", {"status": status, "error": _text(record.get("error"))}))
            self.ended = True
        return events

    def _job(self, job_id: str, job: Map, final: bool) -> Iterator[Event]:
        """A job's new status (after its last lines once it is final, before its first ones otherwise) and lines."""
        name = _name(job_id, job)
        status = job.get("status")
        changed = isinstance(status, str) and self.jobs.get(job_id) != status
        if changed:
            self.jobs[job_id] = str(status)
        news = ("job", {"job": name, "id": job_id, "status": status, "error": _text(job.get("error"))})
        if changed and status not in FINAL:
            yield news
        for stream in ("stdout", "stderr"):
            text = job.get(stream)
            if not isinstance(text, Text):
                continue
            length = len(text)  # cheap, unlike reading the text: skip a console unchanged since it was all sent
            if self.lengths.get((job_id, stream)) == length:
                continue
            sent = self.console.get((job_id, stream), 0)
            fresh = str(text)[sent:]
            complete = fresh if final or status in FINAL else fresh[: fresh.rfind("\n") + 1]
            if complete == fresh:  # else a line is unfinished: read again next time
                self.lengths[(job_id, stream)] = length
            if complete:
                self.console[(job_id, stream)] = sent + len(complete)
                for line in complete.splitlines(keepends=True):
                    yield "console", {"job": name, "stream": stream, "text": line}
        if changed and status in FINAL:
            yield news


def _name(job_id: str, job: Any) -> str:
    name = job.get("name") if isinstance(job, Map) else None
    return name if isinstance(name, str) else job_id


def _text(value: Any) -> str:
    return str(value) if isinstance(value, str | Text) else ""


async def stream_events(handler: RequestHandler, project: Project, execution_id: str) -> None:
    """Write the execution's events to ``handler`` as they happen, until it is final or the client leaves."""
    handler.set_header("Content-Type", "text/event-stream; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.set_header("X-Accel-Buffering", "no")
    watch = ExecutionWatch(project, execution_id)
    quiet_since = time.monotonic()
    try:
        while not watch.ended and not getattr(handler, "client_gone", False):
            try:
                events = watch.changes()
            except NotFound as exc:  # the project or the execution went away while streaming
                events = [("end", {"status": "gone", "error": str(exc)})]
                watch.ended = True
            if events:
                handler.write("".join(sse(kind, data) for kind, data in events))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > KEEPALIVE_S:
                handler.write(": keep-alive\n\n")
                quiet_since = time.monotonic()
            await handler.flush()
            if not watch.ended:
                await asyncio.sleep(POLL_S)
    except StreamClosedError:
        return
    handler.finish()
