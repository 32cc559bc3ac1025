"""Executions of pipelines and their jobs, as recorded in the project document.

An execution mirrors its pipeline (one job per node, the same edges) together with the
commit it ran; each job carries status, times, console output, progress, metrics and figures.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal, NewType, get_args

from pycrdt import Array, Map, Text

from deepforge_panel.crdt import as_int, dumps, loads, new_id
from deepforge_panel.errors import NotFound
from deepforge_panel.pipelines import NodeId, Pipeline
from deepforge_panel.runners import runner_gone
from deepforge_panel.views import RootView

ExecutionId = NewType("ExecutionId", str)
JobId = NewType("JobId", str)
Status = Literal["pending", "queued", "running", "succeeded", "cached", "failed", "cancelled", "skipped"]
"""A job is *cached* when it did not run because an earlier job of the same key made its outputs."""
STATUSES: frozenset[str] = frozenset(get_args(Status))
FINAL: frozenset[str] = frozenset({"succeeded", "cached", "failed", "cancelled", "skipped"})
SUCCESS: frozenset[str] = frozenset({"succeeded", "cached"})


@dataclass(frozen=True)
class KeptJob:
    """A job its compute adapter kept going after the process running it died (running still, or ended with its
    end recorded): the adapter's name and the handle its ``Started`` message gave."""

    adapter: str
    handle: dict[str, Any]


@dataclass(frozen=True)
class Job:
    id: JobId
    node: str
    name: str
    operation: str
    status: Status
    queued: float | None
    started: float | None
    ended: float | None
    stdout: str
    stderr: str
    error: str
    attributes: dict[str, Any]
    progress: dict[str, Any]
    metrics: dict[str, list[tuple[int, float]]]
    figures: dict[str, dict[str, Any]]
    inputs: dict[str, str]
    outputs: dict[str, str]
    key: str = ""
    """The job's content key (:mod:`deepforge_panel.job_cache`); empty for Input and Output nodes."""
    cached_from: dict[str, str] | None = None
    """For a cached job: the execution and job that made its outputs ({"execution": ..., "job": ...})."""


@dataclass(frozen=True)
class Execution:
    id: ExecutionId
    pipeline: str
    pipeline_name: str
    commit: str
    status: Status
    author: str
    created: float | None
    ended: float | None
    edges: list[dict[str, str]]
    jobs: dict[JobId, Job] = field(default_factory=dict)
    error: str = ""
    """Why the execution failed or was cancelled; empty when it succeeded or is still going."""
    runner: str = ""
    """The process driving it (``deepforge_panel.runners``), so one whose driver is gone can be settled."""

    def job(self, name_or_id: str) -> Job:
        for job in self.jobs.values():
            if name_or_id in (job.id, job.name, job.node):
                return job
        raise NotFound(f"execution {self.id} has no job {name_or_id!r}", name_or_id)


def _optional_float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _str(rec: Map, key: str, default: str = "") -> str:
    """A text field of a record (a str or a Text), ``default`` while it has not arrived."""
    value = rec.get(key)
    return str(value) if isinstance(value, str | Text) else default


def _status(rec: Map) -> Status:
    """A record's status; "pending" until a known one has arrived."""
    value = rec.get("status")
    return value if value in STATUSES else "pending"


def _map(rec: Map, key: str) -> dict[str, Any]:
    """A nested map of a record as plain Python, empty while it has not arrived."""
    value = rec.get(key)
    return (value.to_py() or {}) if isinstance(value, Map) else {}


def _json(rec: Map, key: str, default: Any) -> Any:
    """A field written with ``dumps``, ``default`` while it has not arrived."""
    value = rec.get(key)
    return loads(value) if isinstance(value, str) else default


LATEST = "latest"
"""What names a project's newest execution (:meth:`ExecutionsView.find`)."""


