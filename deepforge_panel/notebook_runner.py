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
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.adapters.compute import ComputeAdapter
from deepforge_panel.artifacts import unreachable
from deepforge_panel.implicit import IMPLICIT
from deepforge_panel.io_nodes import find_artifact
from deepforge_panel.jobruntime.deepforge.kernel import STORAGE_ENV
from deepforge_panel.jobruntime.deepforge.storage import OPTIONS_ENV
from deepforge_panel.names import check_name
from deepforge_panel.notebook_deps import Analysis, analyze, ancestors, descendants, run_plan
from deepforge_panel.notebook_session import NotebookSession, RunResult
from deepforge_panel.notebooks import Notebook, NotebookError
from deepforge_panel.project import Project

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter

__all__ = ["IMPLICIT", "NotebookRunner"]

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
        storage: StorageAdapter | None = None,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        self.project = project
        self.notebook_id = notebook_id
        self.adapter_name = adapter_name or adapter.name
        """The kind of compute its session runs on ("local", "dask")."""
        self.on_status = on_status
        self._listeners: list[Callable[[str], None]] = []
        self.storage = storage
        """Where cells load artifacts from and save them to (the project's storage); None: no artifacts."""
        env = {STORAGE_ENV: storage.url, OPTIONS_ENV: json.dumps(storage.options)} if storage is not None else {}
        self.session = NotebookSession(
            adapter,
            folder,
            env=env,
            on_status=self._session_status,
            on_request=self._request,
            utilities=project.utilities.modules,
        )
        self._loaded: dict[str, list[dict[str, Any]]] = {}
        """Artifacts each cell loaded when it last ran in this session (its inputs, for provenance)."""
        self._running: str | None = None
        self._counter = itertools.count(self._last_count() + 1)
        self._ran: dict[str, tuple[int, str]] = {}
        """Cells run in this session: cell -> (run count, the code it ran)."""
        self._queue = asyncio.Lock()
        self._extra: str | None = None
        """Code run after a cell as if it were the next one (a selection saved from the explorer)."""

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
            self._loaded.clear()
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
        self._loaded[cell_id] = []
        self._running = cell_id
        try:
            result: RunResult = await self.session.run(cell.code, label=f"{count}", on_output=self._output_of(cell_id))
        finally:
            self._running = None
        status = _STATUS.get(result.status, "error")
        notebooks.set_status(cell_id, status)
        if result.status == "ok":
            self._ran[cell_id] = (count, cell.code)
        else:
            self._ran.pop(cell_id, None)
        return status

    async def save_selection(self, cell_id: str, shown: str, rows: list[int], name: str) -> str:
        """Save the ``rows`` of the data cell ``cell_id`` showed in the explorer as ``shown`` as artifact ``name``,
        in the session (the data is there, not here); its provenance is the cell's chain plus that selection.
        Returns the status of the run; what it says goes under the cell."""
        check_name("artifact", name, NotebookError)
        code = f"artifacts.save(explorer.take({shown!r}, {sorted(set(int(r) for r in rows))!r}), {name!r})"
        async with self._queue:
            if cell_id not in self._ran:
                self.project.notebooks.append_output(
                    cell_id, {"type": "note", "text": "run the cell again first: this session no longer holds its data"}
                )
                return "error"
            self._extra = code
            self._running = cell_id
            try:
                result = await self.session.run(code, label="selection", on_output=self._output_of(cell_id))
            finally:
                self._running, self._extra = None, None
            return _STATUS.get(result.status, "error")

    def _output_of(self, cell_id: str) -> Callable[[dict[str, Any]], None]:
        """What a run's outputs do: go under ``cell_id`` (a saved artifact first recorded with its provenance)."""
        notebooks = self.project.notebooks

        def output(item: dict[str, Any]) -> None:
            if item["type"] == "saved":
                item = self._saved(cell_id, item)
            notebooks.append_output(cell_id, item)

        return output

    # -- artifacts in and out ------------------------------------------------------------------
    def _request(self, request: dict[str, Any]) -> dict[str, Any]:
        """What a cell asked for: where an artifact is (``artifacts.load``), if this workbench can read it."""
        if request.get("op") != "load":
            raise LookupError(f"unknown request {request.get('op')!r}")
        artifact = find_artifact(self.project, str(request.get("name")))  # LookupError saying what there is
        if self.storage is None:
            raise LookupError("this session has no storage to read artifacts from")
        problem = unreachable(artifact, self.storage)
        if problem is not None:
            raise LookupError(problem)
        if self._running is not None:
            self._loaded.setdefault(self._running, []).append(
                {"artifact": artifact.id, "name": artifact.name, "hash": artifact.hash, "url": artifact.url}
            )
        return {"url": artifact.url, "hash": artifact.hash, "type": artifact.type, "name": artifact.name}

    def _saved(self, cell_id: str, saved: dict[str, Any]) -> dict[str, Any]:
        """Record what ``artifacts.save`` stored as an artifact whose provenance is the chain of cells that
        made it (an implicit operation); the note shown under the cell."""
        notebook = self.notebook
        analysis = analyze(notebook.cells)
        chain = [*ancestors(analysis, cell_id), cell_id]
        code: dict[str, str] = {cell.id: cell.code for cell in notebook.cells}
        running = None if self._extra else cell_id  # a selection runs after its cell ran: all as they ran
        ran = {cell: self._ran[cell][1] for cell in chain if cell in self._ran and cell != running}
        provenance = {
            "kind": IMPLICIT,
            "notebook": notebook.name,
            "notebook_id": notebook.id,
            "cell": cell_id,
            "cells": [{"id": c, "code": ran.get(c, code.get(c, ""))} for c in chain]
            + ([{"id": "selection", "code": self._extra}] if self._extra else []),
            "loaded": [item for c in chain for item in self._loaded.get(c, [])],
            "adapter": self.adapter_name,
            "output": saved["name"],
        }
        artifact_id = self.project.artifacts.add(
            saved["name"], saved["datatype"], saved["url"], saved["hash"], saved["size"], provenance
        )
        return {"type": "note", "text": f"saved artifact {saved['name']!r} ({saved['size']} bytes, {artifact_id})"}

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
