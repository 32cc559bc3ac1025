"""Project settings: per-project choices kept in the document's ``meta`` root, shown as widgets that reflect it.

Each widget is a projection of one document value: a change in the widget writes the document, and a
change of the document (another tab, the CLI, undo) sets the widget; the widget holds no copy of its own.
"""

from __future__ import annotations

from typing import Any

import panel as pn
import param

from deepforge_panel.components.base import ProjectComponent, notify
from deepforge_panel.project import ReadOnlyError

JOB_LOG_LEVEL_LABELS = {
    "Quiet TensorFlow start-up messages (default)": "quiet",
    "Show everything": "verbose",
}
"""The choices of ``Project.job_log_level`` (``deepforge_panel.jobgen.JOB_LOG_LEVELS``), as users read them."""


class ProjectSettings(ProjectComponent):
    """A "Project settings" card: how much start-up logging the project's job consoles show, and the time and
    memory limits of every job whose node sets none of its own."""

    roots = ("meta",)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.job_log_level = pn.widgets.Select(
            label="Job console",
            description="What a job's console shows of the libraries' start-up logging (TensorFlow's notices).",
            options=JOB_LOG_LEVEL_LABELS,
            value=self.project.job_log_level,
            disabled=self.project.readonly,
            width=420,
            css_classes=["df-job-log-level"],
        )
        self.job_log_level.param.watch(self._on_job_log_level, "value")
        limits = self.project.job_limits
        self.time_limit = pn.widgets.FloatInput(
            label="Job time limit (s)",
            description="A job running longer is stopped and fails; empty: no limit. A node may set its own.",
            value=limits.time_s,
            start=0.1,
            placeholder="no limit",
            disabled=self.project.readonly,
            width=200,
            css_classes=["df-time-limit"],
        )
        self.memory_limit = pn.widgets.FloatInput(
            label="Job memory limit (MiB)",
            description="A job using more memory (its processes together) is stopped and fails; empty: no limit.",
            value=limits.memory_mb,
            start=1,
            placeholder="no limit",
            disabled=self.project.readonly,
            width=200,
            css_classes=["df-memory-limit"],
        )
        self._showing = False
        for widget in (self.time_limit, self.memory_limit):
            widget.param.watch(self._on_limits, "value")
        self._layout = pn.Card(
            self.job_log_level,
            pn.Row(self.time_limit, self.memory_limit),
            title="Project settings",
            collapsed=False,
            sizing_mode="stretch_width",
            css_classes=["df-project-settings"],
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def refresh(self) -> None:
        level = self.project.job_log_level
        if self.job_log_level.value != level:
            self.job_log_level.value = level
        limits = self.project.job_limits
        if (self.time_limit.value, self.memory_limit.value) != (limits.time_s, limits.memory_mb):
            self._showing = True  # both widgets at once: one set alone is not a change of the user's
            try:
                self.time_limit.value, self.memory_limit.value = limits.time_s, limits.memory_mb
            finally:
                self._showing = False

    def _on_limits(self, _event: param.parameterized.Event) -> None:
        from deepforge_panel.adapters.compute import Limits

        if self._showing:
            return
        try:
            limits = Limits(self.time_limit.value or None, self.memory_limit.value or None)
            if limits != self.project.job_limits:
                self.project.job_limits = limits
        except (ValueError, ReadOnlyError) as exc:
            notify(f"could not change the job limits: {exc}")
            self.refresh()

    def _on_job_log_level(self, event: param.parameterized.Event) -> None:
        if event.new == self.project.job_log_level:
            return
        try:
            self.project.job_log_level = event.new
        except (ValueError, ReadOnlyError) as exc:
            notify(f"could not change the job console setting: {exc}")
            self.refresh()
