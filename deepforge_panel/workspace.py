"""The projects in a home folder, opened as :class:`Project` views with their compute and storage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.crdt import Entry, Home
from deepforge_panel.examples import EXAMPLES
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.project import Project, ReadOnlyError
from deepforge_panel.run_settings import ComputeSettings, StorageSettings
from deepforge_panel.secret_store import SecretStore

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import ComputeAdapter
    from deepforge_panel.adapters.storage import StorageAdapter

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

    @property
    def secrets(self) -> SecretStore:
        """The home's secrets (S3 keys), kept out of every project document."""
        return SecretStore(self.path)

    def storage(self, project: Project) -> StorageAdapter:
        """The artifacts' storage as ``project``'s settings choose it, with the keys the secrets file holds."""
        from deepforge_panel.adapters.storage import storage as make_storage

        settings = StorageSettings.of(project)
        return make_storage(settings.url(self.project_dir(project)), **settings.options(self.secrets))

    def orchestrator(
        self,
        project: Project,
        compute: str | ComputeAdapter | None = None,
        storage_url: str | None = None,
        compute_options: dict[str, Any] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> Orchestrator:
        """An orchestrator for ``project`` on ``compute`` (an adapter, or the name of a new one configured with
        ``compute_options``; None: the adapter the project's settings choose), storing artifacts at ``storage_url``
        (None: where the project's settings say, by default ``<project>/artifacts`` on local disk)."""
        from deepforge_panel.adapters.compute import compute as make_compute
        from deepforge_panel.adapters.storage import storage as make_storage

        folder = self.project_dir(project)
        if compute is None:
            settings = ComputeSettings.of(project)
            compute, compute_options = settings.adapter, {**settings.options(), **(compute_options or {})}
        adapter = make_compute(compute, **(compute_options or {})) if isinstance(compute, str) else compute
        store = make_storage(storage_url, **(storage_options or {})) if storage_url else self.storage(project)
        orchestrator = Orchestrator(project, adapter, store, folder / "jobs")
        orchestrator.recover()
        return orchestrator
