"""An execution's events as server-sent events (``text/event-stream``), read from the document.

Each status a job takes is caught as its transaction lands (:class:`StatusLog`: one document observer
per project, shared by every stream, since pycrdt keeps unsubscribed callbacks, #421), so a job that ran
for less than a poll still says it ran; console lines are read from the record every :data:`POLL_S`.
Either way the stream carries what any writer did (this server's runs, a CLI run the hub pulled, a
peer's), and a client connecting late first gets what happened so far. Events (``event:`` names,
``data:`` JSON):

- ``execution``: ``{"status", "error"}`` when the execution's status changes;
- ``job``: ``{"job", "id", "status", "error"}`` for each status a job takes;
- ``console``: ``{"job", "stream", "text"}`` per console line (``text`` keeps its newline);
- ``end``: ``{"status", "error"}`` once the execution is final; the stream then ends.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Iterator
from typing import Any

from pycrdt import Doc, Map, Text
from tornado.iostream import StreamClosedError
from tornado.web import RequestHandler

from deepforge_panel.errors import NotFound
from deepforge_panel.executions import FINAL
from deepforge_panel.project import Project

__all__ = ["ExecutionWatch", "StatusLog", "sse", "stream_events"]

POLL_S = 0.1
"""How often the record is compared with what was sent."""
KEEPALIVE_S = 15.0
"""A comment line this often keeps proxies and clients from dropping a quiet stream."""

Event = tuple[str, dict[str, Any]]


def sse(kind: str, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n"


class StatusLog:
    """Every job status a project's document takes, kept for the watches that asked (by execution)."""

    _logs: weakref.WeakKeyDictionary[Doc[Any], StatusLog] = weakref.WeakKeyDictionary()

    def __init__(self, project: Project) -> None:
        self.watches: dict[str, set[ExecutionWatch]] = {}
        project.map("executions").observe_deep(self._observed)

    @classmethod
    def of(cls, project: Project) -> StatusLog:
        """The log of ``project``'s document (observed once, from the first call on)."""
        log = cls._logs.get(project.doc)
        if log is None:
            log = cls._logs[project.doc] = StatusLog(project)
        return log

    def _observed(self, events: list[Any]) -> None:
        if not self.watches:
            return
        for event in events:
            path, keys = getattr(event, "path", None), getattr(event, "keys", None)
            if not isinstance(keys, dict) or "status" not in keys or not path or len(path) != 3 or path[1] != "jobs":
                continue
            status = keys["status"].get("newValue")
            for watch in self.watches.get(str(path[0]), ()):
                if isinstance(status, str):
                    watch.taken.setdefault(str(path[2]), []).append(status)


class ExecutionWatch:
    """What changed in one execution's record since the last look, as events; ``with watch:`` makes it take
    every status a job passes through (from the :class:`StatusLog`), not only the one it has when looked at."""

    def __init__(self, project: Project, execution_id: str) -> None:
        self.project = project
        self.execution_id = execution_id
        self.status: str | None = None
        self.jobs: dict[str, str] = {}
        self.taken: dict[str, list[str]] = {}
        """Statuses each job took since the last look, in order (fed by the status log)."""
        self.console: dict[tuple[str, str], int] = {}
        """Characters of each job's stream already sent (complete lines only)."""
        self.lengths: dict[tuple[str, str], int] = {}
        """Each job's stream's length (the document's measure) when last read."""
        self.ended = False

    def __enter__(self) -> ExecutionWatch:
        StatusLog.of(self.project).watches.setdefault(self.execution_id, set()).add(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        watches = StatusLog.of(self.project).watches
        watches.get(self.execution_id, set()).discard(self)
        if not watches.get(self.execution_id):
            watches.pop(self.execution_id, None)

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
        statuses = self.taken.pop(job_id, [])
        if isinstance(status, str) and status not in statuses[-1:]:
            statuses.append(status)  # what the log did not see (the watch's first look, a pulled update)
        news: list[Event] = []
        for taken in statuses:
            if taken != self.jobs.get(job_id):
                self.jobs[job_id] = taken
                error = _text(job.get("error")) if taken in FINAL else ""
                news.append(("job", {"job": name, "id": job_id, "status": taken, "error": error}))
        yield from (item for item in news if item[1]["status"] not in FINAL)
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
        yield from (item for item in news if item[1]["status"] in FINAL)


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
    quiet_since = time.monotonic()
    try:
        with ExecutionWatch(project, execution_id) as watch:
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
