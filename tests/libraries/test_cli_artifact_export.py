"""``deepforge-panel artifact export`` writes the format its ``--out`` extension names, as the workbench downloads."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.workspace import Workspace
from tests.libraries.test_cli_architecture import cli
from tests.libraries.test_cli_refusals import one_line

WEIGHTS = np.linspace(0, 1, 6).reshape(2, 3)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home with project ``lab`` holding an artifact ``fit.weights``: a numpy array stored as a job stores it."""
    home = tmp_path / "home"
    workspace = Workspace(home, examples=False)
    project = workspace.create("lab")
    data = serialization.dumps(WEIGHTS)
    url = workspace.orchestrator(project).storage.put("weights.bin", data)
    project.artifacts.add("fit.weights", "numpy.ndarray", url, hashlib.sha256(data).hexdigest(), len(data))
    project.close()
    return home


def test_the_out_extension_chooses_the_format(home: Path, tmp_path: Path) -> None:
    npy = tmp_path / "weights.npy"
    done = cli("artifact", "export", "lab", "fit.weights", "--out", str(npy), home=home)
    assert done.returncode == 0, done.stderr
    assert f"to {npy}" in done.stdout
    assert np.array_equal(np.load(npy, allow_pickle=False), WEIGHTS)
    pkl = tmp_path / "weights.pkl"
    assert cli("artifact", "export", "lab", "fit.weights", "--out", str(pkl), home=home).returncode == 0
    with pkl.open("rb") as f:
        assert np.array_equal(pickle.load(f), WEIGHTS)


def test_a_format_the_artifact_lacks_is_refused_with_the_ones_it_has(home: Path, tmp_path: Path) -> None:
    done = cli("artifact", "export", "lab", "fit.weights", "--out", str(tmp_path / "weights.csv"), home=home)
    expected = "artifact 'fit.weights' holds a numpy.ndarray, which does not export as .csv: it exports as .npy, .pkl"
    assert expected in one_line(done)
    missing = tmp_path / "missing"
    done = cli("artifact", "export", "lab", "fit.weights", "--out", str(missing / "w.npy"), home=home)
    assert f"no folder {str(missing)!r} to write into; create it first" in one_line(done)
    assert not (tmp_path / "weights.csv").exists() and not missing.exists()
