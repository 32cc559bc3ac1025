"""The hub: projects through its methods, and one compute adapter whose lifecycle it owns (Dask included)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from deepforge_panel.crdt import StoreError
from deepforge_panel.hub import ProjectHub
from deepforge_panel.project import Project
from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import ADD, SOURCE


def _chain(project: Project) -> str:
    """A two-job pipeline, source -> add, named ``chain``."""
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    pid = project.pipelines.create("chain")
    first = project.pipelines.add_node(pid, source, name="source", attributes={"value": 40})
    second = project.pipelines.add_node(pid, add, name="add", attributes={"amount": 2})
    project.pipelines.add_edge(pid, first, "data", second, "data")
    return "chain"


def test_projects_are_created_renamed_forked_and_deleted_through_the_hub(tmp_path: Path) -> None:
    hub = ProjectHub(Workspace(tmp_path / "home", examples=False))
    hub.create("alpha")
    assert [e.name for e in hub.projects()] == ["alpha"]
    assert hub.project("alpha").head() is not None, "a new project starts with a commit"
    hub.rename("alpha", "beta")
    head = hub.fork("beta", "gamma")
    assert [c.message for c in hub.project("gamma").log()] == [f"Fork of beta at {head}"]
    hub.delete("beta")
    assert [e.name for e in hub.projects()] == ["gamma"]
    with pytest.raises(StoreError, match="no project 'beta'"):
        hub.project("beta")


def test_each_branch_of_a_project_is_open_on_its_own_with_its_own_orchestrator(tmp_path: Path) -> None:
    hub = ProjectHub(Workspace(tmp_path / "home", examples=False))
    hub.create("alpha")
    main = hub.project("alpha")
    main.branch("exp")
    exp = hub.project("alpha", "exp")
    assert exp is hub.project("alpha", "exp") and exp is not main and main is hub.project("alpha", "main")
    assert (main.branch_name, exp.branch_name, exp.name) == ("main", "exp", "alpha")
    exp.pipelines.create("only on exp")
    assert [p.name for p in exp.pipelines.all()] == ["only on exp"] and main.pipelines.all() == []
    assert hub.orchestrator("alpha", "exp").project is exp and hub.orchestrator("alpha").project is main
    with pytest.raises(StoreError, match="no branch 'nope'"):
        hub.project("alpha", "nope")
    hub.rename("alpha", "beta")  # forgets (closes) every branch of it
    assert hub.project("beta", "exp") is not exp
    assert [p.name for p in hub.project("beta", "exp").pipelines.all()] == ["only on exp"], "edits are durable"
    asyncio.run(hub.close())


def test_a_hub_starts_and_stops_its_dask_cluster_and_runs_on_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        hub = ProjectHub(Workspace(tmp_path / "home", examples=False), compute="dask", compute_options={"n_workers": 1})
        async with hub:
            assert hub.compute.client is not None, "the hub started the cluster"
            hub.create("remote")
            pipeline = _chain(hub.project("remote"))
            orchestrator = hub.orchestrator("remote")
            assert orchestrator.compute is hub.compute, "every project runs on the hub's one adapter"
            execution = await asyncio.wait_for(orchestrator.run(pipeline), 120)
            assert execution.status == "succeeded", execution
            assert {job.name: job.status for job in execution.jobs.values()} == {
                "source": "succeeded",
                "add": "succeeded",
            }
        with pytest.raises(RuntimeError, match="not started"):
            _ = hub.compute.client

    asyncio.run(scenario())


def test_the_server_starts_the_hubs_compute_on_its_loop(tmp_path: Path) -> None:
    """``make_server(compute="dask")``: the cluster is up once the loop runs, and a pipeline runs on it."""
    from deepforge_panel.server import make_server

    server, hub = make_server(tmp_path / "home", port=0, compute="dask", compute_options={"n_workers": 1})
    server.start()

    async def scenario() -> str:
        deadline = asyncio.get_running_loop().time() + 60
        while hub.compute._client is None:
            assert asyncio.get_running_loop().time() < deadline, "the hub's cluster never started"
            await asyncio.sleep(0.05)
        hub.create("served")
        execution = await asyncio.wait_for(hub.orchestrator("served").run(_chain(hub.project("served"))), 120)
        await hub.close()
        return execution.status

    try:
        assert server.io_loop.run_sync(scenario, timeout=200) == "succeeded"
    finally:
        server.stop()


def _left_running(home: Path, name: str) -> str:
    """An execution of ``name``'s "chain" recorded, by another handle on the store, as run by a process killed since."""
    import subprocess
    import sys

    from deepforge_panel.crdt import Home
    from deepforge_panel.runners import current_runner

    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.kill()
    killed.wait()
    stored = Project.open(Home(home).open(name))
    if not stored.pipelines.ids():
        _chain(stored)
    pipeline = stored.pipelines.find("chain")
    runner = f"{current_runner().split(':')[0]}:{killed.pid}:1"
    execution_id, _ = stored.executions.create(pipeline, "c0", {n: {} for n in pipeline.nodes}, "ada", runner=runner)
    stored.close()
    return execution_id


def test_executions_whose_runner_was_killed_are_settled_on_open_and_while_open(tmp_path: Path) -> None:
    """A server killed with -9 leaves its execution running: the next server settles it when it opens the
    project; a CLI run killed with -9 while a server has the project open is settled at the next pull."""
    workspace = Workspace(tmp_path / "home", examples=False)
    workspace.create("left").close()
    before = _left_running(tmp_path / "home", "left")
    hub = ProjectHub(workspace)
    project = hub.project("left")
    execution = project.executions.get(before)
    assert execution.status == "failed" and "stopped before it ended" in execution.error
    assert {job.status for job in execution.jobs.values()} == {"cancelled"}

    during = _left_running(tmp_path / "home", "left")
    hub.pull()
    assert project.executions.get(during).status == "failed"
    asyncio.run(hub.close())
