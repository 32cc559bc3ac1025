"""Executions of pipelines and their jobs, as recorded in the project document.

An execution mirrors its pipeline (one job per node, the same edges) together with the
commit it ran; each job carries status, times, console output, progress, metrics and figures.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, NewType

from pycrdt import Array, Map, Text

from deepforge_panel.crdt import as_int, dumps, loads, new_id
from deepforge_panel.errors import NotFound
from deepforge_panel.pipelines import NodeId, Pipeline
from deepforge_panel.views import RootView

ExecutionId = NewType("ExecutionId", str)
JobId = NewType("JobId", str)
Status = Literal["pending", "queued", "running", "succeeded", "failed", "cancelled", "skipped"]
FINAL: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "skipped"})


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


@dataclass(frozen=True)
class Execution:
    id: ExecutionId
    pipeline: str
    pipeline_name: str
    commit: str
    status: Status
    author: str
    created: float
    ended: float | None
    edges: list[dict[str, str]]
    jobs: dict[JobId, Job] = field(default_factory=dict)

    def job(self, name_or_id: str) -> Job:
        for job in self.jobs.values():
            if name_or_id in (job.id, job.name, job.node):
                return job
        raise NotFound(f"execution {self.id} has no job {name_or_id!r}", name_or_id)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


class ExecutionsView(RootView[Execution]):
    """The ``executions`` root: id -> {pipeline, commit, status, runner, edges, jobs: {id: {...}}}."""

    root = "executions"
    kind = "execution"

    def sort_key(self, item: Execution) -> float:
        return item.created

    def job_record(self, execution_id: str, job_id: str) -> Map:
        return self.record(execution_id)["jobs"][job_id]

    def get(self, execution_id: str) -> Execution:
        rec = self.record(execution_id)
        jobs = {JobId(jid): self._job(jid, j) for jid, j in rec["jobs"].items()}
        return Execution(
            id=ExecutionId(execution_id),
            pipeline=rec["pipeline"],
            pipeline_name=rec["pipeline_name"],
            commit=rec["commit"],
            status=rec["status"],
            author=rec.get("author", ""),
            created=float(rec["created"]),
            ended=_optional_float(rec.get("ended")),
            edges=loads(rec["edges"], []),
            jobs=jobs,
        )

    @staticmethod
    def _job(job_id: str, rec: Map) -> Job:
        progress = rec["progress"].to_py()
        return Job(
            id=JobId(job_id),
            node=rec["node"],
            name=rec["name"],
            operation=rec["operation"],
            status=rec["status"],
            queued=_optional_float(rec.get("queued")),
            started=_optional_float(rec.get("started")),
            ended=_optional_float(rec.get("ended")),
            stdout=str(rec["stdout"]),
            stderr=str(rec["stderr"]),
            error=rec.get("error", ""),
            attributes=loads(rec["attributes"], {}),
            progress={
                "current": as_int(progress.get("current")),
                "total": None if progress.get("total") is None else as_int(progress["total"]),
                "label": progress.get("label", ""),
            },
            metrics={
                name: [(as_int(step), float(value)) for step, value in series]
                for name, series in rec["metrics"].to_py().items()
            },
            figures={fid: loads(data) for fid, data in rec["figures"].items()},
            inputs=dict(rec["inputs"].items()),
            outputs=dict(rec["outputs"].items()),
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
                    "author": author,
                    "runner": runner,
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

    def mark_interrupted(self, execution_id: str, reason: str) -> None:
        """End an execution whose runner died: unfinished jobs become cancelled, the execution failed."""
        with self.project.transaction(origin="orchestrator"):
            rec = self.record(execution_id)
            for job in rec["jobs"].values():
                if job["status"] not in FINAL:
                    job["status"] = "cancelled"
                    job["error"] = reason
                    job["ended"] = time.time()
            rec["status"] = "failed"
            rec["ended"] = time.time()

    def remove(self, execution_id: str) -> None:
        rec = self.record(execution_id)
        if rec["status"] not in FINAL:
            raise ValueError(f"execution {execution_id} is still {rec['status']}; cancel it first")
        with self.project.transaction():
            del self._map[execution_id]
