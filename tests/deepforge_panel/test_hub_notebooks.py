"""The hub keeps one runner (one session) per notebook, on the compute the notebook names."""

from __future__ import annotations

import asyncio
from pathlib import Path

from deepforge_panel.hub import ProjectHub
from deepforge_panel.workspace import Workspace


def test_one_runner_per_notebook_on_its_adapter_replaced_when_the_setting_changes(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "home", examples=False)
    workspace.create("lab").store.close()
    hub = ProjectHub(workspace)

    async def main() -> None:
        project = hub.project("lab")
        notebook = project.notebooks.create("n", cells=[("code", "x = 41\nx + 1")])
        cell = project.notebooks.get(notebook).cells[0].id
        runner = await hub.notebook_runner("lab", notebook)
        assert await hub.notebook_runner("lab", notebook) is runner and runner.adapter_name == "local"
        assert runner.session.adapter is hub.compute, "the hub's own adapter when it is the same kind"
        assert await runner.run_cell(cell) == "done"
        project.notebooks.set_adapter(notebook, "dask")
        moved = await hub.notebook_runner("lab", notebook)
        assert moved is not runner and moved.adapter_name == "dask" and runner.status == "stopped"
        assert await moved.run_cell(cell) == "done"
        assert [o["text"] for o in project.notebooks.run_of(cell).outputs if o["type"] == "result"] == ["42"]
        await hub.close()
        assert moved.status == "stopped"

    asyncio.run(main())
