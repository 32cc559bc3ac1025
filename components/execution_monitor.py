"""The execution monitor: past and running executions, the job graph of one, and the live feedback of a job.

Everything shown is re-read from ``project.executions`` on each document change; widgets and
Bokeh models are kept and patched so a job streaming feedback every 100 ms only sends what
changed (DESIGN.md: the UI is a projection of the document).
"""

from __future__ import annotations

import html
import io
import re
import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import panel as pn
import param

from deepforge_panel.components.artifact_browser import FormatDownload
from deepforge_panel.components.base import Clock, ProjectComponent, notify, resend_when_shown
from deepforge_panel.components.execution_report import execution_report, report_filename
from deepforge_panel.components.figures import FigureView
from deepforge_panel.components.job_graph import STATUS_COLORS, JobGraph, layout
from deepforge_panel.components.markup import md_block, md_text
from deepforge_panel.components.session import Session
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.executions import FINAL, Execution, Job

CONSOLE_LINES = 2000
"""Lines of stdout (and of stderr) shown; the whole log stays in the document and the job folder."""

TABLE_ROWS = 8
"""Rows of the executions table per page."""

EMPTY = "No executions yet — run a pipeline from the Pipelines tab."

_COLUMNS = ["status", "pipeline", "started", "duration", "commit", "author"]


def format_time(stamp: float | None) -> str:
    return "" if stamp is None else datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(start: float | None, end: float | None) -> str:
    """``end - start`` for people ("4.2 s", "3 min 05 s"); runs still going count up to now."""
    if start is None:
        return ""
    seconds = max(0.0, (end if end is not None else time.time()) - start)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


_NUMBER = re.compile(r"(\d+(?:\.\d+)?)")


def natural_key(name: str) -> tuple[tuple[str | float, ...], str]:
    """Sort key reading the numbers in ``name`` by value: figure "2" before "10", "metric 2" before "metric 10".

    Text and numbers alternate in the split (text first), so two keys compare text with text and numbers with
    numbers; ties (``"a1"``, ``"a01"``) fall back to the name itself.
    """
    parts = _NUMBER.split(name.casefold())
    return tuple(float(part) if i % 2 else part for i, part in enumerate(parts)), name


def default_job(execution: Execution) -> Job | None:
    """The job worth showing first: a running one, else a failed one, else the one with the most feedback."""
    jobs = sorted(execution.jobs.values(), key=lambda j: (j.started or float("inf"), j.name))
    for status in ("running", "failed"):
        for job in jobs:
            if job.status == status:
                return job
    return max(jobs, key=lambda j: len(j.figures) + len(j.metrics), default=None)


