"""The Keras commands refuse what they cannot do with one line, never a traceback: real processes, a fresh home."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.workspace import Workspace
from tests.libraries.test_cli_architecture import cli


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with project ``lab``: an architecture ``net`` and an artifact ``source.data`` holding the number 3."""
    home = tmp_path / "home"
    workspace = Workspace(home, examples=False)
    project = workspace.create("lab")
    view = ArchitecturesView(project)
    net = view.create("net")
    view.add_layer(net, "InputLayer", {"shape": [3]}, name="x")
    storage = workspace.orchestrator(project).storage
    data = serialization.dumps(3)
    url = storage.put("three.bin", data)
    project.artifacts.add("source.data", "int", url, hashlib.sha256(data).hexdigest(), len(data))
    project.close()
    return home


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The refusal's message, after checking it is one line and the exit status 2."""
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def test_exporting_an_artifact_that_is_not_a_model(home: Path, tmp_path: Path) -> None:
    done = cli("artifact", "export", "lab", "source.data", "--out", str(tmp_path / "model.keras"), home=home)
    assert "artifact 'source.data' holds a int, which does not export as .keras: it exports as .pkl" in one_line(done)
    assert not (tmp_path / "model.keras").exists()


def test_out_into_a_missing_folder_is_refused(home: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "deeper"
    done = cli("artifact", "export", "lab", "source.data", "--out", str(missing / "model.keras"), home=home)
    assert f"no folder {str(missing)!r} to write into; create it first" in one_line(done)
    done = cli("architecture", "export", "lab", "net", "--out", str(missing / "net.py"), home=home)
    assert f"no folder {str(missing)!r} to write into; create it first" in one_line(done)
    assert not (tmp_path / "missing").exists()


def test_importing_a_corrupt_file(home: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "model.keras"
    corrupt.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    done = cli("architecture", "import", "lab", str(corrupt), home=home)
    assert "model.keras is not a .keras file" in one_line(done)
    binary = tmp_path / "model.json"
    binary.write_bytes(bytes(range(128, 256)) * 8)
    done = cli("architecture", "import", "lab", str(binary), home=home)
    assert "model.json is not a .keras file or a model's JSON: it is binary" in one_line(done)
    function = tmp_path / "swish.py"
    function.write_bytes(b"\xff\xfe\x00def")
    done = cli("architecture", "import", "lab", str(binary), "--function", f"swish={function}", home=home)
    assert "is not a text file of Python code" in one_line(done)
