from __future__ import annotations

from pathlib import Path

import pytest

from deepforge_panel.crdt.home import HOME_ENV
from deepforge_panel.workspace import Workspace


def test_example_is_created_on_first_start_only(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "home")
    assert [e.name for e in workspace.projects()] == ["digits"]
    digits = workspace.open("digits")
    assert [p.name for p in digits.pipelines.all()] == ["train", "train-cnn", "train-inception"]
    assert {o.name for o in digits.operations.all()} >= {
        "LoadDataset",
        "TrainTestSplit",
        "TrainClassifier",
        "ScoreClassifier",
    }
    assert all(o.error is None for o in digits.operations.all())
    for pipeline in digits.pipelines.all():
        digits.pipelines.check_runnable(pipeline.id)
    from deepforge_panel.libraries import library

    architectures = library("keras").resources(digits)
    assert [a.name for a in architectures.all()] == ["digits-cnn", "digits-inception"]
    inception = architectures.find("digits-inception")
    merged = inception.layer("merged")
    assert len(inception.inputs_of(merged.id)) == 4, "four parallel branches concatenated"
    assert sum(1 for layer in inception.layers.values() if layer.type == "Conv2D") == 6
    digits.store.close()

    workspace.home.delete("digits")
    assert Workspace(tmp_path / "home").projects() == [], "a deleted example is not brought back"


def test_home_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "env-home"))
    workspace = Workspace(examples=False)
    assert workspace.path == tmp_path / "env-home"
    workspace.create("x")
    assert (tmp_path / "env-home" / "projects").is_dir()
