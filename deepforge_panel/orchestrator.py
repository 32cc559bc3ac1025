"""Run a pipeline as an execution: jobs in dependency order on a compute adapter.

Each run commits the project first (so the execution names the exact version it ran),
writes one job folder per node, runs ready jobs side by side, and writes their console lines
and typed events (``deepforge_panel.events``) into the document in batches. A failed job
skips its descendants; other branches go on.
All document access happens on the event loop thread that calls :meth:`start`.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pycrdt import Map

from deepforge_panel import provenance
from deepforge_panel.adapters.compute.messages import AdapterMessage, EventRecord, Line, Queued, Started
from deepforge_panel.crdt import dumps, new_id
from deepforge_panel.events import (
    ExecutionStatus,
    Figure,
    JobError,
    JobStatus,
    ListenerEvent,
    Malformed,
    Metric,
    Output,
    Progress,
    decode,
)
from deepforge_panel.executions import FINAL, Execution, ExecutionId, JobId, Status
from deepforge_panel.interface import Interface
from deepforge_panel.jobgen import job_environment, write_job_folder
from deepforge_panel.pipelines import NodeId, Pipeline, coerce
from deepforge_panel.project import default_author
from deepforge_panel.references import ResolvedReference, resolve

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import ComputeAdapter
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.project import Project

Listener = Callable[[str, str, ListenerEvent], None]
"""Called with (execution id, job name, event) for status changes, console lines, progress and metrics."""

Buffered = Line | Progress | Metric | Figure | JobError | Malformed
"""What waits in a job's buffer for the next write to the document."""

MAX_CONSOLE = 2_000_000
"""Characters of stdout/stderr kept per job in the document; the rest stays in the job folder's log."""


@dataclass
class _Snapshot:
    """What a node ran with, fixed when the execution started."""

    name: str
    operation_name: str
    code: str
    interface: Interface
    attributes: dict[str, Any]
    references: dict[str, ResolvedReference]


