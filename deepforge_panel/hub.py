"""The projects a server has open: one live document per project, shared by every browser session."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from deepforge_panel.crdt import CommitId, Entry
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.presence import Presence
from deepforge_panel.project import Project
from deepforge_panel.workspace import Workspace

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import ComputeAdapter
    from deepforge_panel.deepforge_import import ImportReport
    from deepforge_panel.notebook_runner import NotebookRunner
    from deepforge_panel.peering import Peering
    from deepforge_panel.run_settings import ComputeSettings

__all__ = ["ProjectHub"]

_log = logging.getLogger(__name__)


def _server_adapter(name: str, options: dict[str, Any]) -> ComputeAdapter:
    """A new compute adapter for the server: on this machine, the jobs it forks outlive a server that dies, and
    the server started again follows them (``LocalCompute``'s ``reattach``), unless the options say otherwise."""
    from deepforge_panel.adapters.compute import compute as make_compute
    from deepforge_panel.adapters.compute._forkserver import available

    if name == "local" and available() and options.get("fork", True) and "reattach" not in options:
        options = {**options, "reattach": True}
    return make_compute(name, **options)


class ProjectHub:
    """Opens each project once and hands the same :class:`Project` (and orchestrator) to every session.

    Each branch of a project is open on its own (a store of its own on the same file, so its own
    live document) and runs on its own orchestrator; ``branch`` defaults to "main" everywhere.

    The hub owns one compute adapter shared by every project's orchestrator: ``await hub.start()``
    (or ``async with hub:``) starts it (a Dask cluster, say) and ``await hub.close()`` stops it.
    Components reach projects only through the hub's and the project's methods.
    All access happens on the server's event loop thread (DESIGN.md: one thread touches a Doc).
    """

    def __init__(
        self, workspace: Workspace, compute: str = "local", compute_options: dict[str, Any] | None = None
    ) -> None:
        self.workspace = workspace
        self.compute_name = compute
        self.compute: ComputeAdapter = _server_adapter(compute, compute_options or {})
        self._projects: dict[tuple[str, str], Project] = {}
        self._orchestrators: dict[tuple[str, str, str], Orchestrator] = {}
        """By (project id, branch, what it runs on: compute and storage settings); old ones stay while running."""
        self._adapters: dict[str, ComputeAdapter] = {}
        """Adapters the projects' settings chose (by their settings), beside the hub's own."""
        self._presence: dict[tuple[str, str], Presence] = {}
        """Both keyed by (project id, branch)."""
        self._closing: list[Callable[[Project, str], None]] = []
        self._started = False
        self.peering: Peering | None = None
        """The server's peer links (set by the server that composes them; None in a bare hub)."""
        self._runners: dict[tuple[str, str, str], NotebookRunner] = {}
        """(project id, branch, notebook id) -> the notebook's runner (its session)."""
        self._session_adapters: dict[str, ComputeAdapter] = {}
        """Adapters started for notebook sessions whose adapter is not the hub's own (by name)."""

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Start the compute adapter; idempotent."""
        if not self._started:
            await self.compute.start()
            self._started = True

    async def close(self) -> None:
        """Cancel running executions, stop the compute adapter and close every open project."""
        for runner in self._runners.values():
            await runner.shutdown()
        self._runners.clear()
        for adapter in self._session_adapters.values():
            await adapter.stop()
        self._session_adapters.clear()
        for orchestrator in self._orchestrators.values():
            for execution_id in orchestrator.running():
                orchestrator.cancel(execution_id)
                await orchestrator.wait(execution_id)
        for adapter in self._adapters.values():
            await adapter.stop()
        self._adapters.clear()
        await self.compute.stop()
        self._started = False
        for project in self._projects.values():
            self._close(project, "the server is stopping")
        self._projects.clear()
        self._orchestrators.clear()

    async def __aenter__(self) -> ProjectHub:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- projects -------------------------------------------------------------------------
    def projects(self) -> list[Entry]:
        """Every project in the home, with its last change."""
        return self.workspace.projects()

    def project(self, name: str, branch: str = "main") -> Project:
        """The open project named (or with id) ``name`` on ``branch``, opened on first use."""
        entry = self.workspace.home.find(name)
        key = (entry.id, branch)
        if key not in self._projects:
            self._projects[key] = self.workspace.open(entry.id, branch)
            self._projects[key].name = entry.name
            self._adopt(entry.id, branch)
        project = self._projects[key]
        project.name = entry.name
        return project

    def _adopt(self, project_id: str, branch: str) -> None:
        """Follow the executions a workbench that died left with jobs going (see ``Orchestrator.adopt``), each on
        an orchestrator with the adapter that ran them. Only where an event loop runs (the server's)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        project = self._projects[(project_id, branch)]
        adapters = {job.adapter for kept in project.executions.orphans().values() for job in kept.values()}
        for adapter in sorted(adapters):
            try:
                self.orchestrator(project_id, branch, compute=adapter).adopt()
            except Exception:  # noqa: BLE001 - never in the way of opening the project; the log says why
                _log.exception("project %s: the executions left running could not be followed", project.name)

    def presence(self, name: str, branch: str = "main") -> Presence:
        """Who is in project ``name`` on ``branch`` right now (browser sessions and Yjs clients)."""
        key = (self.workspace.home.find(name).id, branch)
        if key not in self._presence:
            self._presence[key] = Presence()
        return self._presence[key]

    def orchestrator(self, name: str, branch: str = "main", compute: str | None = None) -> Orchestrator:
        """The orchestrator of project ``name`` on ``branch``: jobs on the compute adapter its settings choose (the
        hub's own, the server's ``--compute``, while they choose none), artifacts where they say. ``compute``
        ("local" or "dask") overrides the adapter for one run. Settings changed while a run goes on take effect
        for the next run; the running one keeps its orchestrator (so it can still be cancelled)."""
        from deepforge_panel.run_settings import ComputeSettings, StorageSettings

        project = self.project(name, branch)
        chosen = ComputeSettings.of(project) if isinstance(project.meta.get("compute"), str) else None
        if compute is not None and compute != (chosen.adapter if chosen else self.compute_name):
            chosen = ComputeSettings(adapter=compute)  # type: ignore[arg-type]
        adapter = self.compute if chosen is None else self._adapter(chosen)
        signature = f"{chosen!r}|{StorageSettings.of(project)!r}"
        key = (self.workspace.home.find(name).id, branch, signature)
        if key not in self._orchestrators:
            self._orchestrators[key] = self.workspace.orchestrator(project, compute=adapter)
        return self._orchestrators[key]

    def _adapter(self, settings: ComputeSettings) -> ComputeAdapter:
        """The adapter ``settings`` choose: the hub's own when it is that one, else one kept per settings (a Dask
        adapter starts its cluster, or connects, when its first job comes)."""
        if settings.adapter == self.compute_name and not settings.options():
            return self.compute
        key = repr(settings)
        if key not in self._adapters:
            self._adapters[key] = _server_adapter(settings.adapter, settings.options())
        return self._adapters[key]

    def cancel(self, name: str, execution_id: str, branch: str = "main") -> bool:
        """Cancel an execution of the project, whichever of its orchestrators runs it."""
        entry = self.workspace.home.find(name)
        return any(
            orchestrator.cancel(execution_id)
            for key, orchestrator in list(self._orchestrators.items())
            if key[:2] == (entry.id, branch)
        )

    async def notebook_runner(self, name: str, notebook_id: str, branch: str = "main") -> NotebookRunner:
        """The runner of notebook ``notebook_id`` (its one session, shared by every page), on the compute
        adapter the notebook names: the hub's own when it is the same kind, else one started for sessions.
        A notebook whose adapter setting changed gets a new runner (the old session is shut down)."""
        from deepforge_panel.notebook_runner import NotebookRunner

        project = self.project(name, branch)
        wanted = project.notebooks.get(notebook_id).adapter
        key = (self.workspace.home.find(name).id, branch, notebook_id)
        runner = self._runners.get(key)
        if runner is not None and runner.adapter_name != wanted:
            await runner.shutdown()
            runner = None
        if runner is None:
            adapter = await self._session_adapter(wanted)
            folder = self.workspace.project_dir(project) / "sessions" / notebook_id
            storage = self.orchestrator(name, branch).storage
            runner = NotebookRunner(project, notebook_id, adapter, folder, adapter_name=wanted, storage=storage)
            self._runners[key] = runner
        return runner

    def running_notebook(self, name: str, notebook_id: str, branch: str = "main") -> NotebookRunner | None:
        """The notebook's runner if one exists already (another page ran it); never starts anything."""
        runner = self._runners.get((self.workspace.home.find(name).id, branch, notebook_id))
        if runner is None or runner.adapter_name != self.project(name, branch).notebooks.get(notebook_id).adapter:
            return None
        return runner

    async def _session_adapter(self, name: str) -> ComputeAdapter:
        if name == self.compute_name:
            await self.start()
            return self.compute
        if name not in self._session_adapters:
            from deepforge_panel.adapters.compute import compute as make_compute

            adapter = make_compute(name)
            await adapter.start()
            self._session_adapters[name] = adapter
        return self._session_adapters[name]

    def create(self, name: str, author: str = "deepforge-panel") -> None:
        """A new, empty project with a first commit."""
        project = self.workspace.create(name)
        try:
            project.commit("Create project", author=author)
        finally:
            project.close()

    def import_deepforge(self, path: str | Path, name: str | None = None) -> ImportReport:
        """A new project from a DeepForge export (``.webgmex``); what the import did (:mod:`.deepforge_import`)."""
        from deepforge_panel.deepforge_import import import_webgmex

        project, report = import_webgmex(self.workspace, path, name=name)
        project.close()
        return report

    def rename(self, name: str, new_name: str) -> None:
        self.forget(name, f"the project was renamed to {new_name!r}")
        self.workspace.home.rename(name, new_name)

    def fork(self, name: str, new_name: str, author: str = "deepforge-panel") -> CommitId:
        """A new project holding ``name``'s history up to its head (committed first if it has none)."""
        project = self.project(name)
        head = project.head() or project.commit("Fork point", author=author)
        assert project.store is not None
        self.workspace.home.fork(project.store, head, new_name).close()
        return head

    def delete(self, name: str) -> None:
        self.forget(name, "the project was deleted")
        self.workspace.home.delete(name)

    def on_close(self, callback: Callable[[Project, str], None]) -> None:
        """Call ``callback(project, why)`` just before an open project is closed (renamed, deleted, server stopping),
        so what serves its live document (the sync endpoint) can let go of it first."""
        self._closing.append(callback)

    def _close(self, project: Project, why: str) -> None:
        for callback in self._closing:
            callback(project, why)
        project.close()

    def forget(self, name_or_id: str, why: str = "the project was closed") -> None:
        """Close a project (before renaming or deleting it); its running executions are cancelled."""
        entry = self.workspace.home.find(name_or_id)
        for session in [key for key in self._runners if key[0] == entry.id]:
            self._runners.pop(session).session.kill()
        for ran in [key for key in self._orchestrators if key[0] == entry.id]:
            orchestrator = self._orchestrators.pop(ran)
            for execution_id in orchestrator.running():
                orchestrator.cancel(execution_id)
        for key in [key for key in self._projects if key[0] == entry.id]:
            self._close(self._projects.pop(key), why)

    def pull(self) -> None:
        """Apply edits other processes (a CLI run) appended to the open projects' logs, and settle executions
        whose runner has died since (a CLI run killed with -9), so no page shows them running for ever."""
        for (project_id, branch), project in list(self._projects.items()):
            project.pull()
            project.executions.recover()
            self._adopt(project_id, branch)
