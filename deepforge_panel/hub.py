"""The projects a server has open: one live document per project, shared by every browser session."""

from __future__ import annotations

from typing import Any

from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project
from deepforge_panel.workspace import Workspace


class ProjectHub:
    """Opens each project once and hands the same :class:`Project` (and orchestrator) to every session.

    All access happens on the server's event loop thread (DESIGN.md: one thread touches a Doc).
    """

    def __init__(
        self, workspace: Workspace, compute: str = "local", compute_options: dict[str, Any] | None = None
    ) -> None:
        self.workspace = workspace
        self.compute = compute
        self.compute_options = compute_options or {}
        self._projects: dict[str, Project] = {}
        self._orchestrators: dict[str, Orchestrator] = {}

    def project(self, name: str) -> Project:
        entry = self.workspace.home.find(name)
        if entry.id not in self._projects:
            self._projects[entry.id] = self.workspace.open(entry.id)
        project = self._projects[entry.id]
        project.name = entry.name
        return project

    def orchestrator(self, name: str) -> Orchestrator:
        project = self.project(name)
        key = self.workspace.home.find(name).id
        if key not in self._orchestrators:
            self._orchestrators[key] = self.workspace.orchestrator(
                project, compute=self.compute, compute_options=self.compute_options
            )
        return self._orchestrators[key]

    def forget(self, name_or_id: str) -> None:
        """Close a project (before deleting it)."""
        entry = self.workspace.home.find(name_or_id)
        orchestrator = self._orchestrators.pop(entry.id, None)
        if orchestrator is not None:
            for execution_id in orchestrator.running():
                orchestrator.cancel(execution_id)
        project = self._projects.pop(entry.id, None)
        if project is not None and project.store is not None:
            project.store.close()

    def pull(self) -> None:
        """Apply edits other processes (a CLI run) appended to the open projects' logs."""
        for project in self._projects.values():
            if project.store is not None:
                project.store.pull()

    async def close(self) -> None:
        for orchestrator in self._orchestrators.values():
            for execution_id in orchestrator.running():
                orchestrator.cancel(execution_id)
                await orchestrator.wait(execution_id)
            await orchestrator.compute.stop()
        for project in self._projects.values():
            if project.store is not None:
                project.store.close()
        self._projects.clear()
        self._orchestrators.clear()