class ExecutionMonitor(ProjectComponent):
    """Executions of the project, newest first; the selected one's job graph and its selected job's feedback."""

    session = param.ClassSelector(class_=Session, doc="This browser tab's selection (execution, job).")
    roots = ("executions",)
    min_interval = 0.25  # a job streams feedback every 100 ms; four refreshes a second keep the page responsive

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._rows: dict[str, dict[str, Any]] = {}
        self._shown: Execution | None = None
        self._shown_job: Job | None = None
        self.figure_views: dict[str, FigureView] = {}
        """The selected job's figures by id, as shown in :attr:`figures`."""
        self.metric_views: dict[str, FigureView] = {}
        """The selected job's metrics by name, as shown in :attr:`metrics`."""
        self._job_views: dict[str, tuple[dict[str, FigureView], dict[str, FigureView]]] = {}
        """The views of every job of the shown execution shown so far, by job id: going back to a job streams into
        its plots instead of drawing them anew."""
        self._views_of: str | None = None
        """The execution :attr:`_job_views` belong to."""
        self._syncing = False
        self.empty = pn.pane.Alert(EMPTY, alert_type="info", visible=False)
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=_COLUMNS),
            selectable=1,
            disabled=True,
            show_index=False,
            sortable=False,
            layout="fit_data_stretch",
            # Pages rather than a height grown with the rows: the height is part of the Tabulator's configuration,
            # and a changed configuration rebuilds the table in the browser, which drops data updates (a status
            # turning "succeeded") that arrive while it builds.
            pagination="local",
            page_size=TABLE_ROWS,
            sizing_mode="stretch_width",
            # Fixed widths: a status patched from "running" to "succeeded" keeps its first width otherwise.
            widths={"status": 120, "pipeline": 180, "started": 190, "duration": 120, "commit": 120},
        )
        self.table.param.watch(self._table_selected, "selection")
        self._unshown = resend_when_shown(self.session, "Executions", self.table) if self.session is not None else None
        self.header = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["df-execution-header"], stylesheets=[_HEADER_CSS]
        )
        self.present = pn.pane.HTML("", stylesheets=[_PRESENT_CSS], css_classes=["df-present-links"], margin=(5, 5))
        """Links opening the present view (a new tab) of this execution, and of its pipeline's latest run."""
        self.cancel = pn.widgets.Button(label="Cancel", color="danger", disabled=True, visible=False, width=100)
        self.cancel.on_click(self._cancel)
        self.report = FormatDownload(
            callback=self.report_file,
            filename="report.html",
            label="Download report",
            width=160,
            description="This execution as one HTML file that opens offline: graph, jobs, consoles, figures.",
        )
        self.graph = JobGraph(sizing_mode="stretch_width", height=80)
        self.graph.param.watch(self._graph_selected, "selected")
        self.job_header = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["df-job-header"])
        self.made_by = pn.widgets.Button(label="Open the run that made its outputs", visible=False, width=280)
        """For a cached job: shows the execution and job whose outputs it took, with their console."""
        self.made_by.on_click(self._open_made_by)
        self.progress = pn.indicators.Progress(
            value=-1, max=100, active=False, sizing_mode="stretch_width", visible=False
        )
        self.progress_label = pn.pane.Str("", visible=False, css_classes=["df-progress-label"])
        self.error = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width", css_classes=["df-job-error"]
        )
        self.figures = pn.FlexBox(sizing_mode="stretch_width")
        self.metrics = pn.FlexBox(sizing_mode="stretch_width")
        self.console = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["df-console"], stylesheets=[_CONSOLE_CSS]
        )
        self.detail = pn.Column(
            pn.Row(self.header, self.present, self.report, self.cancel, sizing_mode="stretch_width"),
            self.graph,
            pn.Row(self.job_header, self.made_by, sizing_mode="stretch_width"),
            pn.Row(self.progress, self.progress_label, sizing_mode="stretch_width"),
            self.error,
            self.figures,
            self.metrics,
            self.console,
            sizing_mode="stretch_width",
        )
        self._layout = pn.Column(self.empty, self.table, self.detail, sizing_mode="stretch_width")
        self._clock = Clock(self.tick)
        self._watcher: param.parameterized.Watcher | None = None
        if self.session is not None:
            self._watcher = self.session.param.watch(lambda *_events: self.refresh(), ["execution", "job"])
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def dispose(self) -> None:
        super().dispose()
        self._clock.run(False)
        if self.session is not None and self._watcher is not None:
            self.session.param.unwatch(self._watcher)
            self._watcher = None

    # -- what is shown ---------------------------------------------------------------------
    @property
    def execution(self) -> Execution | None:
        """The execution on screen (the session's, else the newest)."""
        return self._shown

    @property
    def job(self) -> Job | None:
        """The job whose details are on screen."""
        return self._shown_job

    def refresh(self) -> None:
        fresh: dict[str, Execution] = {}
        rows = self._summaries(fresh)
        self.empty.visible = not rows
        self.table.visible = bool(rows)
        self.detail.visible = bool(rows)
        wanted = self.session.execution if self.session is not None else None
        ids = [row["id"] for row in rows]
        shown_id = wanted if wanted in ids else (ids[0] if ids else None)
        self._update_table(rows, shown_id)
        self._clock.run(self.running)
        execution = None
        if shown_id is not None:
            execution = fresh.get(shown_id) or self.project.executions.get(shown_id)
        self._shown = execution
        if execution is None:
            self._shown_job = None
            return
        job = self._pick_job(execution)
        self._shown_job = job
        self._update_execution(execution, job)
        self._update_job(job)

    @property
    def running(self) -> bool:
        """Whether an execution in the table is still going, so its durations count up."""
        return any(status not in FINAL for status in self.table.value["status"])

    def tick(self) -> None:
        """Redraw the running durations; the session's clock calls it every second while something runs."""
        if self.running:
            self.refresh()

    def _summaries(self, fresh: dict[str, Execution]) -> list[dict[str, Any]]:
        """One table row per execution, newest first; finished executions never change, so they are read once.

        Executions read anew land in ``fresh`` so the one shown is not read twice.
        """
        executions = self.project.executions
        ids = set(executions.ids())
        for stale in set(self._rows) - ids:
            del self._rows[stale]
        for execution_id in ids:
            row = self._rows.get(execution_id)
            if row is None or row["status"] not in FINAL:
                fresh[execution_id] = executions.get(execution_id)
                self._rows[execution_id] = _summary(fresh[execution_id])
        return sorted(self._rows.values(), key=lambda r: r["created"], reverse=True)

    def _pick_job(self, execution: Execution) -> Job | None:
        wanted = self.session.job if self.session is not None else None
        if wanted in execution.jobs:
            return execution.jobs[wanted]
        return default_job(execution)

    # -- widgets -------------------------------------------------------------------------------
    def _update_table(self, rows: list[dict[str, Any]], shown_id: str | None) -> None:
        frame = pd.DataFrame(
            [{c: r[c] for c in _COLUMNS} for r in rows],
            columns=_COLUMNS,
            index=pd.Index([r["id"] for r in rows], name="id"),
        )
        self._syncing = True
        try:
            current = self.table.value
            if not frame.index.equals(current.index) or list(frame.columns) != list(current.columns):
                self.table.value = frame
            elif not frame.equals(current):
                changed = (frame != current).any(axis=1)
                self.table.patch(frame[changed])
            selection = [list(frame.index).index(shown_id)] if shown_id in frame.index else []
            if self.table.selection != selection:
                self.table.selection = selection
        finally:
            self._syncing = False

    def _update_execution(self, execution: Execution, job: Job | None) -> None:
        running = execution.status not in FINAL
        status = html.escape(execution.status)
        self.header.object = (
            f'<div class="df-execution" data-status="{status}">'
            f"<b>{html.escape(execution.pipeline_name)}</b> "
            f'<span class="df-status df-status-{status}">{status}</span>'
            f" · commit <code>{html.escape(execution.commit[:10])}</code>"
            f" · started {format_time(execution.created)}"
            f" · {format_duration(execution.created, execution.ended)}"
            f" · {html.escape(execution.author)}</div>" + _reason(execution)
        )
        self.cancel.disabled = not running
        self.cancel.visible = running
        links = present_links(self.project.name, execution, dark=pn.config.theme == "dark")
        if self.present.object != links:
            self.present.object = links
        filename = report_filename(execution)
        if self.report.filename != filename:
            self.report.filename = filename
        positions = layout(execution)
        jobs = [
            {
                "id": j.id,
                "name": j.name,
                "status": j.status,
                "label": _job_label(j),
                "color": STATUS_COLORS.get(j.status, "#bdbdbd"),
                "depth": positions[j.id][0],
                "row": positions[j.id][1],
            }
            for j in sorted(execution.jobs.values(), key=lambda j: positions[j.id])
        ]
        edges = [{"src": e["src"], "dst": e["dst"]} for e in execution.edges]
        rows = 1 + max((p[1] for p in positions.values()), default=0)
        updates: dict[str, Any] = {}
        if jobs != self.graph.jobs:
            updates["jobs"] = jobs
        if edges != self.graph.edges:
            updates["edges"] = edges
        if self.graph.selected != (job.id if job else None):
            updates["selected"] = job.id if job else None
        height = 24 + rows * 68
        if self.graph.height != height:
            updates["height"] = height
        if updates:
            self._syncing = True
            try:
                self.graph.param.update(**updates)
            finally:
                self._syncing = False

    def _update_job(self, job: Job | None) -> None:
        # Each widget is shown or hidden once per refresh: a show-then-hide reaches the browser as a blinking empty box.
        for widget in (self.job_header, self.console):
            widget.visible = job is not None
        self.made_by.visible = job is not None and job.cached_from is not None
        if job is None:
            for widget in (self.progress, self.progress_label, self.error):
                widget.visible = False
            return
        status = html.escape(job.status)
        self.job_header.object = (
            f'<div class="df-job-detail" data-status="{status}"><b>{html.escape(job.name)}</b> '
            f'<span class="df-status df-status-{status}">{status}</span>'
            + (f" · started {format_time(job.started)}" if job.started else "")
            + (f" · {format_duration(job.started, job.ended)}" if job.started else "")
            + "</div>"
        )
        self._update_progress(job)
        self._update_error(job)
        self._update_console(job)
        self._views_for(job)
        self._update_views(
            self.figure_views,
            self.figures,
            dict(sorted(job.figures.items(), key=lambda item: natural_key(item[0]))),
            scale=1.0,
        )
        self._update_views(
            self.metric_views,
            self.metrics,
            {
                name: metric_figure(name, series)
                for name, series in sorted(job.metrics.items(), key=lambda item: natural_key(item[0]))
            },
            scale=0.5,
        )

    def _views_for(self, job: Job) -> None:
        """Make :attr:`figure_views` and :attr:`metric_views` those of ``job`` (kept per job of the shown execution)."""
        execution_id = self._shown.id if self._shown is not None else None
        if execution_id != self._views_of:
            self._job_views.clear()
            self._views_of = execution_id
        self.figure_views, self.metric_views = self._job_views.setdefault(job.id, ({}, {}))

    def _update_progress(self, job: Job) -> None:
        current, total, label = (
            job.progress.get("current") or 0,
            job.progress.get("total"),
            job.progress.get("label", ""),
        )
        running = job.status == "running"
        shown = running or bool(total) or bool(current)
        if total:
            values = {"max": int(total), "value": max(0, min(int(current), int(total))), "active": False}
        else:
            values = {"value": -1, "active": running}
        self.progress.param.update(visible=shown, **values)
        text = f"{label} {current}/{total}" if total else (f"{label} {current}" if current else label)
        self.progress_label.param.update(object=text.strip(), visible=shown and bool(text.strip()))

    def _update_error(self, job: Job) -> None:
        if not job.error:
            self.error.visible = False
            return
        failed = job.status == "failed"
        title = f"**{md_text(job.name)} failed**" if failed else f"**{md_text(job.name)} {md_text(job.status)}**"
        self.error.param.update(
            object=f"{title}\n\n{md_block(job.error, 'text')}",
            alert_type="danger" if failed else "warning",
            visible=True,
        )

    def _update_console(self, job: Job) -> None:
        out, err = tail(job.stdout), tail(job.stderr)
        if not out and not err:
            body = '<pre class="df-stdout df-empty">(no output yet)</pre>'
        else:
            stderr = "df-stderr df-failed" if job.status == "failed" else "df-stderr"
            body = (f'<pre class="df-stdout">{html.escape(out)}</pre>' if out else "") + (
                f'<pre class="{stderr}">{html.escape(err)}</pre>' if err else ""
            )
        content = f'<div class="df-console-scroll"><div>{body}</div></div>'
        if self.console.object != content:
            self.console.object = content

    @staticmethod
    def _update_views(
        views: dict[str, FigureView], box: pn.FlexBox, figures: dict[str, dict[str, Any]], scale: float
    ) -> None:
        for key in set(views) - set(figures):
            del views[key]
        for key, figure in figures.items():
            if key in views:
                views[key].update(figure)
            else:
                views[key] = FigureView(figure, scale=scale)
        wanted = [views[key].__panel__() for key in figures]
        if [id(o) for o in box.objects] != [id(v) for v in wanted]:
            box.objects = wanted

    # -- user actions --------------------------------------------------------------------------
    def report_file(self) -> io.BytesIO | None:
        """The shown execution's report (:mod:`~deepforge_panel.components.execution_report`); None, saying why,
        when there is none."""
        if self._shown is None:
            return None
        try:
            page = execution_report(self.project, self._shown.id)
        except USER_ERRORS as exc:
            notify(f"could not write the report: {exc}", level="error")
            return None
        return io.BytesIO(page.encode())

    def _table_selected(self, event: param.parameterized.Event) -> None:
        if self._syncing or not event.new or self.session is None:
            return
        execution_id = str(self.table.value.index[event.new[0]])
        if execution_id != self.session.execution:
            self.session.param.update(execution=execution_id, job=None)

    def _open_made_by(self, _event: Any = None) -> None:
        job = self._shown_job
        if job is None or job.cached_from is None or self.session is None:
            return
        self.session.param.update(execution=job.cached_from["execution"], job=job.cached_from["job"])

    def _graph_selected(self, event: param.parameterized.Event) -> None:
        if self._syncing or event.new is None or self.session is None:
            return
        self.session.job = event.new

    def _cancel(self, _event: Any = None) -> None:
        if self._shown is None or self.session is None:
            return
        if not self.session.cancel(self._shown.id):
            notify(f"execution {self._shown.id} is not running here, so it cannot be cancelled", level="warning")


