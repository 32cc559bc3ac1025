"""What exports run on: inputs from paths or URLs (hash-checked where the workbench stored them), outputs as the
workbench stores them, each operation from a job's starting state, figures saved, clear argument errors."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from deepforge_panel.jobruntime.deepforge import serialization, standalone


def test_outputs_are_written_as_stored_and_come_back_as_the_next_job_would_read_them(tmp_path: Path) -> None:
    run = standalone.Run(tmp_path / "out")
    value = {"x": [1, 2, 3]}
    back = run.output("fit", "model", value, "fit.model")
    data = (tmp_path / "out" / "fit.model").read_bytes()
    assert data == serialization.dumps(value) and back == value and back is not value
    manifest = json.loads((tmp_path / "out" / standalone.MANIFEST).read_text())
    assert manifest == {
        "fit": {
            "model": {
                "file": "fit.model",
                "hash": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "datatype": "dict",
            }
        }
    }
    assert standalone.load(tmp_path / "out" / "fit.model") == value


def test_an_input_stored_by_the_workbench_is_checked_against_its_hash_and_a_given_one_is_not(tmp_path: Path) -> None:
    stored = tmp_path / "ab" / "stored"
    stored.parent.mkdir()
    stored.write_bytes(serialization.dumps(41))
    digest = hashlib.sha256(stored.read_bytes()).hexdigest()
    url = stored.as_uri()
    assert standalone.Run(tmp_path, {"data": url}, {url: digest}).input("data") == 41

    stored.write_bytes(serialization.dumps(666))
    with pytest.raises(ValueError, match="does not match its hash"):
        standalone.Run(tmp_path, {"data": url}, {url: digest}).input("data")
    assert standalone.Run(tmp_path, {"data": str(stored)}, {url: digest}).input("data") == 666, "given: not checked"

    with pytest.raises(FileNotFoundError, match=r"input 'data': no file .*; give another with --input data=PATH"):
        standalone.Run(tmp_path, {"data": str(tmp_path / "gone")}).input("data")
    with pytest.raises(ValueError, match="input 'data' has no default location: give it with --input data=PATH"):
        standalone.Run(tmp_path, {"data": ""}).input("data")


def test_each_operation_starts_from_a_jobs_random_state(tmp_path: Path) -> None:
    run = standalone.Run(tmp_path)
    run.start("a")
    first = random.random()
    random.random()
    run.start("b")
    assert random.random() == first


def test_figures_left_open_are_saved_once(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = standalone.Run(tmp_path, close_figures=False)
    plt.subplots()
    run.end("plot", "plot")
    run.end("next", "next")
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["plot.figure-1.png"]
    plt.close("all")


def test_arguments_name_the_inputs_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    defaults = {"data": "file:///stored", "labels": ""}
    given, out = standalone.parse_arguments(["--input", "labels=l.pkl", "--out", "o"], defaults, "test")
    assert given == {"data": "file:///stored", "labels": "l.pkl"} and out == "o"
    for argv, said in (
        (["--input", "nope=x"], "there is no input 'nope'; the inputs are: data, labels"),
        (["--input", "data"], "expected NAME=PATH"),
    ):
        with pytest.raises(SystemExit):
            standalone.parse_arguments(argv, defaults, "test")
        assert said in capsys.readouterr().err
