"""Content-addressed job results: a job's key, the project's record of what each key made, and staleness.

A job's **key** hashes everything that decides what it produces: its operation's code, its attribute
values, the content hashes of its inputs, the generated code of its references, the init code and
utility modules every job runs, and its environment: the one its operation declares, or else Python's
version and the installed versions of the packages that code imports (upgrading TensorFlow runs its jobs
again). When a job succeeds, the ``results`` records root
maps its key to the execution, job and artifacts that made it; a later run whose job has the same key
reuses those artifacts (the job is *cached*) if they are still stored, instead of running it. A failed or
cancelled job is never recorded, and an operation that says ``deterministic = False`` is never reused.

A node is **stale** when running its pipeline now would run it: its key (computed through the pipeline,
upstream results standing in for outputs not made yet) has no result. The pipeline editor shows that
before any run; "Run" runs exactly the stale jobs, "Run all" ignores the results.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pycrdt import Map

from deepforge_panel.crdt import dumps, loads
from deepforge_panel.errors import ProjectError
from deepforge_panel.preload import imported_packages
from deepforge_panel.views import RootView

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.pipelines import NodeId, Pipeline
    from deepforge_panel.project import Project
    from deepforge_panel.snapshots import Snapshot

KEY_VERSION = 2
"""Bumped when what a key covers changes, so older results are not taken for newer keys."""

Freshness = Literal["fresh", "stale", "new", "always"]
"""fresh: a result for its current key exists; stale: it ran before, but not as it is now; new: never ran;
always: its operation is not deterministic, so it runs every time."""


def job_key(snapshot: Snapshot, inputs: dict[str, str], init: list[str], utilities: dict[str, str]) -> str:
    """The key of a job running ``snapshot`` on inputs of content hashes ``inputs`` (port -> sha256)."""
    payload = {
        "version": KEY_VERSION,
        "code": snapshot.code,
        "attributes": snapshot.attributes,
        "inputs": inputs,
        "references": {name: ref.code for name, ref in snapshot.references.items()},
        "init": init,
        "utilities": utilities,
        "environment": snapshot.environment.to_dict() if snapshot.environment is not None else None,
    }
    if snapshot.environment is None:  # runs with the workbench's own interpreter and packages
        sources = [snapshot.code, *(ref.code for ref in snapshot.references.values()), *init, *utilities.values()]
        payload["packages"] = installed_versions(imported_packages(sources))
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def installed_versions(modules: set[str]) -> dict[str, str]:
    """Python's version and the installed version of each distribution providing one of ``modules`` (top-level
    import names; the standard library and the project's own modules provide none)."""
    versions = {"python": platform.python_version()}
    providers = _providers()
    for module in sorted(modules):
        for distribution in providers.get(module, ()):
            versions[distribution] = _version(distribution)
    return versions


@functools.cache
def _providers() -> Mapping[str, list[str]]:
    """Top-level import name -> the installed distributions providing it (read once per process: jobs forked
    from a warm process run the packages it loaded then, too)."""
    return importlib.metadata.packages_distributions()


@functools.cache
def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Result:
    """What the job of one key made: its outputs (port -> artifact id), and where."""

    id: str
    """The key."""
    execution: str
    job: str
    pipeline: str
    node: str
    outputs: dict[str, str]
    created: float