def present_links(project: str, execution: Execution, dark: bool = False) -> str:
    """Two links opening the present view in a new tab: this execution, and the latest run of its pipeline
    (which moves on to the next run when one starts)."""
    theme = {"theme": "dark"} if dark else {}

    def link(which: str, label: str, title: str, css: str) -> str:
        href = html.escape("present?" + urlencode({"project": project, "execution": which, **theme}))
        return (
            f'<a class="df-present-link {css}" href="{href}" target="_blank" rel="noopener" '
            f'title="{html.escape(title)}">{label}</a>'
        )

    return link(
        execution.id,
        "Present ↗",
        "This execution, full screen and live, for a talk (opens a new tab)",
        "df-present-this",
    ) + link(
        execution.pipeline_name,
        "Present latest ↗",
        f"The latest run of {execution.pipeline_name}, following the next run when it starts (opens a new tab)",
        "df-present-latest",
    )


def _reason(execution: Execution) -> str:
    """Why a failed execution failed, in one line under its header (each job's own message is beside it)."""
    lines = [line for line in execution.error.splitlines() if line.strip()]
    if execution.status != "failed" or not lines:
        return ""
    return f'<div class="df-execution-reason">{html.escape(lines[0][:400])}</div>'


def _summary(execution: Execution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "created": execution.created or 0.0,
        "status": execution.status,
        "pipeline": execution.pipeline_name,
        "started": format_time(execution.created),
        "duration": format_duration(execution.created, execution.ended),
        "commit": execution.commit[:10],
        "author": execution.author,
    }


