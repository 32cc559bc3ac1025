"""Notebooks: ordered cells of shared code text (design), and what each cell's last run printed (records).

A notebook record is ``{name, adapter, auto_run, order: Array of cell ids, cells: {id: {kind, code: Text}}}``.
``order`` is read leniently because concurrent edits by peers can leave it with duplicates, ids of
removed cells, or cells it does not list. Outputs live in the ``notebook_outputs`` records root, keyed
by cell id, so a restore or an undo never takes away what a run printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NewType

from pycrdt import Array, Map, Text

from deepforge_panel.crdt import as_int, dumps, loads, new_id, splice_text
from deepforge_panel.errors import NotFound, ProjectError
from deepforge_panel.names import check_name
from deepforge_panel.views import RootView

__all__ = [
    "CELL_KINDS",
    "OUTPUTS_ROOT",
    "OUTPUT_LIMIT",
    "RUN_STATUSES",
    "Cell",
    "CellId",
    "CellRun",
    "Notebook",
    "NotebookError",
    "NotebookId",
    "NotebooksView",
]

NotebookId = NewType("NotebookId", str)
CellId = NewType("CellId", str)

CELL_KINDS: Final = ("code", "markdown")
RUN_STATUSES: Final = ("idle", "queued", "running", "done", "error", "interrupted")
"""A cell's run status: ``idle`` is never run."""
OUTPUT_TYPES: Final = ("stream", "result", "error", "figure", "note", "embedding")
OUTPUTS_ROOT: Final = "notebook_outputs"
OUTPUT_LIMIT: Final = 200_000
"""The most characters of stdout and stderr one cell's run keeps in the document; the rest is counted in a note."""


class NotebookError(ProjectError):
    """A notebook edit refused, naming the notebook or cell at fault; nothing was changed."""


@dataclass(frozen=True)
class Cell:
    id: CellId
    kind: str
    """``code`` or ``markdown``."""
    code: str


@dataclass(frozen=True)
class Notebook:
    id: NotebookId
    name: str
    adapter: str
    """The compute adapter its session runs on (``local`` by default)."""
    auto_run: bool
    """Re-run stale dependents of a cell after it runs, instead of only marking them."""
    cells: list[Cell]
    """In notebook order."""

    def cell(self, cell_id: str) -> Cell:
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise NotFound(f"notebook {self.name!r} has no cell {cell_id!r}", cell_id)


@dataclass(frozen=True)
class CellRun:
    status: str
    """One of :data:`RUN_STATUSES`."""
    count: int | None
    """The session's execution counter when it last ran."""
    code: str
    """The code as it was when last run: differing from the cell's code makes it stale."""
    outputs: list[dict[str, Any]]


def _ordered(order: Iterable[Any], cells: Iterable[str]) -> list[str]:
    """The cell ids in notebook order: first occurrence wins, unknown ids skipped, unlisted cells last by id."""
    present = set(cells)
    seen: list[str] = []
    for item in order:
        if isinstance(item, str) and item in present and item not in seen:
            seen.append(item)
    return seen + sorted(present.difference(seen))


