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
    """A "Project settings" card: how much start-up logging the project's job consoles show."""

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
        self._layout = pn.Card(
            self.job_log_level,
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

    def _on_job_log_level(self, event: param.parameterized.Event) -> None:
        if event.new == self.project.job_log_level:
            return
        try:
            self.project.job_log_level = event.new
        except (ValueError, ReadOnlyError) as exc:
            notify(f"could not change the job console setting: {exc}")
            self.refresh()
