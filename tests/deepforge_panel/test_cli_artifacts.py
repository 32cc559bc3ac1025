"""``deepforge-panel artifact upload|export`` as real processes: a file in, fed to a pipeline, and back out."""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from deepforge_panel.io_nodes import input_operation
from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import cli

COUNT = """
class CountLines:
    def execute(self, data):
        lines = data.count(b"\\n")
        return lines
"""


def test_an_uploaded_file_feeds_a_pipeline_and_exports_as_itself(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = Workspace(home, examples=False)
    project = workspace.create("lab")
    op = project.operations.add(COUNT)
    pid = project.pipelines.create("count")
    project.store.close()

    data = tmp_path / "readings.csv"
    content = b"t,value\n" + b"".join(f"{i},{i * i}\n".encode() for i in range(20000)) + os.urandom(64) + b"\n"
    data.write_bytes(content)
    done = cli("artifact", "upload", "lab", str(data), home=home)
    assert done.returncode == 0, done.stderr
    assert "as artifact readings.csv" in done.stdout

    listing = cli("artifacts", "lab", home=home)
    assert "readings.csv\tbytes" in listing.stdout and "uploaded by " in listing.stdout
    assert "from readings.csv" in listing.stdout

    project = Workspace(home, examples=False).open("lab")
    artifact = next(a for a in project.artifacts.all() if a.name == "readings.csv")
    assert artifact.provenance["uploaded"]["through"] == "cli"
    assert artifact.provenance["uploaded"]["filename"] == "readings.csv"
    feed = project.pipelines.add_node(
        pid, input_operation(project), name="readings", attributes={"artifact": "readings.csv"}
    )
    count = project.pipelines.add_node(pid, op, name="count")
    project.pipelines.add_edge(pid, feed, "data", count, "data")
    project.store.close()

    done = cli("run", "lab", "count", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    project = Workspace(home, examples=False).open("lab")
    lines = next(a for a in project.artifacts.all() if a.name == "count.lines")
    project.store.close()
    exported = tmp_path / "lines.pkl"
    assert cli("artifact", "export", "lab", lines.id, "--out", str(exported), home=home).returncode == 0
    assert pickle.loads(exported.read_bytes()) == content.count(b"\n")

    back = tmp_path / "back.csv"
    done = cli("artifact", "export", "lab", "readings.csv", "--out", str(back), home=home)
    assert done.returncode == 0, done.stderr
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(content).digest()


def test_uploading_what_is_not_a_file_or_under_a_bad_name_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Workspace(home, examples=False).create("lab").store.close()
    done = cli("artifact", "upload", "lab", str(tmp_path / "absent.csv"), home=home)
    assert done.returncode == 2 and "is not a file" in done.stderr
    data = tmp_path / "ok.csv"
    data.write_text("a\n")
    done = cli("artifact", "upload", "lab", str(data), "--name", " padded", home=home)
    assert done.returncode == 2 and "artifact name ' padded' is not allowed" in done.stderr
    project = Workspace(home, examples=False).open("lab")
    assert project.artifacts.all() == []