class NotebooksView(RootView[Notebook]):
    """The ``notebooks`` root, and each cell's last run in the ``notebook_outputs`` records root."""

    root = "notebooks"
    kind = "notebook"

    def get(self, notebook_id: str) -> Notebook:
        record = self.record(notebook_id)
        cells = record["cells"]
        return Notebook(
            id=NotebookId(notebook_id),
            name=str(record["name"]),
            adapter=str(record.get("adapter") or "local"),
            auto_run=bool(record.get("auto_run", False)),
            cells=[self._cell(cid, cells[cid]) for cid in self._order(record)],
        )

    @staticmethod
    def _cell(cell_id: str, record: Map) -> Cell:
        code = record.get("code")
        return Cell(CellId(cell_id), str(record.get("kind") or "code"), "" if code is None else str(code))

    @staticmethod
    def _order(record: Map) -> list[str]:
        return _ordered(record["order"], record["cells"].keys())

    def cell(self, notebook_id: str, cell_id: str) -> Cell:
        return self._cell(cell_id, self._cell_record(notebook_id, cell_id))

    def _cell_record(self, notebook_id: str, cell_id: str) -> Map:
        cells = self.record(notebook_id)["cells"]
        if cell_id not in cells:
            name = self.record(notebook_id)["name"]
            raise NotFound(f"notebook {name!r} has no cell {cell_id!r}", cell_id)
        return cells[cell_id]

    # -- notebook edits ------------------------------------------------------------------
    def create(self, name: str, adapter: str = "local", *, cells: Sequence[tuple[str, str]] = ()) -> NotebookId:
        """A new notebook, optionally with ``cells`` as (kind, code), made in one transaction."""
        self._check_free_name(name)
        _check_adapter(adapter)
        for kind, _code in cells:
            _check_kind(kind)
        notebook_id = NotebookId(new_id("nb"))
        cell_ids = [new_id("c") for _ in cells]
        with self.project.transaction():
            self._map[notebook_id] = Map(
                {
                    "name": name,
                    "adapter": adapter,
                    "auto_run": False,
                    "order": Array(cell_ids),
                    "cells": Map(
                        {
                            cid: Map({"kind": kind, "code": Text(code)})
                            for cid, (kind, code) in zip(cell_ids, cells, strict=True)
                        }
                    ),
                }
            )
        return notebook_id

    def _check_free_name(self, name: str, notebook_id: str | None = None) -> None:
        check_name("notebook", name, NotebookError, notebook_id)
        if any(nb.name == name and nb.id != notebook_id for nb in self.all()):
            raise NotebookError(f"a notebook named {name!r} already exists in project {self.project.name!r}", name)

    def rename(self, notebook_id: str, name: str) -> None:
        self.record(notebook_id)
        self._check_free_name(name, notebook_id)
        with self.project.transaction():
            self.record(notebook_id)["name"] = name

    def remove(self, notebook_id: str) -> None:
        """Delete the notebook; its cells' outputs stay in the records (what happened is kept)."""
        self.record(notebook_id)
        with self.project.transaction():
            del self._map[notebook_id]

    def set_adapter(self, notebook_id: str, adapter: str) -> None:
        _check_adapter(adapter)
        record = self.record(notebook_id)
        with self.project.transaction():
            record["adapter"] = adapter

    def set_auto_run(self, notebook_id: str, auto_run: bool) -> None:
        record = self.record(notebook_id)
        with self.project.transaction():
            record["auto_run"] = bool(auto_run)

    # -- cell edits ------------------------------------------------------------------------
    def add_cell(self, notebook_id: str, kind: str = "code", code: str = "", index: int | None = None) -> CellId:
        """A new cell at ``index`` in notebook order (None, or past the end: last)."""
        _check_kind(kind)
        record = self.record(notebook_id)
        order = self._order(record)
        at = len(order) if index is None else _check_index(index, len(order))
        cell_id = CellId(new_id("c"))
        with self.project.transaction():
            record["cells"][cell_id] = Map({"kind": kind, "code": Text(code)})
            self._place(record, order, cell_id, at)
        return cell_id

    def set_code(self, notebook_id: str, cell_id: str, code: str) -> None:
        """Replace the cell's code by editing only what changed, so a collaborator's concurrent edit survives."""
        if not isinstance(code, str):
            raise NotebookError(f"a cell's code is text, not {type(code).__name__}", cell_id)
        cell = self._cell_record(notebook_id, cell_id)
        with self.project.transaction():
            text = cell.get("code")
            if isinstance(text, Text):
                splice_text(text, code)
            else:
                cell["code"] = Text(code)

    def set_kind(self, notebook_id: str, cell_id: str, kind: str) -> None:
        _check_kind(kind)
        cell = self._cell_record(notebook_id, cell_id)
        with self.project.transaction():
            cell["kind"] = kind

    def move_cell(self, notebook_id: str, cell_id: str, index: int) -> None:
        """Put the cell at ``index`` in notebook order (past the end: last)."""
        self._cell_record(notebook_id, cell_id)
        record = self.record(notebook_id)
        order = self._order(record)
        at = _check_index(index, len(order) - 1)
        if order.index(cell_id) == at:
            return
        with self.project.transaction():
            order_array = record["order"]
            for i in reversed([i for i, item in enumerate(order_array) if item == cell_id]):
                del order_array[i]
            self._place(record, [c for c in order if c != cell_id], cell_id, at)

    def remove_cell(self, notebook_id: str, cell_id: str) -> None:
        """Delete the cell; its outputs stay in the records."""
        self._cell_record(notebook_id, cell_id)
        record = self.record(notebook_id)
        with self.project.transaction():
            order_array = record["order"]
            for i in reversed([i for i, item in enumerate(order_array) if item == cell_id]):
                del order_array[i]
            del record["cells"][cell_id]

    @staticmethod
    def _place(record: Map, order: list[str], cell_id: str, at: int) -> None:
        """Insert ``cell_id`` into ``record``'s order array so it lands at ``at`` of ``order`` (which lacks it).

        When the array is exactly ``order`` one item is inserted, so concurrent inserts elsewhere are
        kept; when concurrent edits left it irregular, it is rewritten in full.
        """
        order_array: Array = record["order"]
        if list(order_array) == order:
            order_array.insert(at, cell_id)
            return
        target = [*order[:at], cell_id, *order[at:]]
        del order_array[0 : len(order_array)]
        order_array.extend(target)

    # -- outputs (records) -----------------------------------------------------------------
    @property
    def _outputs(self) -> Map:
        return self.project.map(OUTPUTS_ROOT)

    def run_of(self, cell_id: str) -> CellRun:
        """The cell's last run; ``idle`` with no outputs if it never ran."""
        record = self._outputs.get(cell_id)
        if not isinstance(record, Map):
            return CellRun("idle", None, "", [])
        count = record.get("count")
        return CellRun(
            status=str(record.get("status") or "idle"),
            count=None if count is None else as_int(count),
            code=str(record.get("code") or ""),
            outputs=[_read_output(item) for item in record.get("outputs") or ()],
        )

    def _run_record(self, cell_id: str) -> Map:
        record = self._outputs.get(cell_id)
        if isinstance(record, Map):
            return record
        record = Map({"status": "idle", "count": None, "code": "", "outputs": Array(), "kept": 0, "truncation": None})
        self._outputs[cell_id] = record
        return self._outputs[cell_id]

    def start_run(self, cell_id: str, code: str, count: int | None) -> None:
        """The cell starts running ``code`` as execution ``count``: its old outputs are cleared."""
        with self.project.transaction():
            self._outputs[cell_id] = Map(
                {
                    "status": "running",
                    "count": count,
                    "code": code,
                    "outputs": Array(),
                    "kept": 0,
                    "truncation": None,
                }
            )

    def set_status(self, cell_id: str, status: str) -> None:
        if status not in RUN_STATUSES:
            raise NotebookError(f"cell status {status!r} is not one of {', '.join(RUN_STATUSES)}", cell_id)
        with self.project.transaction():
            self._run_record(cell_id)["status"] = status

    def append_output(self, cell_id: str, output: dict[str, Any]) -> None:
        """Add one output to the cell's run; stream text joins the previous stream of the same name.

        Past :data:`OUTPUT_LIMIT` characters of stream text, only a count of what was dropped is kept.
        """
        _check_output(output, cell_id)
        with self.project.transaction():
            record = self._run_record(cell_id)
            outputs: Array = record["outputs"]
            if output["type"] != "stream":
                stored = {"html": None, "png": None, **output} if output["type"] == "result" else dict(output)
                if stored["type"] in _AS_JSON:
                    key = _AS_JSON[stored["type"]]
                    stored[key] = dumps(stored[key])
                outputs.append(Map(stored))
                return
            text: str = output["text"]
            if not text:
                return
            kept = as_int(record.get("kept"))
            room = max(OUTPUT_LIMIT - kept, 0)
            keep, dropped = text[:room], len(text) - min(len(text), room)
            if keep:
                last = outputs[len(outputs) - 1] if len(outputs) else None
                if isinstance(last, Map) and last.get("type") == "stream" and last.get("name") == output["name"]:
                    stream: Text = last["text"]
                    stream += keep
                else:
                    outputs.append(Map({"type": "stream", "name": output["name"], "text": Text(keep)}))
                record["kept"] = kept + len(keep)
            if dropped:
                self._count_dropped(record, dropped)

    @staticmethod
    def _count_dropped(record: Map, dropped: int) -> None:
        outputs: Array = record["outputs"]
        at = record.get("truncation")
        if at is None:
            note = Map({"type": "note", "text": _truncated(dropped), "dropped": dropped})
            record["truncation"] = len(outputs)
            outputs.append(note)
            return
        note = outputs[as_int(at)]
        total = as_int(note.get("dropped")) + dropped
        note["dropped"] = total
        note["text"] = _truncated(total)