def _job_label(job: Job) -> str:
    total = job.progress.get("total")
    if job.status == "running" and total:
        return f"running {job.progress.get('current', 0)}/{total}"
    return job.status


def tail(text: str, lines: int = CONSOLE_LINES) -> str:
    """The last ``lines`` lines of ``text``, after a "…" line when some were left out."""
    parts = text.rsplit("\n", lines + 1)
    if len(parts) > lines + 1:
        parts = parts[-(lines + 1) :]
        return "…\n" + "\n".join(parts)
    return text


def metric_figure(name: str, series: list[tuple[int, float]]) -> dict[str, Any]:
    """A metric series as a figure description, so metrics and figures share one renderer."""
    return {
        "suptitle": "",
        "width": 520,
        "height": 360,
        "axes": [
            {
                "title": name,
                "xlabel": "step",
                "ylabel": "",
                "xscale": "linear",
                "yscale": "linear",
                "legend": False,
                "position": [0.125, 0.11, 0.775, 0.77],
                "lines": [
                    {
                        "x": [float(s) for s, _ in series],
                        "y": [v for _, v in series],
                        "label": name,
                        "color": "#1f77b4",
                        "alpha": 1.0,
                        "linestyle": "-",
                        "linewidth": 2.0,
                        "marker": "o",
                    }
                ],
                "scatter": [],
                "bars": [],
                "images": [],
                "texts": [],
            }
        ],
    }


_PRESENT_CSS = """
.df-present-link { display: inline-block; margin-right: 6px; padding: 5px 10px; border-radius: 4px; white-space: nowrap;
  border: 1px solid var(--panel-primary-color, #0072b5); color: var(--panel-primary-color, #0072b5);
  text-decoration: none; font-size: 0.95em; }
.df-present-link:hover { background: var(--panel-primary-color, #0072b5); color: var(--panel-on-primary-color, #fff); }
"""

_HEADER_CSS = """
.df-execution-reason { margin-top: 4px; color: #e0524f; font-size: 0.95em; }
"""

_CONSOLE_CSS = """
.df-console-scroll { max-height: 360px; overflow: auto; display: flex; flex-direction: column-reverse;
  background: #1e1e1e; border-radius: 4px; padding: 4px 8px; }
.df-console-scroll pre { margin: 0; white-space: pre-wrap; font-size: 12px; }
.df-stdout { color: #e0e0e0; }
.df-stderr { color: #d7ccc8; border-top: 1px dashed #666; border-left: 2px solid #8d6e63; padding-left: 6px; }
.df-stderr.df-failed { color: #ff8a80; border-left-color: #e57373; }
.df-empty { color: #9e9e9e; font-style: italic; }
"""
