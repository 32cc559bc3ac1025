"""The Notebooks tab: a notebook's cells as code editors with their outputs, its session's status and controls.

Everything shown is read from the document (the ``notebooks`` root and the ``notebook_outputs`` records)
and from the notebook's one runner (its session status and which cells are stale). Each cell keeps its
widgets while it exists, and a refresh changes only what differs, so typing in one cell is not
disturbed by outputs streaming into another.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final

import panel as pn
import param
from markdown_it import MarkdownIt
from panel.custom import JSComponent

from deepforge_panel.components.base import ProjectComponent, notify
from deepforge_panel.components.markup import html_text
from deepforge_panel.components.notebook_outputs import CellOutputs, render_output
from deepforge_panel.components.session import Session
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.names import python_name
from deepforge_panel.notebook_deps import Analysis, analyze
from deepforge_panel.notebook_runner import NotebookRunner
from deepforge_panel.notebook_session import SessionDead
from deepforge_panel.notebooks import OUTPUTS_ROOT, Cell, CellRun, Notebook

__all__ = ["CellKeys", "CellView", "NotebookEditor", "render_markdown", "render_output"]

ADAPTERS: Final = ("local", "dask")
STATUS_COLORS: Final = {
    "starting": "#f0ad4e",
    "idle": "#2e9e4f",
    "busy": "#3f6cb5",
    "dead": "#dc3545",
    "stopped": "#8a8f96",
    "no session": "#8a8f96",
}
RUN_ERRORS: Final[tuple[type[Exception], ...]] = (*USER_ERRORS, SessionDead, LookupError, OSError, TimeoutError)
"""What running a cell can refuse with: told to the user, never a traceback."""
_WHERE: Final = re.compile(r"line (\d+)(?:, column (\d+))?: (.*)", re.DOTALL)
_MARKDOWN: Final = MarkdownIt("commonmark", {"html": False}).enable("table")
_CSS: Final = """
.df-cell-info { font-size: 12px; display: flex; gap: 8px; align-items: center; white-space: nowrap; }
.df-count { font-family: monospace; opacity: 0.75; }
.df-badge { padding: 1px 6px; border-radius: 8px; font-size: 11px; }
.df-stale { background: #f0ad4e; color: #2b2b2b; }
.df-warn { color: #c77700; font-size: 12px; margin: 0 0 2px 0; }
.df-syntax { color: #e0475a; font-size: 12px; margin: 0 0 2px 0; }
.df-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.df-markdown { padding: 0 8px; line-height: 1.45; }
.df-markdown h1 { font-size: 1.5em; margin: 0.3em 0; }
.df-markdown h2 { font-size: 1.3em; margin: 0.3em 0; }
.df-markdown h3, .df-markdown h4 { font-size: 1.1em; margin: 0.3em 0; }
.df-markdown p { margin: 0.3em 0; }
"""
_CELL_CSS: Final = """
:host { border-left: 3px solid rgba(127, 127, 127, 0.25); padding-left: 4px; margin-bottom: 6px; }
:host(:focus-within) { border-left-color: #3f6cb5; }
"""


def render_markdown(text: str) -> str:
    """A markdown cell as HTML; raw HTML in it is shown as text, never run."""
    return _MARKDOWN.render(text)


class CellKeys(JSComponent):
    """Shift+Enter (run, then the next cell) and Ctrl+Enter (run in place) inside a cell's editor.

    Caught on the window before the page's own shortcuts (Ctrl+Enter there runs the pipeline) and
    before the editor, which would insert a line; the cell is found on the event's composed path by its
    ``df-cell-<id>`` class. Python answers ``{"focus": id}`` to put the caret into another cell.
    """

    _esm = """
    const cellOf = (path) => {
      for (const e of path) {
        if (!(e instanceof HTMLElement)) continue
        const found = [...e.classList].find((c) => c.startsWith("df-cell-"))
        if (found) return found.slice(8)
      }
      return null
    }
    const find = (root, cls) => {
      const hit = root.querySelector("." + cls)
      if (hit) return hit
      for (const e of root.querySelectorAll("*")) {
        const inner = e.shadowRoot && find(e.shadowRoot, cls)
        if (inner) return inner
      }
      return null
    }
    export function render({ model }) {
      const handler = (event) => {
        if (event.key !== "Enter" || event.altKey) return
        const ctrl = event.ctrlKey || event.metaKey
        if (ctrl === event.shiftKey) return
        const cell = cellOf(event.composedPath())
        if (cell === null) return
        event.preventDefault()
        event.stopImmediatePropagation()
        model.send_msg({ action: event.shiftKey ? "next" : "here", cell })
      }
      window.addEventListener("keydown", handler, true)
      model.on("msg:custom", (msg) => {
        const until = Date.now() + 3000
        const focus = () => {
          const host = find(document, "df-cell-" + msg.focus)
          const input = host && find(host.shadowRoot || host, "ace_text-input")
          if (input) { input.focus(); host.scrollIntoView({ block: "nearest" }) }
          else if (Date.now() < until) setTimeout(focus, 50)
        }
        focus()
      })
      model.on("remove", () => window.removeEventListener("keydown", handler, true))
      const el = document.createElement("span")
      el.className = "df-cell-keys"
      return el
    }
    """

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.action: Callable[[str, str], Awaitable[None]] | None = None

    def _handle_msg(self, msg: Any) -> None:
        if isinstance(msg, dict) and self.action is not None:
            param.parameterized.async_executor(
                functools.partial(self.action, str(msg.get("action")), str(msg.get("cell")))
            )

    def focus(self, cell_id: str) -> None:
        self._send_msg({"focus": cell_id})


class CellView:
    """The widgets of one cell, kept while the cell exists; :meth:`update` changes only what differs."""

    def __init__(self, editor: NotebookEditor, cell: Cell) -> None:
        self.id = cell.id
        button = {"color": editor.plain, "margin": (0, 2), "height": 28}
        self.run = pn.widgets.Button(label="▶ Run", **button, width=64, description="Run (Shift+Enter / Ctrl+Enter)")
        self.up = pn.widgets.Button(label="↑", **button, width=32, description="Move up")
        self.down = pn.widgets.Button(label="↓", **button, width=32, description="Move down")
        self.delete = pn.widgets.Button(label="✕", **button, width=32, description="Delete the cell")
        self.toggle = pn.widgets.Button(label="", **button, width=110)
        self.add_code = pn.widgets.Button(label="+ code", **button, width=64, description="Add a code cell below")
        self.add_markdown = pn.widgets.Button(
            label="+ markdown", **button, width=92, description="Add a markdown cell below"
        )

        async def run(_event: object) -> None:
            await editor.run_cell(self.id)

        self.run.on_click(run)
        self.up.on_click(lambda _e: editor.move(self.id, -1))
        self.down.on_click(lambda _e: editor.move(self.id, 1))
        self.delete.on_click(lambda _e: editor.delete(self.id))
        self.toggle.on_click(lambda _e: editor.toggle_kind(self.id))
        self.add_code.on_click(lambda _e: editor.add_cell("code", after=self.id))
        self.add_markdown.on_click(lambda _e: editor.add_cell("markdown", after=self.id))
        self.info = pn.pane.HTML("", margin=(4, 8), stylesheets=[_CSS])
        self.warning = pn.pane.HTML("", visible=False, margin=(0, 8), stylesheets=[_CSS])
        self.editor = pn.widgets.CodeEditor(
            value=cell.code, language="python", sizing_mode="stretch_width", height=60, margin=(2, 5)
        )
        self.editor.param.watch(lambda event: editor.edited(self.id, event.new), "value")
        self.markdown = pn.pane.HTML("", visible=False, sizing_mode="stretch_width", stylesheets=[_CSS])
        self.outputs = CellOutputs(functools.partial(editor.save_selection, cell.id))
        bar = pn.Row(
            self.run, self.info, pn.layout.HSpacer(), self.up, self.down, self.toggle, self.add_code,
            self.add_markdown, self.delete, sizing_mode="stretch_width", margin=(0, 5),
        )  # fmt: skip
        self.panel = pn.Column(
            bar,
            self.warning,
            self.editor,
            self.markdown,
            self.outputs.column,
            sizing_mode="stretch_width",
            css_classes=["df-cell", f"df-cell-{cell.id}"],
            stylesheets=[_CELL_CSS],
        )

    def update(self, cell: Cell, run: CellRun, stale: bool, warnings: list[str], error: str | None) -> None:
        code_cell = cell.kind == "code"
        if self.editor.value != cell.code:
            self.editor.value = cell.code
        lines = cell.code.count("\n") + 1
        height = min(max(lines, 2) * 16 + 20, 480)
        language = "python" if code_cell else "markdown"
        if (self.editor.height, self.editor.language) != (height, language):
            self.editor.param.update(height=height, language=language)
        self.toggle.label = "→ markdown" if code_cell else "→ code"
        self.run.visible = code_cell
        self.markdown.param.update(
            object=f"<div class='df-markdown'>{render_markdown(cell.code)}</div>" if not code_cell else "",
            visible=not code_cell and bool(cell.code),
        )
        _set(self.info, self._info(cell, run, stale))
        notes = [f"<div class='df-warn'>⚠ {html_text(w)}</div>" for w in warnings]
        if error:
            notes.append(f"<div class='df-syntax'>Syntax error: {html_text(error)}</div>")
        self.warning.param.update(object="".join(notes), visible=bool(notes))
        annotations = _annotations(error)
        if self.editor.annotations != annotations:
            self.editor.annotations = annotations
        self.outputs.show(run.outputs if code_cell else [])

    @staticmethod
    def _info(cell: Cell, run: CellRun, stale: bool) -> str:
        if cell.kind != "code":
            return "<div class='df-cell-info'><span class='df-count'>markdown</span></div>"
        count = "[ ]" if run.count is None else f"[{run.count}]"
        parts = [f"<span class='df-count'>{count}</span>", f"<span class='df-status'>{html_text(run.status)}</span>"]
        if stale:
            parts.append(
                "<span class='df-badge df-stale' title='its code or what it uses changed since it ran'>stale</span>"
            )
        return f"<div class='df-cell-info'>{''.join(parts)}</div>"


def _annotations(error: str | None) -> list[dict[str, Any]]:
    """A syntax error ("line 2, column 5: ...") marked at its place in the editor."""
    found = _WHERE.match(error or "")
    if found is None:
        return []
    line, column, message = found.groups()
    return [{"row": int(line) - 1, "column": max(int(column or 1) - 1, 0), "text": message, "type": "error"}]


def _plain() -> str:
    """The quiet buttons' color: light grey on a light page; the theme's own on a dark one (white glares)."""
    return "default" if pn.config.theme == "dark" else "light"


def _set(pane: pn.pane.HTML, html: str) -> None:
    if pane.object != html:
        pane.object = html


class NotebookEditor(ProjectComponent):
    """Pick or create a notebook, edit and run its cells, and drive its session (one per notebook, shared)."""

    session = param.ClassSelector(class_=Session, default=None, allow_None=True, doc="This tab's session (its hub).")
    notebook = param.String(default=None, allow_None=True, doc="Id of the notebook shown.")
    tab = param.String(
        default="Notebooks",
        doc="The workbench tab showing this editor: its cells are first built when that tab comes to the front.",
    )
    roots = ("notebooks", OUTPUTS_ROOT, "artifacts")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.plain = _plain()
        """The quiet buttons' color for this page's theme (a later callback may not see the session's config)."""
        self.runner: NotebookRunner | None = None
        """The shown notebook's runner, once this tab ran something or drove its session."""
        self._unwatch_status: Callable[[], None] | None = None
        self.views: dict[str, CellView] = {}
        self.picker = pn.widgets.Select(label="Notebook", options={}, width=220)
        self.new_name = pn.widgets.TextInput(label="New notebook", placeholder="new notebook name", width=180)
        self.new_button = pn.widgets.Button(label="New notebook", color="primary", margin=(23, 5, 5, 5))
        self.adapter = pn.widgets.Select(label="Compute", options=list(ADAPTERS), width=110)
        self.auto_run = pn.widgets.Checkbox(
            label="auto-run dependents", margin=(30, 10, 5, 10), css_classes=["df-auto-run"]
        )
        self.status = pn.pane.HTML("", margin=(28, 10, 5, 10), stylesheets=[_CSS], css_classes=["df-session-status"])
        small = {"color": self.plain, "margin": (23, 3, 5, 3)}
        self.run_all_button = pn.widgets.Button(label="▶▶ Run all", **small | {"color": "primary"})
        self.interrupt_button = pn.widgets.Button(label="■ Interrupt", **small)
        self.restart_button = pn.widgets.Button(label="↻ Restart", **small)
        self.shutdown_button = pn.widgets.Button(label="Shut down", **small)
        self.artifact_pick = pn.widgets.Select(label="Artifact", options=[], width=220)
        self.load_button = pn.widgets.Button(
            label="Load in a cell", **small, description="A new cell at the end loads the artifact into the session"
        )
        self.explore_button = pn.widgets.Button(
            label="Explore in a cell", **small, description="A new cell loads the artifact and shows its embedding"
        )
        self.add_code_button = pn.widgets.Button(label="+ code", color=self.plain)
        self.add_markdown_button = pn.widgets.Button(label="+ markdown", color=self.plain)
        self.hint = pn.pane.Markdown("", margin=(0, 10))
        self.cells = pn.Column(sizing_mode="stretch_width")
        self.keys = CellKeys(width=0, height=0, margin=0)
        self.keys.action = self.on_key
        self._seen = self.session is None or self.session.tab == self.tab
        """Whether this tab was in front yet: a page not showing notebooks does not build their cells."""
        if self.session is not None and not self._seen:
            self.session.param.watch(self._tab_shown, "tab")
        self._attaching: asyncio.Task[NotebookRunner | None] | None = None

        self.picker.param.watch(lambda e: setattr(self, "notebook", e.new), "value")
        self.new_button.on_click(lambda _e: self.create(self.new_name.value))
        self.new_name.param.watch(lambda _e: self.create(self.new_name.value), "enter_pressed")
        self.adapter.param.watch(self._adapter_chosen, "value")
        self.auto_run.param.watch(self._auto_run_chosen, "value")
        for button, action in (
            (self.run_all_button, self.run_all),
            (self.interrupt_button, self.interrupt),
            (self.restart_button, self.restart),
            (self.shutdown_button, self.shutdown),
        ):
            button.on_click(_clicked(action))
        self.add_code_button.on_click(lambda _e: self.add_cell("code"))
        self.load_button.on_click(_clicked(lambda: self.use_artifact(self.artifact_pick.value)))
        self.explore_button.on_click(_clicked(lambda: self.use_artifact(self.artifact_pick.value, explore=True)))
        self.add_markdown_button.on_click(lambda _e: self.add_cell("markdown"))
        self.controls = pn.Row(
            self.adapter, self.auto_run, self.status, self.run_all_button, self.interrupt_button,
            self.restart_button, self.shutdown_button, pn.layout.HSpacer(), self.artifact_pick, self.load_button,
            self.explore_button, sizing_mode="stretch_width",
        )  # fmt: skip
        self.refresh()
        self._attach_soon()

    # -- rendering ------------------------------------------------------------------------
    @param.depends("notebook", watch=True)
    def _notebook_chosen(self) -> None:
        self._detach()
        self.refresh()
        self._attach_soon()

    def _attach_soon(self) -> None:
        """Show the notebook's session (and what is stale in it) from the start, when that starts nothing
        new: its compute is the hub's own, or another page already started it. Otherwise (a notebook on other
        compute, never run) it is attached when first run."""
        if self.notebook is None or self.session is None:
            return
        if self.project.notebooks.get(self.notebook).adapter != self.session.hub.compute_name:
            running = self.session.hub.running_notebook(
                self.project.name, self.notebook, self.project.branch_name or "main"
            )
            if running is not None:  # another page started its session: show it
                self._adopt(running)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no server loop (a script or a test): attached on first use
        self._attaching = loop.create_task(self._attach())

    def _tab_shown(self, event: param.parameterized.Event) -> None:
        if event.new == self.tab and not self._seen:
            self._seen = True
            self.refresh()

    def refresh(self) -> None:
        notebooks = self.project.notebooks
        listed = sorted(notebooks.all(), key=lambda nb: nb.name.lower())
        options = {nb.name: nb.id for nb in listed}
        if self.picker.options != options:
            self.picker.options = options
        if self.notebook not in options.values():
            self.notebook = listed[0].id if listed else None  # refreshes again through _notebook_chosen
            if listed:
                return
        if self.picker.value != self.notebook:
            self.picker.value = self.notebook
        shown = self.notebook is not None
        for widget in (self.controls, self.cells, self.add_code_button, self.add_markdown_button):
            widget.visible = shown
        self.hint.object = "" if shown else "*No notebook yet: name one and press **New notebook**.*"
        self._show_status()
        names = self.project.artifacts.names()
        if self.artifact_pick.options != names:
            self.artifact_pick.options = names
        self.load_button.disabled = self.explore_button.disabled = not names
        if self.notebook is None:
            self._show_cells(None)
            return
        notebook = notebooks.get(self.notebook)
        adapters = list(dict.fromkeys([*ADAPTERS, notebook.adapter]))
        if self.adapter.options != adapters:
            self.adapter.options = adapters
        self.adapter.value = notebook.adapter
        self.auto_run.value = notebook.auto_run
        if self._seen:
            self._show_cells(notebook)

    def _show_cells(self, notebook: Notebook | None) -> None:
        cells = notebook.cells if notebook is not None else []
        runner = self.runner
        analysis = runner.analysis() if runner is not None else analyze(cells)
        runs: dict[str, CellRun] = {cell.id: self.project.notebooks.run_of(cell.id) for cell in cells}
        stale = runner.stale(analysis) if runner is not None else _stale_without_session(cells, runs)
        position: dict[str, int] = {cell.id: i + 1 for i, cell in enumerate(cells)}
        for cell in cells:
            view = self.views.get(cell.id)
            if view is None:
                view = self.views[cell.id] = CellView(self, cell)
            view.update(
                cell,
                runs[cell.id],
                cell.id in stale,
                _duplicates(analysis, cell.id, position),
                analysis.errors.get(cell.id),
            )
        for gone in set(self.views) - set(position):
            del self.views[gone]
        panels = [self.views[cell.id].panel for cell in cells]
        if list(self.cells.objects) != panels:
            self.cells.objects = panels

    def _show_status(self) -> None:
        status = self.runner.status if self.runner is not None else "no session"
        color = STATUS_COLORS.get(status, "#8a8f96")
        _set(self.status, f"<span class='df-dot' style='background:{color}'></span><span>{html_text(status)}</span>")

    def __panel__(self) -> pn.viewable.Viewable:
        header = pn.Row(self.picker, self.new_name, self.new_button, sizing_mode="stretch_width")
        adders = pn.Row(self.add_code_button, self.add_markdown_button)
        return pn.Column(self.keys, header, self.controls, self.hint, self.cells, adders, sizing_mode="stretch_width")

    # -- edits ---------------------------------------------------------------------------
    def _report(self, text: str, level: str = "error") -> None:
        if self.session is not None:
            self.session.message = text
        notify(text, level)

    def create(self, name: str) -> None:
        try:
            notebook_id = self.project.notebooks.create(name.strip(), cells=[("code", "")])
        except USER_ERRORS as exc:
            self._report(str(exc))
            return
        self.new_name.value = ""
        self.notebook = notebook_id

    def edited(self, cell_id: str, code: str | None) -> None:
        if self.notebook is None or code is None or cell_id not in self.views:
            return
        try:
            if code != self.project.notebooks.cell(self.notebook, cell_id).code:
                self.project.notebooks.set_code(self.notebook, cell_id, code)
        except USER_ERRORS as exc:
            self._report(str(exc))

    def _edit(self, change: Callable[[str], object]) -> object:
        if self.notebook is None:
            return None
        try:
            return change(self.notebook)
        except USER_ERRORS as exc:
            self._report(str(exc))
            return None

    def add_cell(self, kind: str, after: str | None = None) -> str | None:
        """A new cell below ``after`` (None: at the end); its id."""

        def add(notebook_id: str) -> str:
            ids = [cell.id for cell in self.project.notebooks.get(notebook_id).cells]
            index = ids.index(after) + 1 if after in ids else None
            return self.project.notebooks.add_cell(notebook_id, kind, index=index)

        added = self._edit(add)
        return added if isinstance(added, str) else None

    async def use_artifact(self, name: str | None, *, explore: bool = False) -> str | None:
        """A new cell at the end that loads artifact ``name`` into the session (and, to ``explore``, shows its
        embedding in the explorer), run at once; the cell's id."""
        if not name or self.notebook is None:
            return None
        analysis = analyze(self.project.notebooks.get(self.notebook).cells)
        variable = python_name(name, {n for names in analysis.defines.values() for n in names})
        code = f"{variable} = artifacts.load({name!r})"
        code += f"\nexplorer.show({variable}, name={name!r})" if explore else f"\n{variable}"
        added = self._edit(lambda notebook_id: self.project.notebooks.add_cell(notebook_id, "code", code))
        if not isinstance(added, str):
            return None
        await self.run_cell(added)
        return added

    def move(self, cell_id: str, delta: int) -> None:
        def move(notebook_id: str) -> None:
            ids = [cell.id for cell in self.project.notebooks.get(notebook_id).cells]
            self.project.notebooks.move_cell(notebook_id, cell_id, max(ids.index(cell_id) + delta, 0))

        self._edit(move)

    def delete(self, cell_id: str) -> None:
        self._edit(lambda notebook_id: self.project.notebooks.remove_cell(notebook_id, cell_id))

    def toggle_kind(self, cell_id: str) -> None:
        def toggle(notebook_id: str) -> None:
            kind = self.project.notebooks.cell(notebook_id, cell_id).kind
            self.project.notebooks.set_kind(notebook_id, cell_id, "markdown" if kind == "code" else "code")

        self._edit(toggle)

    def _adapter_chosen(self, event: param.parameterized.Event) -> None:
        if self.notebook and event.new and event.new != self.project.notebooks.get(self.notebook).adapter:
            self._edit(lambda notebook_id: self.project.notebooks.set_adapter(notebook_id, event.new))

    def _auto_run_chosen(self, event: param.parameterized.Event) -> None:
        if self.notebook and bool(event.new) != self.project.notebooks.get(self.notebook).auto_run:
            self._edit(lambda notebook_id: self.project.notebooks.set_auto_run(notebook_id, bool(event.new)))

    # -- the session ---------------------------------------------------------------------
    async def _attach(self) -> NotebookRunner | None:
        """The notebook's runner from the hub (the same for every page), watched for its status."""
        if self.notebook is None or self.session is None:
            return None
        notebook_id = self.notebook
        try:
            runner = await self.session.hub.notebook_runner(
                self.project.name, notebook_id, self.project.branch_name or "main"
            )
        except RUN_ERRORS as exc:
            self._report(f"could not start the session of this notebook: {exc}")
            return None
        if runner is not self.runner and self.notebook == notebook_id:
            self._adopt(runner)
        return runner

    def _adopt(self, runner: NotebookRunner) -> None:
        """Show ``runner``'s session (status, what is stale) and follow its status."""
        self._detach()
        self.runner = runner
        self._unwatch_status = runner.on_session_status(lambda _status: self._changed("session"))
        self.refresh()

    def _detach(self) -> None:
        if self._unwatch_status is not None:
            self._unwatch_status()
            self._unwatch_status = None
        self.runner = None

    async def run_cell(self, cell_id: str) -> str | None:
        """Run the cell (after its stale ancestors); its status, or None when it did not run."""
        if self.notebook is not None and self.project.notebooks.cell(self.notebook, cell_id).kind != "code":
            return None
        runner = await self._attach()
        if runner is None:
            return None
        try:
            return await runner.run_cell(cell_id)
        except RUN_ERRORS as exc:
            self._report(f"could not run the cell: {exc}")
            return None

    async def run_all(self) -> list[tuple[str, str]]:
        runner = await self._attach()
        if runner is None:
            return []
        try:
            return await runner.run_all()
        except RUN_ERRORS as exc:
            self._report(f"could not run the notebook: {exc}")
            return []

    async def save_selection(self, cell_id: str, shown_as: str, rows: list[int], name: str) -> str | None:
        """Save ``rows`` of what the cell showed in the explorer (as ``shown_as``) as artifact ``name``, in the
        session; its status, or None when it did not run."""
        runner = await self._attach()
        if runner is None:
            return None
        try:
            return await runner.save_selection(cell_id, shown_as, rows, name)
        except RUN_ERRORS as exc:
            self._report(f"could not save the selection: {exc}")
            return None

    async def interrupt(self) -> None:
        runner = await self._attach()
        if runner is not None:
            runner.interrupt()

    async def restart(self) -> None:
        runner = await self._attach()
        if runner is not None:
            try:
                await runner.restart()
            except RUN_ERRORS as exc:
                self._report(f"could not restart the session: {exc}")

    async def shutdown(self) -> None:
        runner = await self._attach()
        if runner is not None:
            await runner.shutdown()

    async def on_key(self, action: str, cell_id: str) -> None:
        """A key pressed in a cell: ``here`` runs it; ``next`` also moves the caret on (adding a cell at the end)."""
        if self.notebook is None or cell_id not in self.views:
            return
        if action == "next":
            ids = [cell.id for cell in self.project.notebooks.get(self.notebook).cells]
            at = ids.index(cell_id)
            following = ids[at + 1] if at + 1 < len(ids) else self.add_cell("code")
            if following is not None:
                self.keys.focus(following)
        await self.run_cell(cell_id)

    def dispose(self) -> None:
        self._detach()
        super().dispose()


def _clicked(action: Callable[[], Awaitable[object]]) -> Callable[[object], Awaitable[None]]:
    """A click handler Panel runs on the server's loop (it must itself be a coroutine function)."""

    async def handler(_event: object) -> None:
        await action()

    return handler


def _stale_without_session(cells: list[Cell], runs: Mapping[str, CellRun]) -> set[str]:
    """With no session yet: code cells that never ran or whose code changed since their stored run."""
    return {
        cell.id
        for cell in cells
        if cell.kind == "code" and (runs[cell.id].count is None or runs[cell.id].code != cell.code)
    }


def _duplicates(analysis: Analysis, cell_id: str, position: Mapping[str, int]) -> list[str]:
    """'defines x, y — also defined in cell N' for the names this cell shares with other cells."""
    others: dict[tuple[int, ...], list[str]] = {}
    for name, cells in analysis.duplicates.items():
        if cell_id in cells:
            where = tuple(position[c] for c in cells if c != cell_id and c in position)
            others.setdefault(where, []).append(name)
    return [
        f"defines {', '.join(names)} — also defined in cell{'s' if len(where) > 1 else ''} {', '.join(map(str, where))}"
        for where, names in others.items()
    ]