def _truncated(count: int) -> str:
    return f"output truncated: {count} more characters not kept"


def _read_output(item: Any) -> dict[str, Any]:
    output: dict[str, Any] = dict(item.to_py() or {}) if isinstance(item, Map) else dict(item)
    key = _AS_JSON.get(str(output.get("type")))
    if key is not None and isinstance(output.get(key), str):
        output[key] = loads(output[key])
    if output.get("type") == "note":
        output.pop("dropped", None)
    return output


_AS_JSON: Final = {"figure": "figure", "embedding": "points"}
"""Outputs whose data is kept as one JSON text (one CRDT item, not a tree of thousands)."""

_OUTPUT_FIELDS: Final[dict[str, dict[str, tuple[type, ...]]]] = {
    "stream": {"name": (str,), "text": (str,)},
    "result": {"text": (str,), "html": (str, type(None)), "png": (str, type(None))},
    "error": {"ename": (str,), "evalue": (str,), "traceback": (str,)},
    "figure": {"figure": (dict,)},
    "note": {"text": (str,)},
    "embedding": {"name": (str,), "method": (str,), "points": (dict,)},
}


def _check_output(output: Any, cell_id: str) -> None:
    if not isinstance(output, dict) or output.get("type") not in _OUTPUT_FIELDS:
        kind = output.get("type") if isinstance(output, dict) else type(output).__name__
        raise NotebookError(f"cell {cell_id!r}: an output's type is one of {', '.join(OUTPUT_TYPES)}, not {kind!r}")
    fields = _OUTPUT_FIELDS[output["type"]]
    for key, types in fields.items():
        if key in ("html", "png") and key not in output:
            continue
        if not isinstance(output.get(key), types):
            raise NotebookError(f"cell {cell_id!r}: a {output['type']} output needs {key!r} ({output.get(key)!r})")
    extra = set(output) - set(fields) - {"type"}
    if extra:
        raise NotebookError(f"cell {cell_id!r}: a {output['type']} output has unknown fields {sorted(extra)}")
    if output["type"] == "stream" and output["name"] not in ("stdout", "stderr"):
        raise NotebookError(f"cell {cell_id!r}: a stream is stdout or stderr, not {output['name']!r}")
    if output["type"] in _AS_JSON:
        try:
            dumps(output[_AS_JSON[output["type"]]])
        except (TypeError, ValueError) as exc:
            raise NotebookError(f"cell {cell_id!r}: a {output['type']} must be JSON data: {exc}") from None


def _check_kind(kind: str) -> None:
    if kind not in CELL_KINDS:
        raise NotebookError(f"a cell is {' or '.join(CELL_KINDS)}, not {kind!r}")


def _check_adapter(adapter: str) -> None:
    if not isinstance(adapter, str) or not adapter.strip() or adapter != adapter.strip():
        raise NotebookError(f"a notebook's compute adapter is a name such as 'local' or 'dask', not {adapter!r}")


def _check_index(index: int, last: int) -> int:
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise NotebookError(f"a cell's position is a whole number from 0, not {index!r}")
    return min(index, max(last, 0))
