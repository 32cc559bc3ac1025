"""Names never become paths: a hostile node name that reached the document (from a peer, an old project) runs safely."""

from __future__ import annotations

import asyncio
from pathlib import Path

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.orchestrator import Orchestrator
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project

HOSTILE = [
    "../../../../tmp/x/j",
    'quote"""; raise SystemExit(9) #',
    "nul\x00byte",
    "n" * 300,
]


def test_job_folders_are_named_by_ids_whatever_the_node_names(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    first = project.pipelines.add_node(pid, source, name="first")
    previous = first
    for i in range(len(HOSTILE)):
        node = project.pipelines.add_node(pid, add, name=f"n{i}")
        project.pipelines.add_edge(pid, previous, "data" if previous == first else "result", node, "data")
        previous = node
    with project.transaction():
        nodes = project.pipelines.record(pid)["nodes"]
        for i, node_id in enumerate(node_id for node_id in nodes if node_id != first):
            nodes[node_id]["name"] = HOSTILE[i]

    workdir = tmp_path / "home" / "jobs"
    orchestrator = Orchestrator(
        project, compute("local", max_workers=2), storage((tmp_path / "artifacts").as_uri()), workdir
    )
    execution = asyncio.run(asyncio.wait_for(orchestrator.run("p"), 120))

    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    assert {job.name for job in execution.jobs.values()} == {"first", *HOSTILE}
    folders = sorted(p.relative_to(workdir) for p in workdir.glob("[!.]*/*") if p.is_dir())  # not .runtime
    assert folders == sorted(Path(execution.id, job_id) for job_id in execution.jobs)
    assert not list(tmp_path.glob("**/x/j*")) and not Path("/tmp/x/j").exists()
