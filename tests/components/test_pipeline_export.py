"""The pipeline editor's export buttons: each sends the shown pipeline in its format, named after it; a pipeline
that cannot run says why and sends nothing."""

from __future__ import annotations

import ast
import io
import json
import zipfile

from deepforge_panel.components.pipeline_editor import PipelineEditor
from deepforge_panel.components.session import Session


def test_each_button_sends_the_shown_pipeline_in_its_format(digits_session: Session) -> None:
    editor = PipelineEditor(project=digits_session.project, session=digits_session)
    export = editor.export
    digits_session.pipeline = digits_session.project.pipelines.find("train-cnn").id
    assert {fmt: b.filename for fmt, b in export.buttons.items()} == {
        "script": "train_cnn.py",
        "notebook": "train_cnn.ipynb",
        "folder": "train_cnn.zip",
    }

    script = export.download("script")
    assert script is not None
    tree = ast.parse(script.getvalue().decode())
    assert {n.name for n in tree.body if isinstance(n, ast.ClassDef)} >= {"LoadDataset", "TrainArchitecture"}

    notebook = export.download("notebook")
    assert notebook is not None and json.loads(notebook.getvalue())["nbformat"] == 4

    folder = export.download("folder")
    assert folder is not None
    names = zipfile.ZipFile(io.BytesIO(folder.getvalue())).namelist()
    assert {"train_cnn/run.py", "train_cnn/requirements.txt", "train_cnn/references/digits_cnn.py"} <= set(names)
    assert digits_session.message == ""


def test_a_pipeline_that_cannot_run_says_why_and_sends_nothing(digits_session: Session) -> None:
    project = digits_session.project
    editor = PipelineEditor(project=project, session=digits_session)
    pid = project.pipelines.create("half done")
    project.pipelines.add_node(pid, project.operations.find("ScoreClassifier").id, name="score")
    digits_session.pipeline = pid
    assert editor.export.buttons["script"].filename == "half_done.py"

    assert editor.export.download("script") is None
    assert "pipeline 'half done' cannot run" in digits_session.message
    assert "score: required input 'model' is not connected" in digits_session.message
    assert editor.message.visible and digits_session.fault is not None, "shown, with the node at fault"
