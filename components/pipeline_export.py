"""Export buttons for the pipeline shown: a Python script, a Jupyter notebook, a folder (as a .zip).

Each sends what ``deepforge-panel export`` writes (:mod:`deepforge_panel.exports`), made when clicked from the
document as it is then; a pipeline that cannot run says why instead of sending a file.
"""

from __future__ import annotations

import io
from typing import Any

import panel as pn
import param

from deepforge_panel.components.artifact_browser import FormatDownload
from deepforge_panel.components.session import Session
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.exports import EXTENSIONS, pipeline_download
from deepforge_panel.names import python_name
from deepforge_panel.project import Project

LABELS = {"script": "Script (.py)", "notebook": "Notebook (.ipynb)", "folder": "Folder (.zip)"}
DESCRIPTIONS = {
    "script": "One Python file that runs this pipeline without the workbench: python FILE.py",
    "notebook": "A Jupyter notebook: a cell per operation, then a cell that runs the pipeline",
    "folder": "A file per operation, the generated architecture code, requirements.txt and run.py",
}


class PipelineExport(pn.viewable.Viewer):
    """One download button per export format, for the pipeline the session shows."""

    project = param.ClassSelector(class_=Project, doc="The project whose pipeline is exported.")
    session = param.ClassSelector(class_=Session, doc="This browser tab's selection: which pipeline.")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.buttons = {
            fmt: FormatDownload(
                label=label,
                callback=lambda fmt=fmt: self.download(fmt),
                filename=f"pipeline{EXTENSIONS[fmt]}",
                description=DESCRIPTIONS[fmt],
                variant="outline",
                width=130,
            )
            for fmt, label in LABELS.items()
        }
        self.session.param.watch(lambda _e: self._name_files(), "pipeline")
        self._name_files()

    def _name_files(self) -> None:
        """Each button's file is named after the pipeline shown (what the download saves as)."""
        pipeline_id = self.session.pipeline
        name = "pipeline"
        if pipeline_id and pipeline_id in self.project.pipelines.ids():
            name = python_name(self.project.pipelines.get(pipeline_id).name, fallback="pipeline")
        for fmt, button in self.buttons.items():
            button.param.update(filename=f"{name}{EXTENSIONS[fmt]}", disabled=not pipeline_id)

    def download(self, fmt: str) -> io.BytesIO | None:
        """The shown pipeline exported as ``fmt``; None (the message says why) when it cannot be."""
        if not self.session.pipeline:
            self.session.message = "choose a pipeline to export"
            return None
        try:
            filename, data = pipeline_download(self.project, self.session.pipeline, fmt)
        except USER_ERRORS as exc:
            self.session.refuse(exc)
            return None
        self.buttons[fmt].filename = filename
        return io.BytesIO(data)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.pane.Markdown("**Export** this pipeline to run without the workbench:", margin=(0, 10)),
            pn.Row(*self.buttons.values()),
            css_classes=["df-pipeline-export"],
        )
