"""The command line, run as a real process on a fresh home: the digits example end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepforge_panel.crdt import Home
from deepforge_panel.project import Project
from deepforge_panel.runners import current_runner
from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import SOURCE, cli, start_sleepy_run


@pytest.mark.slow
def test_digits_example_trains_scores_and_keeps_provenance(tmp_path: Path) -> None:
    home = tmp_path / "home"
    listing = cli("projects", home=home)
    assert listing.returncode == 0 and "digits" in listing.stdout and "pipelines: train" in listing.stdout

    done = cli("run", "digits", "train", "--set", "train.epochs=4", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[train] epoch 4/4" in done.stdout
    accuracy = float(done.stdout.split("accuracy: ")[1].split()[0])
    assert accuracy > 0.8, "a small network learns the bundled digits"
    assert "artifact train.model: keras" in done.stdout

    project = Workspace(home).open("digits")
    execution = project.executions.all()[-1]
    train = execution.job("train")
    assert train.status == "succeeded" and train.attributes["epochs"] == 4
    assert train.progress == {"current": 4, "total": 4, "label": "epoch"}
    (figure,) = train.figures.values()
    losses = figure["axes"][0]["lines"][0]["y"]
    assert len(losses) == 4 and losses[-1] < losses[0], "the loss curve arrived as data"

    model = project.artifacts.get(train.outputs["model"])
    assert model.type.startswith("keras.") and model.size > 0
    prov = model.provenance
    assert prov["node"] == "train" and prov["attributes"]["epochs"] == 4
    assert "class TrainClassifier" in prov["operation"]["code"]
    split = prov["inputs"]["train"]["provenance"]
    assert split["node"] == "split" and "class TrainTestSplit" in split["operation"]["code"]
    load = split["inputs"]["dataset"]["provenance"]
    assert load["node"] == "load" and load["attributes"] == {"name": "digits"}

    log = cli("log", "digits", home=home)
    assert "Run pipeline train" in log.stdout and "Create the digits example" in log.stdout


def test_failed_job_gives_a_nonzero_exit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    workspace = Workspace(home, examples=False)
    project = workspace.create("broken")
    op = project.operations.add("class Fail:\n    def execute(self):\n        raise RuntimeError('nope')\n")
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, op, name="fail")
    project.store.close()
    done = cli("run", "broken", "p", home=home)
    assert done.returncode == 1
    assert "[fail] failed" in done.stdout and "RuntimeError: nope" in done.stdout


def test_bad_arguments_are_explained(tmp_path: Path) -> None:
    home = tmp_path / "home"
    unknown = cli("run", "nope", "train", home=home)
    assert unknown.returncode == 2 and "no project 'nope'" in unknown.stderr and "digits" in unknown.stderr
    bad_set = cli("run", "digits", "train", "--set", "train.epochs=many", home=home)
    assert bad_set.returncode == 2 and "train.epochs = 'many'" in bad_set.stderr
    huge = cli("run", "digits", "train", "--set", "train.epochs=99999999999999999999999", home=home)
    assert (
        huge.returncode == 2 and "train.epochs = 99999999999999999999999: must be a whole number between" in huge.stderr
    )
    malformed = cli("run", "digits", "train", "--set", "epochs", home=home)
    assert malformed.returncode != 0 and "expected NODE.ATTR=VALUE" in malformed.stderr


def test_a_killed_run_is_marked_interrupted_and_leaves_no_orphan_job(tmp_path: Path) -> None:
    import signal

    from tests.conftest import wait_until

    home, runner, job_pid = start_sleepy_run(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=10)

    def gone() -> bool:
        try:
            os.kill(job_pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, timeout=10, message="the orphaned job ends itself")
    assert _raw_open(home, "sleepy").executions.all()[-1].status == "running", "nobody settled it yet"
    log = cli("log", "sleepy", home=home)
    assert log.returncode == 0, log.stderr
    execution = _raw_open(home, "sleepy").executions.all()[-1]
    assert execution.status == "failed" and "stopped before it ended" in execution.error
    assert execution.job("sleep").status == "cancelled" and "interrupted" in execution.job("sleep").error
    workspace = Workspace(home, examples=False)
    assert workspace.orchestrator(workspace.open("sleepy")).recover() == []


def _raw_open(home: Path, name: str) -> Project:
    """The project as stored, opened without the workspace (which would settle executions)."""
    return Project.open(Home(home).open(name))


def _left_running(home: Path, name: str) -> str:
    """An execution of ``name``'s pipeline "p" recorded as running by a process that has since exited."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    project = _raw_open(home, name)
    pipeline = project.pipelines.find("p")
    runner = current_runner().split(":")[0] + f":{dead.pid}"
    execution_id, _ = project.executions.create(pipeline, "c0", {n: {} for n in pipeline.nodes}, "ada", runner=runner)
    project.close()
    return execution_id


