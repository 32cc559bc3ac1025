"""The present view: one execution for an audience, large and live, with nothing to edit.

Another projection of the same execution records as :mod:`~deepforge_panel.components.execution_monitor`:
the title and status, every job's progress, the latest value of each metric, and every figure the full
width of the page, patched in place as the jobs draw (:class:`~deepforge_panel.components.figures.FigureView`).
``which`` is what :meth:`ExecutionsView.find <deepforge_panel.executions.ExecutionsView.find>` reads: an
execution's id, or a pipeline's name or ``latest``, which follow the next run as soon as it starts.
"""

from __future__ import annotations

import html
import math
from typing import Any

import panel as pn
import param

from deepforge_panel.components.base import Clock, ProjectComponent
from deepforge_panel.components.execution_monitor import (
    format_duration,
    format_time,
    metric_figure,
    natural_key,
)
from deepforge_panel.components.figures import FigureView
from deepforge_panel.components.job_graph import STATUS_COLORS
from deepforge_panel.components.markup import md_block, md_text
from deepforge_panel.errors import NotFound
from deepforge_panel.executions import FINAL, LATEST, Execution, Job

__all__ = ["FIGURE_SCALE", "PresentView"]

FIGURE_SCALE = 1.3
"""Figures are drawn this much taller than in the execution monitor (their width is the page's)."""

_CSS = """
:host { --df-present-muted: var(--df-muted, #6c757d); }
.df-present-title { font-size: 2.4em; font-weight: 600; line-height: 1.2; }
.df-present-sub { font-size: 1.25em; color: var(--df-present-muted); margin-top: 4px; }
.df-present-sub code { font-size: 0.95em; }
.df-present-status { display: inline-block; padding: 2px 12px; border-radius: 999px; color: #fff;
  font-weight: 600; font-size: 0.95em; }
.df-present-jobs { display: grid; grid-template-columns: minmax(140px, max-content) 1fr minmax(120px, max-content);
  gap: 10px 18px; align-items: center; font-size: 1.3em; }
.df-present-bar { height: 18px; border-radius: 9px; background: var(--panel-surface-color, #e9ecef);
  border: 1px solid var(--panel-border-color, #dee2e6); overflow: hidden; }
.df-present-bar > div { height: 100%; border-radius: 9px; transition: width 0.3s; }
.df-present-bar.df-indeterminate > div { width: 30% !important;
  animation: df-present-slide 1.4s ease-in-out infinite alternate; }
@keyframes df-present-slide { from { margin-left: 0 } to { margin-left: 70% } }
.df-present-progress { color: var(--df-present-muted); font-variant-numeric: tabular-nums; }
.df-present-metrics { display: flex; flex-wrap: wrap; gap: 14px; }
.df-present-metric { min-width: 180px; padding: 10px 18px; border-radius: 8px;
  border: 1px solid var(--panel-border-color, #dee2e6); background: var(--panel-surface-color, #f8f9fa); }
.df-present-metric .df-name { font-size: 1.1em; color: var(--df-present-muted); }
.df-present-metric .df-value { font-size: 2.4em; font-weight: 600; font-variant-numeric: tabular-nums; }
.df-present-metric .df-step { color: var(--df-present-muted); }
.df-present-waiting { font-size: 1.6em; color: var(--df-present-muted); padding: 1em 0; }
"""


