"""Run a pipeline as an execution: jobs in dependency order on a compute adapter.

Each run commits the project first (so the execution names the exact version it ran),
writes one job folder per node, runs ready jobs side by side, and writes their console lines
and typed events (``deepforge_panel.events``) into the document in batches. A failed job
skips its descendants; other branches go on.
All document access happens on the event loop thread that calls :meth:`start`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pycrdt import Map

from deepforge_panel import io_nodes, provenance
from deepforge_panel.adapters.compute.base import JobGone
from deepforge_panel.adapters.compute.messages import (
    AdapterMessage,
    Emit,
    EventRecord,
    Line,
    Queued,
    Started,
    Stopped,
)
from deepforge_panel.artifacts import Artifact, unreachable
from deepforge_panel.crdt import dumps, new_id
from deepforge_panel.environments import job_environment_for
from deepforge_panel.errors import ProjectError
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
    decode_record,
)
from deepforge_panel.executions import FINAL, SUCCESS, Execution, ExecutionId, JobId, KeptJob, Status
from deepforge_panel.io_nodes import InputError, find_artifact, is_input, is_output
from deepforge_panel.job_cache import job_key
from deepforge_panel.jobgen import is_startup_chatter, job_environment, write_job_folder
from deepforge_panel.pipelines import NodeId, Pipeline, PipelineError, PipelineId
from deepforge_panel.preload import job_preload
from deepforge_panel.project import default_author
from deepforge_panel.references import UnbuildableReference
from deepforge_panel.runners import current_runner
from deepforge_panel.snapshots import Snapshot, project_init, take_snapshot

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import ComputeAdapter, JobSpec
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.project import Project

Listener = Callable[[str, str, ListenerEvent], None]
"""Called with (execution id, job name, event) for status changes, console lines, progress and metrics."""

Buffered = Line | Progress | Metric | Figure | JobError | Malformed
"""What waits in a job's buffer for the next write to the document."""

MAX_CONSOLE = 2_000_000
"""Characters of stdout/stderr kept per job in the document; the rest stays in the job folder's log."""

TRUNCATED = "\n[output truncated: the full log is in the job folder]"
"""The console's last line once a stream reached MAX_CONSOLE."""

ADOPT_FILE = "job.snapshot.json"
"""In a job's folder: what its node ran with and its inputs, for a workbench that follows it after a restart."""

INTERRUPTED = "interrupted: the workbench running this execution stopped while it ran"

_log = logging.getLogger(__name__)


