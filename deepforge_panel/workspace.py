"""The projects in a home folder, opened as :class:`Project` views with their compute and storage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.crdt import Entry, Home
from deepforge_panel.examples import EXAMPLES
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project, ReadOnlyError

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import ComputeAdapter

_INITIALIZED = ".initialized"


class Workspace:
    """A home folder of projects (default ``~/.deepforge-panel``, or ``$DEEPFORGE_PANEL_HOME``)."""

    def __init__(self, home: str | Path | None = None, *, examples: bool = True) -> None:
        self.home = Home(home)
        if examples:
            self.ensure_examples()

    @property
    def path(self) -> Path:
        return self.home.path

    def ensure_examples(self) -> None:
        """Create the example projects on first start only, so a deleted example stays deleted."""
        marker = self.home.path / _INITIALIZED
        if marker.exists():
            return
        for name, build in EXAMPLES.items():
            if not self.home.exists(name):
                project = self.create(name)
                build(project)
                project.close()
        marker.write_text("examples created\n")

    def projects(self) -> list[Entry]:
        return self.home.entries()

    def create(self, name: str) -> Project:
        store = self.home.create(name)
        project = Project.open(store)
        with project.transaction():
            project.meta["name"] = name
        return project

    def open(self, name: str, branch: str = "main") -> Project:
        """The project ``name`` on ``branch``; executions left running by a process that is gone are settled as
        failed at once."""
        store = self.home.open(name)
        try:
            project = Project.open(store, branch)
        except Exception:
            store.close()
            raise
        project.executions.recover()
        return project

    def project_dir(self, project: Project) -> Path:
        """The folder of ``project``'s store, where its jobs and local artifacts live."""
        if project.store is None:
            raise ReadOnlyError(f"project {project.name!r} is a detached version: it has no folder to run in")
        return project.store.path.parent

    def orchestrator(
        self,
        project: Project,
        compute: str | ComputeAdapter = "local",
        storage_url: str | None = None,
        compute_options: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> Orchestrator:
        """An orchestrator for ``project`` on ``compute`` (an adapter, or the name of a new one configured with
        ``compute_options``); artifacts default to ``<project>/artifacts`` on local disk."""
        from deepforge_panel.adapters.compute import compute as make_compute
        from deepforge_panel.adapters.storage import storage as make_storage

        folder = self.project_dir(project)
        url = storage_url or (folder / "artifacts").resolve().as_uri()
        adapter = make_compute(compute, **(compute_options or {})) if isinstance(compute, str) else compute
        orchestrator = Orchestrator(project, adapter, make_storage(url, **(storage_options or {})), folder / "jobs")
        orchestrator.recover()
        return orchestrator