def format_value(value: float) -> str:
    """A metric's value for a glance across a room: four significant digits."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4g}"


def _pill(status: str) -> str:
    color = STATUS_COLORS.get(status, "#8a9299")
    return f'<span class="df-present-status" style="background:{color}">{html.escape(status)}</span>'


def _jobs(execution: Execution) -> list[Job]:
    return sorted(execution.jobs.values(), key=lambda j: (j.started or math.inf, j.name))


class PresentView(ProjectComponent):
    """One execution, large and live; nothing in it writes to the project."""

    which = param.String(default=LATEST, doc="An execution's id, a pipeline's name (its newest run), or 'latest'.")
    roots = ("executions",)
    min_interval = 0.25  # as the execution monitor: a job streams feedback every 100 ms

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._ids: frozenset[str] | None = None
        self._shown_id: str | None = None
        self.figure_views: dict[str, FigureView] = {}
        """The figures on screen by ``job id/figure id`` (metric charts: ``job id/metric/name``)."""
        stylesheets = [_CSS]
        self.header = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets, css_classes=["df-present"])
        self.jobs = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets, margin=(10, 10))
        self.metrics = pn.pane.HTML("", sizing_mode="stretch_width", stylesheets=stylesheets, margin=(10, 10))
        self.error = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.figures = pn.Column(sizing_mode="stretch_width", css_classes=["df-present-figures"])
        self._layout = pn.Column(
            self.header, self.jobs, self.metrics, self.error, self.figures, sizing_mode="stretch_width"
        )
        self._clock = Clock(self.tick)
        self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def dispose(self) -> None:
        super().dispose()
        self._clock.run(False)

    @property
    def execution_id(self) -> str | None:
        """The execution on screen, if any."""
        return self._shown_id

    def refresh(self) -> None:
        executions = self.project.executions
        ids = frozenset(executions.ids())
        if ids != self._ids or self._shown_id not in ids:  # a run started (or went): which one is meant?
            self._ids = ids
            try:
                self._shown_id = executions.find(self.which).id if ids else None
            except NotFound:
                self._shown_id = None
        execution = executions.get(self._shown_id) if self._shown_id is not None else None
        self._clock.run(execution is not None and execution.status not in FINAL)
        if execution is None:
            self._show_waiting()
            return
        self._show(execution)

    def tick(self) -> None:
        """Count the durations up; the session's clock calls it every second while the run goes on."""
        self.refresh()

    # -- what is shown ---------------------------------------------------------------------
    def _show_waiting(self) -> None:
        if self.which == LATEST:
            waiting = "No run yet: the next one shows here as soon as it starts."
        else:
            waiting = (
                f"No run of {html.escape(self.which)} yet: it shows here as soon as one starts "
                "(give a pipeline's name, an execution's id or 'latest')."
            )
        self.header.object = (
            f'<div class="df-present-head" data-status="waiting"><div class="df-present-title">'
            f"{html.escape(self.project.name)}</div>"
            f'<div class="df-present-waiting">{waiting}</div></div>'
        )
        self.jobs.object = self.metrics.object = ""
        self.error.visible = False
        self._update_figures({})

    def _show(self, execution: Execution) -> None:
        status = html.escape(execution.status)
        header = (
            f'<div class="df-present-head" data-status="{status}" data-execution="{html.escape(execution.id)}">'
            f'<div class="df-present-title">{html.escape(execution.pipeline_name)} {_pill(execution.status)}</div>'
            f'<div class="df-present-sub">{html.escape(self.project.name)}'
            f" · run <code>{html.escape(execution.id)}</code>"
            f" · started {format_time(execution.created)}"
            f" · {format_duration(execution.created, execution.ended)}"
            f" · {html.escape(execution.author)}</div></div>"
        )
        if self.header.object != header:
            self.header.object = header
        jobs = _jobs(execution)
        rows = "".join(_job_row(job) for job in jobs)
        self._set(self.jobs, f'<div class="df-present-jobs">{rows}</div>' if rows else "")
        tiles = "".join(
            _metric_tile(job, name, series)
            for job in jobs
            for name, series in sorted(job.metrics.items(), key=lambda item: natural_key(item[0]))
            if series
        )
        self._set(self.metrics, f'<div class="df-present-metrics">{tiles}</div>' if tiles else "")
        failed = [job for job in jobs if job.error]
        if failed:
            self.error.param.update(
                object="\n\n".join(f"**{md_text(j.name)} {md_text(j.status)}**\n\n{md_block(j.error)}" for j in failed),
                visible=True,
            )
        else:
            self.error.visible = False
        figures: dict[str, tuple[dict[str, Any], float]] = {}
        for job in jobs:
            for key, figure in sorted(job.figures.items(), key=lambda item: natural_key(item[0])):
                figures[f"{job.id}/{key}"] = (figure, FIGURE_SCALE)
        for job in jobs:
            if job.figures:  # its own figures show its run; its metrics stay as tiles (no second loss chart)
                continue
            for name, series in sorted(job.metrics.items(), key=lambda item: natural_key(item[0])):
                figures[f"{job.id}/metric/{name}"] = (metric_figure(name, series), 1.0)
        self._update_figures(figures)

    @staticmethod
    def _set(pane: pn.pane.HTML, content: str) -> None:
        if pane.object != content:
            pane.object = content
        pane.visible = bool(content)

    def _update_figures(self, figures: dict[str, tuple[dict[str, Any], float]]) -> None:
        views = self.figure_views
        for key in set(views) - set(figures):
            del views[key]
        for key, (figure, scale) in figures.items():
            if key in views:
                views[key].update(figure)
            else:
                views[key] = FigureView(figure, scale=scale, stretch=True)
        wanted = [views[key].__panel__() for key in figures]
        if [id(o) for o in self.figures.objects] != [id(v) for v in wanted]:
            self.figures.objects = wanted


def _job_row(job: Job) -> str:
    """A job's name and status, and its progress as a bar (moving while it runs without a total)."""
    current, total, label = job.progress.get("current") or 0, job.progress.get("total"), job.progress.get("label", "")
    color = STATUS_COLORS.get(job.status, "#8a9299")
    if total:
        share = max(0.0, min(1.0, float(current) / float(total)))
        bar = f'<div class="df-present-bar"><div style="width:{share * 100:.1f}%;background:{color}"></div></div>'
        text = f"{label} {current}/{total}".strip()
    elif job.status == "running":
        bar = f'<div class="df-present-bar df-indeterminate"><div style="background:{color}"></div></div>'
        text = f"{label} {current}".strip() if current else str(label)
    else:
        done = job.status in FINAL
        bar = f'<div class="df-present-bar"><div style="width:{100 if done else 0}%;background:{color}"></div></div>'
        text = format_duration(job.started, job.ended) if job.started else ""
    return (
        f'<div class="df-present-job" data-name="{html.escape(job.name)}" data-status="{html.escape(job.status)}">'
        f"<b>{html.escape(job.name)}</b> {_pill(job.status)}</div>"
        f"{bar}<div class='df-present-progress'>{html.escape(text)}</div>"
    )


def _metric_tile(job: Job, name: str, series: list[tuple[int, float]]) -> str:
    step, value = series[-1]
    return (
        f'<div class="df-present-metric" data-metric="{html.escape(name)}">'
        f'<div class="df-name">{html.escape(name)}</div>'
        f'<div class="df-value">{html.escape(format_value(float(value)))}</div>'
        f'<div class="df-step">{html.escape(job.name)} · step {int(step)}</div></div>'
    )