class ExecutionsView(RootView[Execution]):
    """The ``executions`` root: id -> {pipeline, commit, status, runner, edges, jobs: {id: {...}}}."""

    root = "executions"
    kind = "execution"

    def sort_key(self, item: Execution) -> float:
        return item.created or 0.0

    def find(self, which: str) -> Execution:
        """The execution ``which`` names: its id, ``latest``, or a pipeline's name (its newest execution);
        NotFound lists the newest executions when none matches."""
        executions = self.all()  # oldest first
        if which in self.ids():
            return self.get(which)
        named = executions if which == LATEST else [e for e in executions if e.pipeline_name == which]
        if named:
            return named[-1]
        recent = ", ".join(f"{e.id} ({e.pipeline_name})" for e in reversed(executions[-5:])) or "none yet"
        raise NotFound(
            f"no execution {which!r} in project {self.project.name!r}: give an execution's id, a pipeline's name "
            f"or {LATEST!r} (newest executions: {recent})",
            which,
        )

    def job_record(self, execution_id: str, job_id: str) -> Map:
        return self.record(execution_id)["jobs"][job_id]

    def get(self, execution_id: str) -> Execution:
        """The execution as recorded; fields not arrived yet (a record synced in parts) read as pending/unknown."""
        rec = self.record(execution_id)
        jobs_rec = rec.get("jobs")
        jobs = (
            {JobId(jid): self._job(jid, j) for jid, j in jobs_rec.items() if isinstance(j, Map)}
            if isinstance(jobs_rec, Map)
            else {}
        )
        return Execution(
            id=ExecutionId(execution_id),
            pipeline=_str(rec, "pipeline"),
            pipeline_name=_str(rec, "pipeline_name"),
            commit=_str(rec, "commit"),
            status=_status(rec),
            author=_str(rec, "author"),
            created=_optional_float(rec.get("created")),
            ended=_optional_float(rec.get("ended")),
            edges=_json(rec, "edges", []),
            jobs=jobs,
            error=_str(rec, "error"),
            runner=_str(rec, "runner"),
        )

    @staticmethod
    def _job(job_id: str, rec: Map) -> Job:
        progress = _map(rec, "progress")
        metrics = _map(rec, "metrics")
        return Job(
            id=JobId(job_id),
            node=_str(rec, "node"),
            name=_str(rec, "name", job_id),
            operation=_str(rec, "operation"),
            status=_status(rec),
            queued=_optional_float(rec.get("queued")),
            started=_optional_float(rec.get("started")),
            ended=_optional_float(rec.get("ended")),
            stdout=_str(rec, "stdout"),
            stderr=_str(rec, "stderr"),
            error=_str(rec, "error"),
            attributes=_json(rec, "attributes", {}),
            progress={
                "current": as_int(progress.get("current")),
                "total": None if progress.get("total") is None else as_int(progress["total"]),
                "label": progress.get("label", ""),
            },
            metrics={
                name: [(as_int(step), float(value)) for step, value in series]
                for name, series in metrics.items()
                if isinstance(series, list)
            },
            figures={fid: loads(data) for fid, data in _map(rec, "figures").items() if isinstance(data, str)},
            inputs=_map(rec, "inputs"),
            outputs=_map(rec, "outputs"),
            key=_str(rec, "key"),
            cached_from=_json(rec, "cached_from", None),
        )

    # -- written by the orchestrator ---------------------------------------------------------
    def create(
        self,
        pipeline: Pipeline,
        commit: str,
        attributes: dict[str, dict[str, Any]],
        author: str,
        runner: str = "",
    ) -> tuple[ExecutionId, dict[NodeId, JobId]]:
        """A pending execution with one pending job per node; returns its id and node -> job ids."""
        execution_id = ExecutionId(new_id("x"))
        job_ids = {nid: JobId(new_id("j")) for nid in pipeline.nodes}
        jobs = Map(
            {
                job_ids[nid]: Map(
                    {
                        "node": nid,
                        "name": node.name,
                        "operation": node.operation,
                        "status": "pending",
                        "stdout": Text(),
                        "stderr": Text(),
                        "attributes": dumps(attributes[nid]),
                        "progress": Map({"current": 0}),
                        "metrics": Map(),
                        "figures": Map(),
                        "inputs": Map(),
                        "outputs": Map(),
                    }
                )
                for nid, node in pipeline.nodes.items()
            }
        )
        edges = [
            {"src": job_ids[e.src], "src_port": e.src_port, "dst": job_ids[e.dst], "dst_port": e.dst_port}
            for e in pipeline.edges.values()
        ]
        with self.project.transaction(origin="orchestrator"):
            self._map[execution_id] = Map(
                {
                    "pipeline": pipeline.id,
                    "pipeline_name": pipeline.name,
                    "commit": commit,
                    "status": "running",
                    "error": "",
                    "author": author,
                    "runner": runner,
                    "site": self.project.store.site if self.project.store is not None else "",
                    "created": time.time(),
                    "edges": dumps(edges),
                    "jobs": jobs,
                }
            )
        return execution_id, job_ids

    def append_metric(self, job: Map, name: str, step: int | None, value: float) -> None:
        series = job["metrics"].get(name)
        if series is None:
            job["metrics"][name] = series = Array()
        series.append([len(series) if step is None else step, value])

    def finish(self, execution_id: str, status: Status, error: str = "", *, unfinished: Status = "cancelled") -> None:
        """End an execution with ``status`` and why (``error``); jobs not yet final become ``unfinished``, saying why."""
        with self.project.transaction(origin="orchestrator"):
            rec = self.record(execution_id)
            now = time.time()
            jobs = rec.get("jobs")
            for job in jobs.values() if isinstance(jobs, Map) else ():
                if isinstance(job, Map) and job.get("status") not in FINAL:
                    job["status"] = unfinished
                    job["error"] = error
                    job["ended"] = now
            rec["status"] = status
            rec["error"] = error
            rec["ended"] = now

    def mark_interrupted(self, execution_id: str, reason: str) -> None:
        """End an execution whose runner died: unfinished jobs become cancelled, the execution failed."""
        self.finish(execution_id, "failed", reason)

    def recover(self, keep: Collection[str] = ()) -> list[ExecutionId]:
        """Settle unfinished executions whose runner process is gone (killed, crashed) as failed; returns their ids.

        ``keep`` names executions the caller drives itself. Runners on other hosts are left alone, and so are
        executions that ran at another site (a peer's copy of the project, even on this host): only the site
        that ran one may settle it, or a peer could overwrite a result it has not received yet. So are those
        with jobs their compute adapter kept going (:meth:`orphans`): an orchestrator follows them to their end.
        """
        settled: list[ExecutionId] = []
        for execution_id in self._runner_gone(keep):
            if self.kept_jobs(execution_id):
                continue
            self.mark_interrupted(
                execution_id,
                f"interrupted: the process running this execution ({self.record(execution_id)['runner']}) "
                "stopped before it ended",
            )
            settled.append(ExecutionId(execution_id))
        return settled

    def orphans(self, keep: Collection[str] = ()) -> dict[ExecutionId, dict[JobId, KeptJob]]:
        """Unfinished executions whose runner is gone (on this host, at this site) but whose compute adapter kept
        jobs of theirs going: by execution, those jobs."""
        found = {ExecutionId(e): self.kept_jobs(e) for e in self._runner_gone(keep)}
        return {execution_id: jobs for execution_id, jobs in found.items() if jobs}

    def kept_jobs(self, execution_id: str) -> dict[JobId, KeptJob]:
        """The execution's unfinished jobs that their compute adapter kept going when the process running them died
        (see ``ComputeAdapter.attach``), still running or ended with their end recorded, with how to follow each."""
        from deepforge_panel.adapters.compute import get_compute_class

        kept: dict[JobId, KeptJob] = {}
        jobs = self.record(execution_id).get("jobs")
        for job_id, job in jobs.items() if isinstance(jobs, Map) else ():
            process = loads(job.get("process")) if isinstance(job, Map) and job.get("status") == "running" else None
            if not isinstance(process, dict) or not isinstance(process.get("handle"), dict):
                continue
            try:
                followable = get_compute_class(str(process.get("adapter"))).kept_job(process["handle"]) is not None
            except (KeyError, ValueError, ImportError):
                continue
            if followable:
                kept[JobId(job_id)] = KeptJob(str(process["adapter"]), process["handle"])
        return kept

    def take_over(self, execution_id: str, runner: str) -> None:
        """Make ``runner`` (this process) the one driving the execution: it follows what its dead runner left."""
        with self.project.transaction(origin="orchestrator"):
            self.record(execution_id)["runner"] = runner

    def _runner_gone(self, keep: Collection[str]) -> list[str]:
        """Unfinished executions not in ``keep``, run at this site, whose runner process is known to be gone."""
        site = self.project.store.site if self.project.store is not None else ""
        gone: list[str] = []
        for execution_id in self.ids():
            if execution_id in keep:
                continue
            rec = self.record(execution_id)
            status, runner = rec.get("status"), rec.get("runner")
            if status is None or status in FINAL or not isinstance(runner, str):
                continue
            if rec.get("site", site) == site and runner_gone(runner):
                gone.append(execution_id)
        return gone

    def remove(self, execution_id: str) -> None:
        rec = self.record(execution_id)
        if rec.get("status") not in FINAL:
            raise ValueError(f"execution {execution_id} is still {rec.get('status')}; cancel it first")
        with self.project.transaction():
            del self._map[execution_id]