@dataclass
class _Run:
    id: ExecutionId
    pipeline: Pipeline
    commit: str
    job_ids: dict[NodeId, JobId]
    snapshots: dict[NodeId, Snapshot]
    listener: Listener | None
    library_init: list[str] = field(default_factory=list)
    """The libraries' init code, then the project's, as the run started."""
    utilities: dict[str, str] = field(default_factory=dict)
    """The project's utility modules as the run started."""
    buffers: dict[JobId, list[Buffered]] = field(default_factory=dict)
    console: dict[tuple[JobId, str], int] = field(default_factory=dict)
    """Characters of each job's stdout and stderr taken into the document so far (at most MAX_CONSOLE)."""
    artifacts: dict[NodeId, dict[str, dict[str, Any]]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    cache: bool = True
    """Whether jobs whose key has a result take it instead of running (:mod:`deepforge_panel.job_cache`)."""
    adopted: bool = False
    """Started by another process, which died: this one follows the jobs that process's adapter kept going."""


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
        cache: bool = True,
    ) -> ExecutionId:
        """Validate, commit, create the execution and start running it; returns at once. With ``cache`` (the
        default) a job whose key has a usable result is not run: it takes that result's artifacts."""
        checked, snapshots = self._prepare(pipeline, overrides)
        author = author or default_author()
        commit = self.project.commit(f"Run pipeline {checked.name}", author=author)
        execution_id, job_ids = self.project.executions.create(
            checked, commit, {nid: s.attributes for nid, s in snapshots.items()}, author, runner=current_runner()
        )
        init = project_init(self.project)
        run = _Run(execution_id, checked, commit, job_ids, snapshots, listener, init, self.project.utilities.modules())
        run.cache = cache
        run.buffers = {jid: [] for jid in job_ids.values()}
        self._runs[execution_id] = run
        run.task = asyncio.get_running_loop().create_task(self._drive(run), name=f"execution {execution_id}")
        run.task.add_done_callback(lambda task: self._cancelled_before_start(run, task))
        return execution_id

    async def check(self, pipeline: str, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        """What :meth:`start` checks, plus the deeper checks of the library resources the pipeline
        references (Keras: every layer's shapes); refuses with every problem found, as start does."""
        from deepforge_panel.libraries import library  # the libraries' registry imports the core

        checked, snapshots = self._prepare(pipeline, overrides)
        problems: list[ProjectError] = []
        seen: set[tuple[str, str]] = set()
        for snapshot in snapshots.values():
            for name, ref in snapshot.references.items():
                if (ref.library, ref.resource) in seen:
                    continue
                seen.add((ref.library, ref.resource))
                for problem in await library(ref.library).check(self.project, ref.resource):
                    problems.append(
                        ProjectError(f"{snapshot.name}: reference {name!r}: {problem}", place=problem.place)
                    )
        if problems:
            raise PipelineError(
                f"pipeline {checked.name!r} cannot run:\n  - " + "\n  - ".join(map(str, problems)),
                place=problems[0].place,
            )

    async def wait(self, execution_id: str) -> Execution:
        """Wait for an execution started here to end; returns its final record."""
        run = self._runs[ExecutionId(execution_id)]
        assert run.task is not None
        try:
            await asyncio.shield(run.task)
        except asyncio.CancelledError:
            if not run.task.cancelled():
                raise  # the waiter was cancelled, not the run
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
        """Settle executions whose runner process is gone (this host only) as failed; returns their ids. Those
        whose jobs were kept going are left to :meth:`adopt`."""
        return self.project.executions.recover(keep=self._runs)

    def adopt(self) -> list[ExecutionId]:
        """Follow the executions whose runner died while this orchestrator's compute adapter kept their jobs
        going (``ComputeAdapter.attach``): this process becomes their runner, the jobs' feedback resumes where
        the files their adapter kept begin, their outputs are recorded, and once they end so does the execution
        (jobs that had not started are cancelled, saying so). For a long-lived process (the workbench's server):
        the jobs it follows are stopped if it stops first. Returns the adopted executions; none without a
        running event loop (they are followed on it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return []
        adopted: list[ExecutionId] = []
        for execution_id, kept in self.project.executions.orphans(keep=self._runs).items():
            if any(job.adapter != self.compute.name for job in kept.values()):
                continue
            run = self._adopted_run(execution_id)
            self.project.executions.take_over(execution_id, current_runner())
            self._runs[execution_id] = run
            run.task = loop.create_task(self._follow(run, kept), name=f"execution {execution_id} (adopted)")
            adopted.append(execution_id)
        return adopted

    def running(self) -> list[ExecutionId]:
        return [eid for eid, run in self._runs.items() if run.task is not None and not run.task.done()]

    # -- internals ----------------------------------------------------------------------------
    def _prepare(
        self, pipeline: str, overrides: dict[str, dict[str, Any]] | None
    ) -> tuple[Pipeline, dict[NodeId, Snapshot]]:
        """The pipeline checked runnable, and what each node would run with (its references' code generated)."""
        pipelines = self.project.pipelines
        checked = pipelines.check_runnable(pipelines.find(pipeline).id, overrides)
        snapshots: dict[NodeId, Snapshot] = {}
        problems: list[UnbuildableReference] = []
        for nid, node in checked.nodes.items():
            try:
                snapshots[nid] = take_snapshot(self.project, checked, nid, (overrides or {}).get(node.name, {}))
            except UnbuildableReference as exc:
                problems.append(UnbuildableReference(f"{node.name}: {exc}", place=exc.place))
        if problems:  # what only generating the references tells, refused like check_runnable's problems
            raise PipelineError(
                f"pipeline {checked.name!r} cannot run:\n  - " + "\n  - ".join(map(str, problems)),
                place=problems[0].place,
            )
        return checked, snapshots

    def _job(self, run: _Run, node_id: NodeId) -> Map:
        return self.project.executions.job_record(run.id, run.job_ids[node_id])

    def _set_status(
        self, run: _Run, node_id: NodeId, status: Status, *, also: Callable[[Map], None] | None = None, **fields: Any
    ) -> None:
        """Write a job's status and ``fields`` (and whatever ``also`` writes, given the job's record) in one
        transaction, with the feedback buffered before it: each transaction is a durable write to the store, so a
        job makes as few as it can."""
        with self.project.transaction(origin="orchestrator"):
            self._flush(run)
            job = self._job(run, node_id)
            job["status"] = status
            for key, value in fields.items():
                job[key] = value
            if also is not None:
                also(job)
        self._notify(run, run.snapshots[node_id].name, JobStatus(status, str(fields.get("error", ""))))

    def _notify(self, run: _Run, job_name: str, event: ListenerEvent) -> None:
        """Tell the run's listener; one that fails (a CLI printing into a closed pipe) is dropped, never fatal."""
        if run.listener is None:
            return
        try:
            run.listener(run.id, job_name, event)
        except Exception:  # noqa: BLE001 - whatever a display raises, the run goes on
            _log.exception("execution %s: its listener failed and is told nothing more", run.id)
            run.listener = None

    async def _drive(self, run: _Run) -> None:
        """Run every job in order; whatever happens (a failure, a cancel, a bug), end with a final status."""
        active: dict[asyncio.Task[bool], NodeId] = {}
        flusher = asyncio.get_running_loop().create_task(self._flush_periodically(run))
        status: Status = "failed"
        error = "the run stopped unexpectedly"
        try:
            failed = await self._schedule(run, active)
            status, error = ("failed", "; ".join(failed)) if failed else ("succeeded", "")
        except asyncio.CancelledError:
            status, error = "cancelled", "cancelled"
        except BaseException as exc:
            if not _unexpected(exc):
                raise
            status, error = "failed", _describe("the workbench failed while running it", exc)
        finally:
            flusher.cancel()
            for task in active:
                task.cancel()
            await asyncio.gather(*active, return_exceptions=True)
            self._finish(run, status, error)

    async def _schedule(self, run: _Run, active: dict[asyncio.Task[bool], NodeId]) -> list[str]:
        """Start each job once its inputs are ready, skip those below a failure; returns why jobs failed."""
        pipeline = run.pipeline
        pending = set(pipeline.nodes)
        succeeded: set[NodeId] = set()
        failures: list[str] = []
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
                    failed_name = run.snapshots[node_id].name
                    job_error = str(self._job(run, node_id).get("error") or "")
                    failures.append(f"job {failed_name} failed" + (f": {_summary(job_error)}" if job_error else ""))
                    for skipped in pipeline.descendants(node_id) & pending:
                        pending.discard(skipped)
                        self._set_status(run, skipped, "skipped", error=f"skipped: upstream job {failed_name} failed")
        except asyncio.CancelledError:
            for node_id in pending:
                self._set_status(run, node_id, "cancelled", error="cancelled before it started")
            raise
        return failures

    def _cancelled_before_start(self, run: _Run, task: asyncio.Task[None]) -> None:
        """A run cancelled before its task first ran never reached :meth:`_drive`'s ``finally``: end it here."""
        if task.cancelled() and self.project.executions.get(run.id).status not in FINAL:
            self._finish(run, "cancelled", "cancelled before it started")

    def _adopted_run(self, execution_id: ExecutionId) -> _Run:
        """The run of an execution another process started, as far as following its kept jobs needs it."""
        execution = self.project.executions.get(execution_id)
        pipeline = Pipeline(PipelineId(execution.pipeline), execution.pipeline_name, {}, {})
        job_ids = {NodeId(job.node): job.id for job in execution.jobs.values()}
        run = _Run(execution_id, pipeline, execution.commit, job_ids, {}, None, adopted=True)
        run.buffers = {job_id: [] for job_id in job_ids.values()}
        for job in execution.jobs.values():
            run.console[(job.id, "stdout")] = min(len(job.stdout), MAX_CONSOLE)
            run.console[(job.id, "stderr")] = min(len(job.stderr), MAX_CONSOLE)
        return run

    async def _follow(self, run: _Run, kept: dict[JobId, KeptJob]) -> None:
        """Follow an adopted execution's kept jobs to their end, then end it (see :meth:`adopt`)."""
        flusher = asyncio.get_running_loop().create_task(self._flush_periodically(run))
        nodes = {job_id: node_id for node_id, job_id in run.job_ids.items()}
        status: Status = "failed"
        try:
            await asyncio.gather(*(self._follow_job(run, nodes[job_id], job) for job_id, job in kept.items()))
        except asyncio.CancelledError:
            status = "cancelled"
        except BaseException as exc:
            if not _unexpected(exc):
                raise
            _log.exception("execution %s: following its jobs failed", run.id)
        finally:
            flusher.cancel()
            jobs = self.project.executions.get(run.id).jobs.values()
            not_run = sorted(job.name for job in jobs if job.status not in FINAL)
            failed = sorted(job.name for job in jobs if job.status in FINAL - SUCCESS)
            if status == "cancelled":
                error = "cancelled"
            elif not not_run and not failed:
                status, error = "succeeded", ""
            else:
                parts = [f"{_jobs(failed)} failed"] if failed else []
                if not_run:
                    parts.append(
                        f"{_jobs(not_run)} did not run (run the pipeline again: the jobs that finished are cached)"
                    )
                error = f"{INTERRUPTED}; " + "; ".join(parts)
            self._finish(run, status, error)

    async def _follow_job(self, run: _Run, node_id: NodeId, kept: KeptJob) -> bool:
        """Follow one kept job with what its folder kept of the run that started it; True when it succeeded."""
        from deepforge_panel.adapters.compute import JobSpec

        job_id = run.job_ids[node_id]
        folder = self.workdir / run.id / job_id
        try:
            data = json.loads((folder / ADOPT_FILE).read_text())
            snap = Snapshot.from_dict(data["snapshot"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            error = f"{INTERRUPTED}, and its job cannot be followed: {folder / ADOPT_FILE} cannot be read ({exc})"
            with self.project.transaction(origin="orchestrator"):
                job = self._job(run, node_id)
                job.update({"status": "failed", "ended": time.time(), "error": error})
            return False
        run.snapshots[node_id] = snap
        recorded = self.project.executions.get(run.id).jobs[job_id].outputs  # by the workbench that died
        run.artifacts[node_id] = {name: _held(self.project.artifacts.get(a)) for name, a in recorded.items()}
        spec = JobSpec(id=job_id, folder=folder, limits=snap.limits)
        return await self._supervise(
            run, node_id, spec, data["key"], data["inputs"], lambda emit: self.compute.attach(spec, kept.handle, emit)
        )

    def _finish(self, run: _Run, status: Status, error: str) -> None:
        """Write what is buffered and the final status; feedback that cannot be written never keeps it running."""
        try:
            self._flush(run)
        except BaseException as exc:
            if not _unexpected(exc):
                raise
            for events in run.buffers.values():
                events.clear()
            _log.exception("execution %s: feedback could not be recorded", run.id)
        self.project.executions.finish(run.id, status, error)
        self._notify(run, "", ExecutionStatus(status))

    async def _run_job(self, run: _Run, node_id: NodeId) -> bool:
        """Run one job to its end; True when it succeeded. An unexpected error fails the job, saying what it was."""
        try:
            return await self._execute(run, node_id)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if not _unexpected(exc):
                raise
            name = run.snapshots[node_id].name
            message = _describe(f"the workbench could not run job {name}", exc)
            self._set_status(run, node_id, "failed", ended=time.time(), error=message)
            return False

    async def _execute(self, run: _Run, node_id: NodeId) -> bool:
        snap = run.snapshots[node_id]
        if is_input(snap.interface):
            return self._feed(run, node_id)
        if is_output(snap.interface):
            return self._name(run, node_id)
        job_id = run.job_ids[node_id]
        inputs = {edge.dst_port: run.artifacts[edge.src][edge.src_port] for edge in run.pipeline.incoming(node_id)}
        key = job_key(snap, {port: a["hash"] for port, a in inputs.items()}, run.library_init, run.utilities)

        def record_inputs(job: Map) -> None:  # written with the job's first status, not in a transaction of its own
            job["key"] = key
            for port, artifact in inputs.items():
                job["inputs"][port] = artifact["artifact"]

        if run.cache and snap.interface.deterministic:
            reused = self.project.results.usable(key, self.storage)
            if reused is not None:
                return self._reuse(run, node_id, key, reused, record_inputs)
        reach = self.storage.job_config()
        folder = write_job_folder(
            self.workdir / run.id / job_id,
            job_name=snap.name,
            code=snap.code,
            interface=snap.interface,
            attributes=snap.attributes,
            inputs={port: {"url": a["url"], "hash": a["hash"]} for port, a in inputs.items()},
            references={name: ref.code for name, ref in snap.references.items()},
            init_code=run.library_init,
            utilities=run.utilities,
            storage_url=reach["url"],
            origin=f"pipeline {run.pipeline.name!r}, execution {run.id}, commit {run.commit}",
            environment=job_environment_for(
                snap.environment, reach["url"], (ref.library for ref in snap.references.values())
            ),
            runtime_copy=self.workdir / ".runtime",
        )
        from deepforge_panel.adapters.compute import JobSpec

        preload = job_preload(
            snap.code, [*(ref.code for ref in snap.references.values()), *run.library_init, *run.utilities.values()]
        )
        env = job_environment(reach["options"], self.project.job_log_level)
        spec = JobSpec(id=job_id, folder=folder, env=env, limits=snap.limits, preload=preload)
        (folder / ADOPT_FILE).write_text(dumps({"snapshot": snap.to_dict(), "inputs": inputs, "key": key}))
        return await self._supervise(
            run, node_id, spec, key, inputs, lambda emit: self.compute.run(spec, emit), record_inputs
        )

    async def _supervise(
        self,
        run: _Run,
        node_id: NodeId,
        spec: JobSpec,
        key: str,
        inputs: dict[str, dict[str, Any]],
        start: Callable[[Emit], Awaitable[int]],
        record_inputs: Callable[[Map], None] | None = None,
    ) -> bool:
        """Take what job ``node_id`` tells while ``start`` runs it (or follows it, after a restart) into the
        document, then record how it ended; True when it succeeded."""
        snap = run.snapshots[node_id]
        job_id = run.job_ids[node_id]
        folder = spec.folder
        quiet = self.project.job_log_level == "quiet"
        run.artifacts.setdefault(node_id, {})
        errors: list[str] = []
        stopped: list[str] = []
        stderr_tail: list[str] = []
        logs = {name: (folder / f"{name}.log").open("a", encoding="utf-8") for name in ("stdout", "stderr")}

        def handle(message: AdapterMessage) -> None:
            event = decode_record(message) if isinstance(message, EventRecord) else message
            match event:
                case Queued():
                    self._set_status(run, node_id, "queued", queued=time.time(), also=record_inputs)
                    return
                case Started(time=started, handle=process):
                    kept: dict[str, Any] = {}
                    if process is not None:  # how a workbench started anew follows the job, should this one die
                        kept["process"] = dumps({"adapter": self.compute.name, "handle": process})
                    self._set_status(run, node_id, "running", started=started, **kept)
                    return
                case Output():
                    self._record_output(run, node_id, event, inputs)
                    return
                case Stopped(reason=reason):
                    stopped.append(f"job {snap.name} {reason}")
                    return
                case Line(stream=stream, text=text):
                    logs[stream].write(event.printed)
                    if quiet and stream == "stderr" and is_startup_chatter(text):
                        return
                    if stream == "stderr":
                        stderr_tail.append(text[-2000:])
                        del stderr_tail[:-20]
                    self._notify(run, snap.name, event)
                    run.buffers[job_id].extend(self._console_share(run, job_id, event))
                    return
                case JobError(traceback=trace):
                    errors.append(trace)
            run.buffers[job_id].append(event)
            if isinstance(event, ListenerEvent):
                self._notify(run, snap.name, event)

        def emit(message: AdapterMessage) -> None:
            # What goes wrong here must not reach the adapter, which would stop reading the job.
            try:
                handle(message)
            except BaseException as exc:
                if not _unexpected(exc):
                    raise
                errors.append(_describe(f"the workbench could not record {type(message).__name__}", exc))

        try:
            code = await start(emit)
        except asyncio.CancelledError:
            self._set_status(run, node_id, "cancelled", ended=time.time(), error="cancelled while running")
            raise
        except JobGone as exc:
            self._set_status(run, node_id, "failed", ended=time.time(), error=f"{INTERRUPTED}: {exc}")
            return False
        except Exception as exc:  # noqa: BLE001 - an adapter that cannot run the job at all
            self._set_status(
                run, node_id, "failed", ended=time.time(), error=f"compute adapter error: {exc or repr(exc)}"
            )
            return False
        finally:
            for log in logs.values():
                log.close()
        self._outputs_left_on_disk(run, node_id, folder, inputs)
        missing = [p.name for p in snap.interface.outputs if p.name not in run.artifacts[node_id]]
        if code == 0 and not errors and not missing:
            outputs = {port: a["artifact"] for port, a in run.artifacts[node_id].items()}

            def record_result(_job: Map) -> None:
                if snap.interface.deterministic:
                    self.project.results.record_in_transaction(key, run.id, job_id, run.pipeline.id, node_id, outputs)

            self._set_status(run, node_id, "succeeded", ended=time.time(), also=record_result)
            return True
        if stopped:
            message = stopped[-1]
        elif errors:
            message = errors[-1]
        elif code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            message = f"job {snap.name} {how}" + ("\n" + "\n".join(stderr_tail) if stderr_tail else "")
        else:
            message = f"job {snap.name} finished without producing outputs {missing}"
        self._set_status(run, node_id, "failed", ended=time.time(), error=message)
        return False

    def _outputs_left_on_disk(
        self, run: _Run, node_id: NodeId, folder: Path, inputs: dict[str, dict[str, Any]]
    ) -> None:
        """Outputs a followed job stored while no workbench watched (their events read by the one that died):
        the job runtime lists every output it stored in its folder's ``outputs.json``."""
        if not run.adopted:
            return
        try:
            stored = json.loads((folder / "outputs.json").read_text())
        except (OSError, ValueError):
            return
        for name, output in stored.items() if isinstance(stored, dict) else ():
            if name in run.artifacts[node_id] or not isinstance(output, dict):
                continue
            event = decode_record(EventRecord(json.dumps({"type": "output", **output})))
            if isinstance(event, Output):
                self._record_output(run, node_id, event, inputs)

    def _reuse(
        self,
        run: _Run,
        node_id: NodeId,
        key: str,
        outputs: dict[str, dict[str, Any]],
        record_inputs: Callable[[Map], None],
    ) -> bool:
        """A job whose key has a result: its outputs are that result's artifacts, and it is *cached*."""
        result = self.project.results.get(key)
        run.artifacts[node_id] = outputs

        def record(job: Map) -> None:
            record_inputs(job)
            for port, artifact in outputs.items():
                job["outputs"][port] = artifact["artifact"]
            job["cached_from"] = dumps({"execution": result.execution, "job": result.job})

        made_by = self._job_name(result.execution, result.job)
        said = f"cached: same code, attributes and inputs as {made_by} of execution {result.execution}; its outputs"
        return self._settled(run, node_id, said, status="cached", also=record)

    def _job_name(self, execution_id: str, job_id: str) -> str:
        try:
            return f"job {self.project.executions.get(execution_id).jobs[JobId(job_id)].name}"
        except (KeyError, ProjectError):
            return f"job {job_id}"

    def _feed(self, run: _Run, node_id: NodeId) -> bool:
        """An Input node: its output is the artifact it names, as stored (no job runs); True when it can be read."""
        snap = run.snapshots[node_id]
        now = time.time()
        try:
            artifact = find_artifact(self.project, snap.attributes.get(io_nodes.ATTRIBUTE, ""))
        except InputError as exc:
            self._set_status(run, node_id, "failed", started=now, ended=now, error=f"{snap.name}: {exc}")
            return False
        problem = unreachable(artifact, self.storage)
        if problem is not None:
            self._set_status(run, node_id, "failed", started=now, ended=now, error=f"{snap.name}: {problem}")
            return False
        run.artifacts[node_id] = {io_nodes.OUTPUT: _held(artifact)}
        with self.project.transaction(origin="orchestrator"):
            self._job(run, node_id)["outputs"][io_nodes.OUTPUT] = artifact.id
        return self._settled(run, node_id, f"feeds artifact {artifact.name!r} ({artifact.id}, {artifact.size} bytes)")

    def _name(self, run: _Run, node_id: NodeId) -> bool:
        """An Output node: what reached it becomes an artifact of the name it sets (the same stored data and
        provenance; no job runs)."""
        snap = run.snapshots[node_id]
        (edge,) = run.pipeline.incoming(node_id)  # check_runnable: its one input is connected
        given = run.artifacts[edge.src][edge.src_port]
        name = str(snap.attributes.get(io_nodes.NAME, ""))
        source = self.project.artifacts.get(given["artifact"])
        named = [a for a in self.project.artifacts.all() if a.name == name]
        if run.cache and named and named[-1].hash == source.hash:  # saved already: no second record of it
            with self.project.transaction(origin="orchestrator"):
                job = self._job(run, node_id)
                job["inputs"][io_nodes.INPUT_PORT] = source.id
                job["outputs"][io_nodes.INPUT_PORT] = named[-1].id
            said = f"cached: artifact {name!r} ({named[-1].id}) already holds this content"
            return self._settled(run, node_id, said, status="cached")
        artifact_id = new_id("a")
        with self.project.transaction(origin="orchestrator"):
            self.project.artifacts.add_in_transaction(
                artifact_id, name, source.type, source.url, source.hash, source.size, source.provenance
            )
            job = self._job(run, node_id)
            job["inputs"][io_nodes.INPUT_PORT] = source.id
            job["outputs"][io_nodes.INPUT_PORT] = artifact_id
        return self._settled(run, node_id, f"saved {source.name!r} as artifact {name!r} ({artifact_id})")

    def _settled(
        self,
        run: _Run,
        node_id: NodeId,
        said: str,
        status: Status = "succeeded",
        also: Callable[[Map], None] | None = None,
    ) -> bool:
        """A node the workbench settled itself, with no job: ``said`` in its console, ``status`` at once."""
        job_id = run.job_ids[node_id]
        run.buffers[job_id].extend(self._console_share(run, job_id, Line("stdout", said)))
        now = time.time()
        self._set_status(run, node_id, status, started=now, ended=now, also=also)
        return True

    @staticmethod
    def _console_share(run: _Run, job_id: JobId, line: Line) -> list[Line]:
        """What of ``line`` goes into the document: all of it until the job's stream holds MAX_CONSOLE characters,
        then a note once, then nothing (the job folder's log keeps everything); so memory stays bounded too."""
        key = (job_id, line.stream)
        taken = run.console.get(key, 0)
        if taken > MAX_CONSOLE:
            return []
        printed = line.printed
        if taken + len(printed) <= MAX_CONSOLE:
            run.console[key] = taken + len(printed)
            return [line]
        run.console[key] = MAX_CONSOLE + 1
        head = Line(line.stream, printed[: MAX_CONSOLE - taken], newline=False)
        return [head, Line(line.stream, TRUNCATED)]

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
            environment=snap.environment.to_dict() if snap.environment is not None else None,
            output=output.name,
            caveats=output.caveats,
            inputs={
                port: {"artifact": a["artifact"], "hash": a["hash"], "url": a["url"], "provenance": a["provenance"]}
                for port, a in inputs.items()
            },
        )
        artifact_id = new_id("a")
        with self.project.transaction(origin="orchestrator"):
            self._flush(run)  # what the job printed before it stored the output comes first
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
            try:
                self._flush(run)
            except BaseException as exc:
                if not _unexpected(exc):
                    raise
                _log.exception("execution %s: feedback could not be recorded", run.id)

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
                    try:
                        self._write_event(job, event, out, err)
                    except BaseException as exc:
                        if not _unexpected(exc):
                            raise
                        err.append(f"[deepforge] could not record {event!r}"[:300] + f": {exc!r}\n")
                stdout, stderr = job["stdout"], job["stderr"]
                if out:
                    stdout += "".join(out)
                if err:
                    stderr += "".join(err)
                events.clear()

    def _write_event(self, job: Map, event: Buffered, out: list[str], err: list[str]) -> None:
        """One buffered event into its job's record (console text into ``out`` and ``err``)."""
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
                self.project.executions.append_metric(job, name, step, math.nan if value is None else value)
            case Figure(id=figure_id, figure=figure):
                job["figures"][figure_id] = dumps(figure)
            case JobError(traceback=trace):
                job["error"] = trace


def _jobs(names: list[str]) -> str:
    """ "job a" or "jobs a, b"."""
    return ("job " if len(names) == 1 else "jobs ") + ", ".join(names)


def _held(artifact: Artifact) -> dict[str, Any]:
    """An artifact as a node's output is held while a run goes on (``_Run.artifacts``)."""
    return {"artifact": artifact.id, "url": artifact.url, "hash": artifact.hash, "provenance": artifact.provenance}


def _unexpected(exc: BaseException) -> bool:
    """Whether ``exc`` is an error to record as a failure: any but a cancel or an interpreter exit.
    pycrdt's panics (a value the document cannot hold) derive from BaseException, so ``Exception`` is not enough."""
    return not isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit | GeneratorExit)


def _describe(what: str, exc: BaseException) -> str:
    """``what`` went wrong, with the error and where it was raised; its last line names the error."""
    trace = "".join(traceback.format_exception(exc)).rstrip()
    return f"{what}: {exc!r}\n\n{trace}"


def _summary(error: str, limit: int = 300) -> str:
    """One line that names a job's error: a traceback's last line (the exception), else the first line."""
    lines = [line for line in error.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return (lines[-1] if lines[0].startswith("Traceback") else lines[0])[:limit]