@dataclass
class _Run:
    id: ExecutionId
    pipeline: Pipeline
    commit: str
    job_ids: dict[NodeId, JobId]
    snapshots: dict[NodeId, _Snapshot]
    listener: Listener | None
    library_init: list[str] = field(default_factory=list)
    buffers: dict[JobId, list[Buffered]] = field(default_factory=dict)
    artifacts: dict[NodeId, dict[str, dict[str, Any]]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Orchestrator:
    """Runs a project's pipelines on one compute adapter, storing outputs through one storage adapter."""

    def __init__(
        self,
        project: Project,
        compute: ComputeAdapter,
        storage: StorageAdapter,
        workdir: str | Path,
        *,
        flush_interval: float = 0.1,
    ) -> None:
        self.project = project
        self.compute = compute
        self.storage = storage
        self.workdir = Path(workdir)
        self.flush_interval = flush_interval
        self._runs: dict[ExecutionId, _Run] = {}

    # -- public ---------------------------------------------------------------------------
    def start(
        self,
        pipeline: str,
        overrides: dict[str, dict[str, Any]] | None = None,
        *,
        author: str | None = None,
        listener: Listener | None = None,
    ) -> ExecutionId:
        """Validate, commit, create the execution and start running it; returns at once."""
        pipelines = self.project.pipelines
        checked = pipelines.check_runnable(pipelines.find(pipeline).id, overrides)
        author = author or default_author()
        snapshots = {
            nid: self._snapshot(checked, nid, (overrides or {}).get(node.name, {}))
            for nid, node in checked.nodes.items()
        }
        commit = self.project.commit(f"Run pipeline {checked.name}", author=author)
        execution_id, job_ids = self.project.executions.create(
            checked, commit, {nid: s.attributes for nid, s in snapshots.items()}, author, runner=_RUNNER
        )
        run = _Run(execution_id, checked, commit, job_ids, snapshots, listener, library_init())
        run.buffers = {jid: [] for jid in job_ids.values()}
        self._runs[execution_id] = run
        run.task = asyncio.get_running_loop().create_task(self._drive(run), name=f"execution {execution_id}")
        return execution_id

    async def wait(self, execution_id: str) -> Execution:
        """Wait for an execution started here to end; returns its final record."""
        run = self._runs[ExecutionId(execution_id)]
        assert run.task is not None
        await asyncio.shield(run.task)
        return self.project.executions.get(execution_id)

    async def run(self, pipeline: str, overrides: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> Execution:
        return await self.wait(self.start(pipeline, overrides, **kwargs))

    def cancel(self, execution_id: str) -> bool:
        """Stop an execution: running processes are killed, waiting jobs never start."""
        run = self._runs.get(ExecutionId(execution_id))
        if run is None or run.task is None or run.task.done():
            return False
        run.task.cancel()
        return True

    def recover(self) -> list[ExecutionId]:
        """Mark executions whose runner process on this host is gone as interrupted; returns their ids."""
        host = socket.gethostname()
        lost = []
        for execution_id in self.project.executions.ids():
            record = self.project.executions.record(execution_id)
            if record["status"] in FINAL or execution_id in self._runs:
                continue
            runner_host, _, pid = str(record.get("runner", "")).rpartition(":")
            if runner_host == host and pid.isdigit() and not _alive(int(pid)):
                self.project.executions.mark_interrupted(
                    execution_id, "interrupted: the process running this execution stopped"
                )
                lost.append(ExecutionId(execution_id))
        return lost

    def running(self) -> list[ExecutionId]:
        return [eid for eid, run in self._runs.items() if run.task is not None and not run.task.done()]

    # -- internals ----------------------------------------------------------------------------
    def _snapshot(self, pipeline: Pipeline, node_id: NodeId, override: dict[str, Any]) -> _Snapshot:
        node = pipeline.nodes[node_id]
        op = self.project.operations.get(node.operation)
        assert op.interface is not None
        attributes = self.project.pipelines.effective_attributes(node)
        for key, value in override.items():
            attribute = op.interface.attribute(key)
            assert attribute is not None
            attributes[key] = coerce(attribute, value, node.name)
        references = {name: resolve(self.project, value) for name, value in node.references.items()}
        return _Snapshot(node.name, op.name, op.code, op.interface, attributes, references)

    def _job(self, run: _Run, node_id: NodeId) -> Map:
        return self.project.executions.job_record(run.id, run.job_ids[node_id])

    def _set_status(self, run: _Run, node_id: NodeId, status: Status, **fields: Any) -> None:
        self._flush(run)
        with self.project.transaction(origin="orchestrator"):
            job = self._job(run, node_id)
            job["status"] = status
            for key, value in fields.items():
                job[key] = value
        if run.listener is not None:
            run.listener(run.id, run.snapshots[node_id].name, JobStatus(status, str(fields.get("error", ""))))

    async def _drive(self, run: _Run) -> None:
        pipeline = run.pipeline
        pending = set(pipeline.nodes)
        active: dict[asyncio.Task[bool], NodeId] = {}
        succeeded: set[NodeId] = set()
        flusher = asyncio.get_running_loop().create_task(self._flush_periodically(run))
        final: Status = "succeeded"
        try:
            while pending or active:
                for node_id in sorted(pending, key=lambda n: pipeline.nodes[n].name):
                    if pipeline.upstream(node_id) <= succeeded:
                        pending.discard(node_id)
                        task = asyncio.get_running_loop().create_task(self._run_job(run, node_id))
                        active[task] = node_id
                if not active:
                    break
                done, _ = await asyncio.wait(active, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    node_id = active.pop(task)
                    if task.result():
                        succeeded.add(node_id)
                        continue
                    final = "failed"
                    for skipped in pipeline.descendants(node_id) & pending:
                        pending.discard(skipped)
                        failed_name = run.snapshots[node_id].name
                        self._set_status(run, skipped, "skipped", error=f"skipped: upstream job {failed_name} failed")
        except asyncio.CancelledError:
            final = "cancelled"
            for task in active:
                task.cancel()
            await asyncio.gather(*active, return_exceptions=True)
            for node_id in pending:
                self._set_status(run, node_id, "cancelled", error="cancelled before it started")
        finally:
            flusher.cancel()
            self._flush(run)
            with self.project.transaction(origin="orchestrator"):
                record = self.project.executions.record(run.id)
                record["status"] = final
                record["ended"] = time.time()
            if run.listener is not None:
                run.listener(run.id, "", ExecutionStatus(final))

    async def _run_job(self, run: _Run, node_id: NodeId) -> bool:
        """Run one job to its end; True when it succeeded."""
        snap = run.snapshots[node_id]
        job_id = run.job_ids[node_id]
        inputs = {edge.dst_port: run.artifacts[edge.src][edge.src_port] for edge in run.pipeline.incoming(node_id)}
        with self.project.transaction(origin="orchestrator"):
            recorded = self._job(run, node_id)["inputs"]
            for port, artifact in inputs.items():
                recorded[port] = artifact["artifact"]
        reach = self.storage.job_config()
        folder = write_job_folder(
            self.workdir / run.id / f"{snap.name}-{job_id}",
            job_name=snap.name,
            code=snap.code,
            interface=snap.interface,
            attributes=snap.attributes,
            inputs={port: {"url": a["url"], "hash": a["hash"]} for port, a in inputs.items()},
            references={name: ref.code for name, ref in snap.references.items()},
            init_code=run.library_init,
            storage_url=reach["url"],
            origin=f"pipeline {run.pipeline.name!r}, execution {run.id}, commit {run.commit}",
        )
        from deepforge_panel.adapters.compute import JobSpec

        spec = JobSpec(id=job_id, folder=folder, env=job_environment(reach["options"]))
        run.artifacts[node_id] = {}
        errors: list[str] = []
        stderr_tail: list[str] = []
        logs = {name: (folder / f"{name}.log").open("a", encoding="utf-8") for name in ("stdout", "stderr")}

        def emit(message: AdapterMessage) -> None:
            event = decode(message.payload) if isinstance(message, EventRecord) else message
            match event:
                case Queued():
                    self._set_status(run, node_id, "queued", queued=time.time())
                    return
                case Started(time=started):
                    self._set_status(run, node_id, "running", started=started)
                    return
                case Output():
                    self._record_output(run, node_id, event, inputs)
                    return
                case Line(stream=stream, text=text):
                    logs[stream].write(event.printed)
                    if stream == "stderr":
                        stderr_tail.append(text)
                        del stderr_tail[:-20]
                case JobError(traceback=trace):
                    errors.append(trace)
            run.buffers[job_id].append(event)
            if run.listener is not None and isinstance(event, ListenerEvent):
                run.listener(run.id, snap.name, event)

        try:
            code = await self.compute.run(spec, emit)
        except asyncio.CancelledError:
            self._set_status(run, node_id, "cancelled", ended=time.time(), error="cancelled while running")
            raise
        except Exception as exc:  # noqa: BLE001 - an adapter that cannot run the job at all
            self._set_status(run, node_id, "failed", ended=time.time(), error=f"compute adapter error: {exc!r}")
            return False
        finally:
            for log in logs.values():
                log.close()
        missing = [p.name for p in snap.interface.outputs if p.name not in run.artifacts[node_id]]
        if code == 0 and not errors and not missing:
            self._set_status(run, node_id, "succeeded", ended=time.time())
            return True
        if errors:
            message = errors[-1]
        elif code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            message = f"job {snap.name} {how}" + ("\n" + "\n".join(stderr_tail) if stderr_tail else "")
        else:
            message = f"job {snap.name} finished without producing outputs {missing}"
        self._set_status(run, node_id, "failed", ended=time.time(), error=message)
        return False

    def _record_output(self, run: _Run, node_id: NodeId, output: Output, inputs: dict[str, dict[str, Any]]) -> None:
        snap = run.snapshots[node_id]
        job_id = run.job_ids[node_id]
        record = provenance.executed_job(
            execution=run.id,
            job=job_id,
            node=snap.name,
            pipeline=run.pipeline.name,
            commit=run.commit,
            operation_name=snap.operation_name,
            code=snap.code,
            interface=snap.interface,
            attributes=snap.attributes,
            references={
                name: {"library": ref.library, "resource": ref.resource, "name": ref.name, "code": ref.code}
                for name, ref in snap.references.items()
            },
            output=output.name,
            inputs={
                port: {"artifact": a["artifact"], "hash": a["hash"], "url": a["url"], "provenance": a["provenance"]}
                for port, a in inputs.items()
            },
        )
        artifact_id = new_id("a")
        self._flush(run)
        with self.project.transaction(origin="orchestrator"):
            self.project.artifacts.add_in_transaction(
                artifact_id, f"{snap.name}.{output.name}", output.datatype, output.url, output.hash, output.size, record
            )
            self._job(run, node_id)["outputs"][output.name] = artifact_id
        run.artifacts[node_id][output.name] = {
            "artifact": artifact_id,
            "url": output.url,
            "hash": output.hash,
            "provenance": record,
        }

    async def _flush_periodically(self, run: _Run) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            self._flush(run)

    def _flush(self, run: _Run) -> None:
        """Write buffered feedback of every job of ``run`` in one transaction."""
        if not any(run.buffers.values()):
            return
        executions = self.project.executions
        with self.project.transaction(origin="orchestrator"):
            for job_id, events in run.buffers.items():
                if not events:
                    continue
                job = executions.job_record(run.id, job_id)
                out: list[str] = []
                err: list[str] = []
                for event in events:
                    match event:
                        case Line(stream="stdout"):
                            out.append(event.printed)
                        case Line(stream="stderr"):
                            err.append(event.printed)
                        case Malformed(note=note):
                            err.append(note + "\n")
                        case Progress(current=current, total=total, label=label):
                            progress = job["progress"]
                            progress["current"] = current
                            progress["total"] = total
                            progress["label"] = label
                        case Metric(name=name, value=value, step=step):
                            executions.append_metric(job, name, step, math.nan if value is None else value)
                        case Figure(id=figure_id, figure=figure):
                            job["figures"][figure_id] = dumps(figure)
                        case JobError(traceback=trace):
                            job["error"] = trace
                _append_console(job["stdout"], "".join(out))
                _append_console(job["stderr"], "".join(err))
                events.clear()


_RUNNER = f"{socket.gethostname()}:{os.getpid()}"


def library_init() -> list[str]:
    """Init code of every library, for every job: an artifact a library serializes its own way may
    reach a job that never references that library (a model with custom activations being scored)."""
    from deepforge_panel.libraries import loaded_libraries

    return [code for code in (lib.init_code() for lib in loaded_libraries()) if code.strip()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _append_console(text: Any, chunk: str) -> None:
    if not chunk:
        return
    room = MAX_CONSOLE - len(text)
    if room <= 0:
        return
    if len(chunk) > room:
        chunk = chunk[:room] + "\n[output truncated: the full log is in the job folder]\n"
    text += chunk
