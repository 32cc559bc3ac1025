"""Running a notebook: its cells in its session, outputs into the document, dependents kept fresh.

>>> runner = NotebookRunner(project, notebook_id, adapter, folder)
>>> await runner.run_cell(cell_id)      # its stale ancestors first, then the cell; dependents go stale
>>> await runner.run_all()              # top to bottom, stopping at the first cell that fails

A cell is *stale* when the session has not run its current code since the cells it depends on last
ran: never run in this session, its code edited since, or a cell it depends on ran after it. Running
a cell runs its stale ancestors first (in dependency order); afterwards its dependents are stale, and
with the notebook's ``auto_run`` they run at once, as marimo does. Every output goes into the
document as it arrives (``notebook_outputs``), so every page and peer sees it.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

from deepforge_panel.adapters.compute import ComputeAdapter
from deepforge_panel.notebook_deps import Analysis, analyze, descendants, run_plan
from deepforge_panel.notebook_session import NotebookSession, RunResult
from deepforge_panel.notebooks import Notebook
from deepforge_panel.project import Project

__all__ = ["NotebookRunner"]

_STATUS = {"ok": "done", "error": "error", "interrupted": "interrupted", "dead": "error", "stopped": "interrupted"}
"""A session run's end -> the cell's status in the document."""


class NotebookRunner:
    """The session of one notebook of a project, and what has run in it."""

    def __init__(
        self,
        project: Project,
        notebook_id: str,
        adapter: ComputeAdapter,
        folder: Path,
        *,
        adapter_name: str = "",
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.notebook_id = notebook_id
        self.adapter_name = adapter_name or adapter.name
        """The kind of compute its session runs on ("local", "dask")."""
        self.on_status = on_status
        self._listeners: list[Callable[[str], None]] = []
        self.session = NotebookSession(adapter, folder, on_status=self._session_status)
        self._counter = itertools.count(self._last_count() + 1)
        self._ran: dict[str, tuple[int, str]] = {}
        """Cells run in this session: cell -> (run count, the code it ran)."""
        self._queue = asyncio.Lock()

    # -- what the notebook is ------------------------------------------------------------
    @property
    def notebook(self) -> Notebook:
        return self.project.notebooks.get(self.notebook_id)

    def analysis(self) -> Analysis:
        return analyze(self.notebook.cells)

    def stale(self, analysis: Analysis | None = None) -> set[str]:
        """Code cells whose current code has not run in this session since what they depend on ran."""
        analysis = analysis or self.analysis()
        code: dict[str, str] = {cell.id: cell.code for cell in self.notebook.cells if cell.kind == "code"}
        stale: set[str] = set()
        for cell in analysis.order:  # notebook order: parents above are settled first
            if cell not in code:
                continue
            ran = self._ran.get(cell)
            if ran is None or ran[1] != code[cell]:
                stale.add(cell)
                continue
            for parent in analysis.parents.get(cell, []):
                if parent in stale or self._ran.get(parent, (0, ""))[0] > ran[0]:
                    stale.add(cell)
                    break
        return stale

    def _last_count(self) -> int:
        counts = [self.project.notebooks.run_of(cell.id).count for cell in self.notebook.cells]
        return max((c for c in counts if c is not None), default=0)

    def on_session_status(self, callback: Callable[[str], None]) -> Callable[[], None]:
        """Call ``callback(status)`` whenever the session's status changes; returns the unsubscribe."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def _session_status(self, status: str) -> None:
        if status in ("dead", "stopped"):
            self._ran.clear()  # the variables are gone: everything is stale
        for listener in [self.on_status, *self._listeners]:
            if listener is not None:
                listener(status)

    # -- running --------------------------------------------------------------------------
    async def run_cell(self, cell_id: str) -> str:
        """Run ``cell_id`` after its stale ancestors; returns the status of the last cell run.

        Stops at the first cell that does not end well. With ``auto_run``, the cells depending on it
        run afterwards (those in dependency order); otherwise they are left stale.
        """
        async with self._queue:
            analysis = self.analysis()
            if cell_id in analysis.errors:
                return await self._one(cell_id)
            plan = run_plan(analysis, cell_id, self.stale(analysis))
            status = await self._sequence(plan)
            if status == "done" and self.notebook.auto_run:
                analysis = self.analysis()
                dependents = [c for c in descendants(analysis, cell_id) if c in self.stale(analysis)]
                status = await self._sequence(dependents) if dependents else status
            return status

    async def run_all(self, on_done: Callable[[str, str], None] | None = None) -> list[tuple[str, str]]:
        """Every code cell, top to bottom, until one fails; (cell, status) of those run, each also given to
        ``on_done`` as it ends."""
        async with self._queue:
            done: list[tuple[str, str]] = []
            for cell in self.notebook.cells:
                if cell.kind != "code":
                    continue
                status = await self._one(cell.id)
                done.append((cell.id, status))
                if on_done is not None:
                    on_done(cell.id, status)
                if status != "done":
                    break
            return done

    async def _sequence(self, cells: list[str]) -> str:
        status = "done"
        for cell in cells:
            status = await self._one(cell)
            if status != "done":
                break
        return status

    async def _one(self, cell_id: str) -> str:
        cell = self.project.notebooks.cell(self.notebook_id, cell_id)
        count = next(self._counter)
        notebooks = self.project.notebooks
        notebooks.start_run(cell_id, cell.code, count)
        label = f"{count}"
        result: RunResult = await self.session.run(
            cell.code, label=label, on_output=lambda output: notebooks.append_output(cell_id, output)
        )
        status = _STATUS.get(result.status, "error")
        notebooks.set_status(cell_id, status)
        if result.status == "ok":
            self._ran[cell_id] = (count, cell.code)
        else:
            self._ran.pop(cell_id, None)
        return status

    # -- the session -----------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.session.status

    def interrupt(self) -> None:
        self.session.interrupt()

    async def restart(self) -> None:
        await self.session.restart()

    async def shutdown(self) -> None:
        await self.session.shutdown()