@pytest.mark.parametrize("command", ["log", "artifacts"])
def test_reading_a_project_settles_executions_whose_runner_is_gone(tmp_path: Path, command: str) -> None:
    home = tmp_path / "home"
    project = Workspace(home, examples=False).create("left")
    project.pipelines.add_node(project.pipelines.create("p"), project.operations.add(SOURCE), name="src")
    project.close()
    execution_id = _left_running(home, "left")
    done = cli(command, "left", home=home)
    assert done.returncode == 0, done.stderr
    execution = _raw_open(home, "left").executions.get(execution_id)
    assert execution.status == "failed" and execution.job("src").status == "cancelled"


def test_a_run_names_why_its_execution_failed(tmp_path: Path) -> None:
    """An unexpected error while driving the run (here: a jobs folder that is a file) is shown, not a success."""
    home = tmp_path / "home"
    project = Workspace(home, examples=False).create("blocked")
    project.pipelines.add_node(project.pipelines.create("p"), project.operations.add(SOURCE), name="src")
    project.close()
    stored = _raw_open(home, "blocked")
    (Workspace(home, examples=False).project_dir(stored) / "jobs").write_text("not a folder")
    stored.close()
    done = cli("run", "blocked", "p", home=home)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[src] failed" in done.stdout and "the workbench could not run job src" in done.stdout
    assert "execution" in done.stderr and "failed: job src failed:" in done.stderr


@pytest.mark.slow
def test_an_operation_trains_an_architecture_it_references(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = cli("run", "digits", "train-cnn", "--set", "train.epochs=3", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[train] epoch 3/3" in done.stdout
    assert float(done.stdout.split("accuracy: ")[1].split()[0]) > 0.5
    project = Workspace(home).open("digits")
    train = project.executions.all()[-1].job("train")
    model = project.artifacts.get(train.outputs["model"])
    reference = model.provenance["references"]["architecture"]
    assert reference["library"] == "keras" and reference["name"] == "digits-cnn"
    assert "keras.layers.Conv2D" in reference["code"], "provenance keeps the generated model code"


@pytest.mark.slow
def test_a_trained_model_artifact_exports_as_a_keras_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli("run", "digits", "train", "--set", "train.epochs=1", home=home).returncode == 0
    listing = cli("artifacts", "digits", home=home)
    assert "train.model" in listing.stdout and "by train (train)" in listing.stdout
    out = tmp_path / "model.keras"
    done = cli("artifact", "export", "digits", "train.model", "--out", str(out), home=home)
    assert done.returncode == 0, done.stderr
    check = subprocess.run(
        [sys.executable, "-c", f"import keras; m = keras.saving.load_model({str(out)!r}); print(m.count_params())"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert int(check.stdout.split()[-1]) > 0
    missing = cli("artifact", "export", "digits", "nope", "--out", str(out), home=home)
    assert missing.returncode == 2 and "no artifact 'nope'" in missing.stderr


def test_run_prints_typed_events_by_kind(capsys: pytest.CaptureFixture[str]) -> None:
    from deepforge_panel.cli import _print_event
    from deepforge_panel.events import ExecutionStatus, JobStatus, Line, Malformed, Metric

    _print_event("e1", "fit", JobStatus("running"))
    _print_event("e1", "fit", Line("stdout", "epoch 1/1 [=====>", newline=False))
    _print_event("e1", "fit", Line("stderr", "careful"))
    _print_event("e1", "fit", Metric("loss", None, 3))
    _print_event("e1", "fit", Malformed("oops", "not JSON"))
    _print_event("e1", "fit", JobStatus("failed", "Traceback ...\nValueError: bad\n"))
    _print_event("e1", "", ExecutionStatus("failed"))
    out, err = capsys.readouterr()
    assert (
        out
        == "[fit] running\n[fit] epoch 1/1 [=====>\n[fit] failed\nTraceback ...\nValueError: bad\nexecution e1 failed\n"
    )
    assert err == "[fit] ! careful\n[fit] ! [deepforge] ignored an event from the job (not JSON): oops\n"


def test_run_on_a_dask_cluster_with_compute_options(tmp_path: Path) -> None:
    """``--compute dask --compute-option n_workers=1`` starts a real cluster for the run and stops it after."""
    from tests.deepforge_panel.helpers import ADD

    home = tmp_path / "home"
    workspace = Workspace(home, examples=False)
    project = workspace.create("tiny")
    source, add = project.operations.add(SOURCE), project.operations.add(ADD)
    pid = project.pipelines.create("chain")
    first = project.pipelines.add_node(pid, source, name="source")
    second = project.pipelines.add_node(pid, add, name="add")
    project.pipelines.add_edge(pid, first, "data", second, "data")
    project.close()

    done = cli("run", "tiny", "chain", "--compute", "dask", "--compute-option", "n_workers=1", home=home)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[add] succeeded" in done.stdout and "artifact add.result: int" in done.stdout

    bad = cli("run", "tiny", "chain", "--compute-option", "not a pair", home=home)
    assert bad.returncode != 0 and "expected KEY=VALUE" in bad.stderr
