"""The pipeline editor's export buttons download the shown pipeline as a script, a notebook and a zipped folder."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from tests.browser.test_workbench import TIMEOUT, node, open_project


def download(page: Any, label: str) -> tuple[bytes, str]:
    """Click the export button ``label`` and return the bytes of the file the browser saved, and its name."""
    with page.expect_download(timeout=TIMEOUT) as started:
        page.locator(".df-pipeline-export .bk-btn:visible", has_text=label).click()
    saved = started.value
    return Path(saved.path()).read_bytes(), saved.suggested_filename


def test_the_shown_pipeline_downloads_in_each_format(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".df-pipeline-export").screenshot(path=screenshots / "pipeline-export.png")

    data, name = download(page, "Script (.py)")
    assert name == "train.py"
    classes = {n.name for n in ast.parse(data.decode()).body if isinstance(n, ast.ClassDef)}
    assert {"LoadDataset", "TrainClassifier", "ScoreClassifier"} <= classes

    data, name = download(page, "Notebook (.ipynb)")
    cells = json.loads(data)["cells"]
    assert name == "train.ipynb" and any("class TrainClassifier" in "".join(c["source"]) for c in cells)

    data, name = download(page, "Folder (.zip)")
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert name == "train.zip" and {"train/run.py", "train/requirements.txt", "train/operations/LoadDataset.py"} <= (
        set(names)
    )


def test_a_nodes_operation_downloads_as_a_py_file(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
    node(page, "score").locator(".rf-node-label").click()
    button = page.locator(".bk-btn:visible", has_text="Export .py")
    button.wait_for(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "operation-export.png")
    with page.expect_download(timeout=TIMEOUT) as started:
        button.click()
    saved = started.value
    source = Path(saved.path()).read_text()
    assert saved.suggested_filename == "ScoreClassifier.py" and "class ScoreClassifier:" in source
    assert "--input" in source and "def main(argv=None):" in source