class ResultsView(RootView[Result]):
    """The ``results`` records root: job key -> {execution, job, pipeline, node (ids), outputs (JSON), created}."""

    root = "results"
    kind = "result"

    def get(self, key: str) -> Result:
        rec = self.record(key)
        return Result(
            key,
            str(rec["execution"]),
            str(rec["job"]),
            str(rec.get("pipeline") or ""),
            str(rec.get("node") or ""),
            loads(rec["outputs"]) or {},
            float(rec["created"]),
        )

    def sort_key(self, item: Result) -> float:
        return item.created

    def lookup(self, key: str) -> Result | None:
        return self.get(key) if key in self._map else None

    def record_in_transaction(
        self, key: str, execution: str, job: str, pipeline: str, node: str, outputs: dict[str, str]
    ) -> None:
        """Record (inside the caller's transaction) that ``job`` of ``execution`` made ``outputs`` for ``key``."""
        self._map[key] = Map(
            {
                "execution": execution,
                "job": job,
                "pipeline": pipeline,
                "node": node,
                "outputs": dumps(outputs),
                "created": time.time(),
            }
        )

    def ran(self) -> set[tuple[str, str]]:
        """(pipeline id, node id) of every node that has a result, whatever its key."""
        return {(str(rec.get("pipeline") or ""), str(rec.get("node") or "")) for rec in self._map.values()}

    def usable(self, key: str, storage: StorageAdapter) -> dict[str, dict[str, Any]] | None:
        """The outputs of ``key``'s result as a run takes them (port -> artifact id, url, hash, provenance), when
        every one is still recorded and stored where ``storage`` reaches it; else None (the job runs again)."""
        result = self.lookup(key)
        if result is None:
            return None
        outputs = {}
        recorded = set(self.project.artifacts.ids())
        for port, artifact_id in result.outputs.items():
            if artifact_id not in recorded:
                return None
            artifact = self.project.artifacts.get(artifact_id)
            try:
                if not storage.reaches(artifact.url) or not storage.exists(artifact.url):
                    return None
            except (OSError, ProjectError, ValueError):
                return None
            outputs[port] = {
                "artifact": artifact.id,
                "url": artifact.url,
                "hash": artifact.hash,
                "provenance": artifact.provenance,
            }
        return outputs


def freshness(project: Project, pipeline: Pipeline) -> dict[NodeId, Freshness]:
    """What running ``pipeline`` now would do with each node (see :data:`Freshness`); Input and Output nodes
    and nodes that cannot run yet (an unset reference, an Input naming no artifact) count as new."""
    from deepforge_panel.io_nodes import ATTRIBUTE, OUTPUT, InputError, find_artifact, is_input, is_output
    from deepforge_panel.references import UnbuildableReference, UnresolvedReference
    from deepforge_panel.snapshots import project_init, take_snapshot

    results = ResultsView(project)
    ran = results.ran()
    recorded = set(project.artifacts.ids())
    init, utilities = project_init(project), project.utilities.modules()
    hashes: dict[NodeId, dict[str, str]] = {}  # node -> port -> content hash, where known
    found: dict[NodeId, Freshness] = {}
    try:
        order = pipeline.topological_order()
    except ProjectError:
        return {node_id: "new" for node_id in pipeline.nodes}

    def not_fresh(node_id: NodeId) -> Freshness:
        return "stale" if (pipeline.id, node_id) in ran else "new"

    for node_id in order:
        node = pipeline.nodes[node_id]
        interface = project.operations.get(node.operation).interface
        found[node_id] = "new"
        if interface is None:
            continue
        if is_input(interface):
            try:
                hashes[node_id] = {OUTPUT: find_artifact(project, str(node.attributes.get(ATTRIBUTE, ""))).hash}
            except InputError:
                pass
            continue
        if is_output(interface):
            continue
        if not interface.deterministic:
            found[node_id] = "always"
            continue
        edges = pipeline.incoming(node_id)
        inputs = {e.dst_port: hashes[e.src][e.src_port] for e in edges if e.src_port in hashes.get(e.src, {})}
        if len(inputs) < len(edges):  # an input whose content is not known before running what makes it
            found[node_id] = not_fresh(node_id)
            continue
        try:
            snapshot = take_snapshot(project, pipeline, node_id, {})
        except (UnbuildableReference, UnresolvedReference, ProjectError):
            continue
        result = results.lookup(job_key(snapshot, inputs, init, utilities))
        if result is not None and all(a in recorded for a in result.outputs.values()):
            found[node_id] = "fresh"
            hashes[node_id] = {port: project.artifacts.get(a).hash for port, a in result.outputs.items()}
        else:
            found[node_id] = not_fresh(node_id)
    return found
