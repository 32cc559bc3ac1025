"""Exports that run anywhere: a pipeline as a script, a notebook and a folder, an operation as a .py file.

Each export runs in a fresh virtual environment, in a subprocess with a bare environment (``env -i``-like:
PATH and HOME only, no PYTHONPATH, no PYTHONHASHSEED) and a temporary working folder, where the
``deepforge_panel`` package is checked to be unimportable; its outputs must be the bytes the workbench's run
stored (the same content hashes).

The fast tests use operations that need only the standard library, so their environment is really made from
the export's own requirements.txt (which lists nothing) with ``uv venv``: nothing of the workbench is in it.
The slow test exports the example's Keras pipeline, whose requirements.txt pins TensorFlow: installing that
into a fresh environment needs the package index (hundreds of MB; this machine's local index carries
``tensorflow-cpu`` only), so its fresh environment reaches the workbench environment's installed packages
through a ``.pth`` line instead. A plain path line does not run that folder's own ``.pth`` files, so the
editable install of ``deepforge_panel`` stays out of reach (checked), and every pin of requirements.txt is
checked to be the version that environment imports. Notebooks run with nbclient (a Jupyter kernel from the fresh
environment) where it is installed; the fast test, whose environment has no Jupyter, runs the notebook's code
cells in order in one fresh ``python`` process instead.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import io
import json
import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.compute import compute
from deepforge_panel.adapters.storage import storage
from deepforge_panel.cli import main as cli
from deepforge_panel.crdt import Home
from deepforge_panel.exports import ExportError, export_operation, export_pipeline, pipeline_download
from deepforge_panel.io_nodes import input_operation, output_operation
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.orchestrator import Orchestrator
from deepforge_panel.pipelines import PipelineError
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import ADD, SOURCE, new_project

JITTER = '''
import random

from utils.scale import twice

try:
    from deepforge import metric
except ImportError:  # outside the workbench

    def metric(name, value, step=None):
        pass


def _say(value):
    return f"jitter gives {value}"


class Jitter:
    """Doubles its input (a utility module's function) and adds unseeded noise: the job's seed decides it."""

    def __init__(self, scale: float = 1.0):
        self.scale = scale

    def execute(self, data):
        value = twice(data) + self.scale * random.random()
        metric("value", value)
        print(_say(value))
        return value
'''

ORDER = '''
import os


def _say(value):  # Jitter binds this name too, differently: this operation is kept as a module
    return f"order gives {value}"


class Order:
    """Words in a set's order, which PYTHONHASHSEED decides, and what the project's init code set."""

    def __init__(self, words: str = "alpha beta gamma delta epsilon zeta eta theta iota kappa"):
        self.words = words

    def execute(self, value):
        result = {"value": value, "order": list(set(self.words.split())), "init": os.environ.get("EXPORT_INIT")}
        print(_say(result))
        return result
'''

INIT = 'import os\n\nos.environ["EXPORT_INIT"] = "the init code ran"\n'


def bare(home: Path) -> dict[str, str]:
    """A subprocess's whole environment (as ``env -i PATH=... HOME=...``), its home a temporary folder."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home)}


def _uv() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def fresh_venv(folder: Path, see_workbench: bool = False) -> Path:
    """A new virtual environment's interpreter; with ``see_workbench`` it also reaches the workbench
    environment's installed packages (a ``.pth`` line), but not ``deepforge_panel`` (checked)."""
    subprocess.run([_uv(), "venv", "--quiet", "--python", sys.executable, str(folder)], check=True, env=_uv_env())
    python = folder / "bin" / "python"
    if see_workbench:
        purelib = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        Path(purelib, "workbench-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = subprocess.run(
        [str(python), "-c", "import deepforge_panel"], capture_output=True, text=True, env=bare(folder), cwd=folder
    )
    assert probe.returncode != 0 and "No module named 'deepforge_panel'" in probe.stderr, "the workbench is out"
    return python


def _uv_env() -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)
    return env


def install_requirements(python: Path, requirements_txt: Path) -> list[str]:
    """Install what requirements.txt lists into ``python``'s environment (offline); returns its lines."""
    lines = [x for x in requirements_txt.read_text().splitlines() if x.strip() and not x.startswith("#")]
    if lines:
        subprocess.run(
            [_uv(), "pip", "install", "--offline", "--python", str(python), "-r", str(requirements_txt)],
            check=True,
            env=_uv_env(),
        )
    return lines


def run_export(python: Path, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run an export in a bare environment from ``cwd``; its stdout (the test fails with its stderr)."""
    cwd.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [str(python), *argv], capture_output=True, text=True, env={**bare(cwd), **(env or {})}, cwd=cwd, timeout=600
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


CELLS_RUNNER = """
import json, sys
namespace = {"__name__": "__main__"}
for cell in json.load(open(sys.argv[1]))["cells"]:
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), "<cell>", "exec"), namespace)
"""
"""Runs a notebook's code cells in order in one namespace, as a kernel would (for an environment without Jupyter)."""

NBCLIENT_RUNNER = """
import sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}).execute()
for cell in notebook.cells:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            sys.stdout.write(output["text"])
"""
"""Runs a notebook through a Jupyter kernel of this interpreter (nbclient's native ``python3``)."""


def run_notebook(python: Path, notebook: Path, cwd: Path, jupyter: bool) -> str:
    """Run the notebook in ``cwd`` with PYTHONHASHSEED=0 (a kernel cannot restart itself with it, as a script does)."""
    runner = cwd.parent / f"{cwd.name}-runner.py"
    runner.write_text(NBCLIENT_RUNNER if jupyter else CELLS_RUNNER)
    return run_export(python, [str(runner), str(notebook)], cwd, env={"PYTHONHASHSEED": "0"})


def exported_hashes(out: Path) -> dict[str, str]:
    """File name -> content hash of every output an export wrote, checked against the bytes on disk."""
    manifest = json.loads((out / "outputs.json").read_text())
    found = {}
    for ports in manifest.values():
        for record in ports.values():
            data = (out / record["file"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == record["hash"] and len(data) == record["size"]
            found[record["file"]] = record["hash"]
    return found


def workbench_hashes(project: Project, execution: Any) -> dict[str, str]:
    """``node.port`` -> content hash of what the workbench's run stored."""
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    return {
        f"{job.name}.{port}": project.artifacts.get(artifact).hash
        for job in execution.jobs.values()
        for port, artifact in job.outputs.items()
        if project.artifacts.get(artifact).provenance.get("node") == job.name
    }


# -- a pipeline that needs only the standard library --------------------------------------------


def _noisy_project(tmp_path: Path) -> tuple[Project, Orchestrator]:
    """Input(an artifact: 20) -> Jitter -> Order -> Output 'final', with a utility module and init code."""
    project = new_project(tmp_path)
    orchestrator = Orchestrator(
        project, compute("local"), storage((tmp_path / "artifacts").as_uri()), tmp_path / "jobs"
    )
    project.utilities.add("scale", "def twice(x):\n    return 2 * x\n")
    project.utilities.set_init_code(INIT)
    make = project.pipelines.create("make")
    project.pipelines.add_node(make, project.operations.add(SOURCE), name="source", attributes={"value": 20})
    assert asyncio.run(orchestrator.run("make")).status == "succeeded"
    pid = project.pipelines.create("noisy")
    pipelines = project.pipelines
    fed = pipelines.add_node(pid, input_operation(project), name="start", attributes={"artifact": "source.data"})
    jitter = pipelines.add_node(pid, project.operations.add(JITTER), name="jitter", attributes={"scale": 0.5})
    order = pipelines.add_node(pid, project.operations.add(ORDER), name="order words")
    final = pipelines.add_node(pid, output_operation(project), name="save", attributes={"name": "final"})
    pipelines.add_edge(pid, fed, "data", jitter, "data")
    pipelines.add_edge(pid, jitter, "value", order, "value")
    pipelines.add_edge(pid, order, "result", final, "data")
    return project, orchestrator


def test_a_pipeline_exported_three_ways_runs_in_a_fresh_environment_as_in_the_workbench(tmp_path: Path) -> None:
    project, orchestrator = _noisy_project(tmp_path)
    expected = workbench_hashes(project, asyncio.run(orchestrator.run("noisy", cache=False)))
    final = project.artifacts.find("final")
    assert set(expected) == {"jitter.value", "order words.result"}

    exports = tmp_path / "exports"
    exports.mkdir()
    script = export_pipeline(project, "noisy", "script", exports / "noisy.py")
    notebook = export_pipeline(project, "noisy", "notebook", exports / "noisy.ipynb")
    folder = export_pipeline(project, "noisy", "folder", exports / "noisy")
    assert script.requirements == notebook.requirements == folder.requirements == [], "the standard library only"
    python = fresh_venv(tmp_path / "venv")
    assert install_requirements(python, folder.path / "requirements.txt") == []
    assert sorted(p.name for p in folder.path.iterdir()) == [
        "deepforge",
        "library_init.py",
        "operations",
        "requirements.txt",
        "run.py",
        "utils",
    ]

    started = time.monotonic()
    said = {
        "script": run_export(python, [str(script.path), "--out", "out"], tmp_path / "run-script"),
        "folder": run_export(python, [str(folder.path / "run.py"), "--out", "out"], tmp_path / "run-folder"),
        "notebook": run_notebook(python, notebook.path, tmp_path / "run-notebook", jupyter=False),
    }
    took = time.monotonic() - started
    for fmt, stdout in said.items():
        out = tmp_path / f"run-{fmt}" / ("outputs" if fmt == "notebook" else "out")
        hashes = exported_hashes(out)
        assert hashes == {
            "jitter.value": expected["jitter.value"],
            "order_words.result": expected["order words.result"],
            "final": final.hash,
        }, fmt
        result = serialization.loads((out / "final").read_bytes())
        assert result["init"] == "the init code ran" and result["value"] > 40, result
        assert "[jitter]" in stdout and "jitter gives" in stdout and "order gives" in stdout, stdout
    print(f"three exports ran in {took:.1f} s")

    other = tmp_path / "other.artifact"
    other.write_bytes(serialization.dumps(100))
    run_export(python, [str(folder.path / "run.py"), "--input", f"start={other}"], tmp_path / "run-other")
    given = serialization.loads((tmp_path / "run-other" / "outputs" / "final").read_bytes())
    assert 200 < given["value"] < 201 and given["value"] - 200 == pytest.approx(result["value"] - 40), "same noise"


def test_the_script_keeps_each_operations_code_as_written_and_clashing_names_apart(tmp_path: Path) -> None:
    project, _ = _noisy_project(tmp_path)
    source = export_pipeline(project, "noisy", "script", tmp_path / "noisy.py").path.read_text()
    assert JITTER.strip() in source, "Jitter's code stands as written"
    assert "'operations.Order': '''" in source and "from operations.Order import Order" in source, "kept a module"
    cells = json.loads(export_pipeline(project, "noisy", "notebook", tmp_path / "n.ipynb").path.read_text())["cells"]
    codes = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert len(codes) == 5, "setup, one per operation, parameters, run"
    assert JITTER.strip() in codes[1] and "class Order:" in codes[2]
    assert codes[3].startswith("# Parameters") and "INPUTS = {'start': 'file://" in codes[3]
    assert "run_pipeline(_standalone.Run(OUT, INPUTS, HASHES, close_figures=False))" in codes[4]


def test_an_operation_exports_as_a_py_file_that_runs_on_given_inputs(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    project.operations.add(ADD)
    out = tmp_path / "add.py"
    done = export_operation(project, "Add", out)
    assert done.requirements == [] and "class Add:" in out.read_text()
    python = fresh_venv(tmp_path / "venv")
    given = tmp_path / "data.artifact"
    given.write_bytes(serialization.dumps(41))
    run_export(python, [str(out), "--input", f"data={given}", "--out", "out"], tmp_path / "run")
    assert serialization.loads((tmp_path / "run" / "out" / "Add.result").read_bytes()) == 42

    refused = subprocess.run(
        [str(python), str(out), "--input", "nope=x"], capture_output=True, text=True, env=bare(tmp_path), cwd=tmp_path
    )
    assert refused.returncode == 2 and "there is no input 'nope'; the inputs are: data" in refused.stderr
    missing = subprocess.run([str(python), str(out)], capture_output=True, text=True, env=bare(tmp_path), cwd=tmp_path)
    assert missing.returncode == 1 and "input 'data' has no default location: give it with --input data=PATH" in (
        missing.stderr
    )


def test_what_cannot_be_exported_says_why(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    pid = project.pipelines.create("p")
    project.pipelines.add_node(pid, project.operations.add(ADD), name="add")
    with pytest.raises(PipelineError, match="required input 'data' is not connected"):
        export_pipeline(project, "p", "script", tmp_path / "p.py")
    with pytest.raises(ExportError, match="export format is one of script, notebook, folder, not 'zip'"):
        export_pipeline(project, "p", "zip", tmp_path / "p.zip")
    with pytest.raises(PipelineError, match=r"no operation 'Nope' in project 'test' \(operations: Add\)"):
        export_operation(project, "Nope", tmp_path / "n.py")
    with pytest.raises(ExportError, match="it is a folder"):
        export_operation(project, "Add", tmp_path)


def test_the_cli_exports_a_pipeline_and_an_operation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    project = new_project(tmp_path)
    pid = project.pipelines.create("one")
    project.pipelines.add_node(pid, project.operations.add(SOURCE), name="source")
    project.store.close()
    assert cli(["--home", str(home), "export", "test", "one", "--format", "folder", "--out", str(tmp_path / "f")]) == 0
    assert "exported pipeline 'one' as a folder" in capsys.readouterr().out
    assert (tmp_path / "f" / "run.py").is_file() and (tmp_path / "f" / "operations" / "Source.py").is_file()
    assert cli(["--home", str(home), "export", "test", "--operation", "Source", "--out", str(tmp_path / "s.py")]) == 0
    assert cli(["--home", str(home), "export", "test", "--out", str(tmp_path / "x.py")]) == 2
    assert "export a PIPELINE (with --format) or one --operation NAME" in capsys.readouterr().err
    store = Home(home).open("test")
    try:
        name, data = pipeline_download(Project.open(store), "one", "folder")
    finally:
        store.close()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert name == "one.zip" and "one/run.py" in archive.namelist() and "one/requirements.txt" in archive.namelist()


# -- the example's Keras pipeline ----------------------------------------------------------------


@pytest.mark.slow
def test_the_examples_train_pipeline_exported_three_ways_gives_the_workbenchs_model_and_accuracy(
    tmp_path: Path,
) -> None:
    from deepforge_panel.workspace import Workspace

    jupyter = subprocess.run([sys.executable, "-c", "import nbclient, ipykernel"], capture_output=True).returncode == 0
    workspace = Workspace(tmp_path / "home")
    project = workspace.open("digits")
    started = time.monotonic()
    expected = workbench_hashes(project, asyncio.run(workspace.orchestrator(project).run("train", cache=False)))
    workbench_took = time.monotonic() - started
    assert set(expected) == {
        "load.dataset",
        "split.train",
        "split.test",
        "train.model",
        "score.accuracy",
        "confusion.matrix",
    }
    accuracy = project.artifacts.find("score.accuracy")

    exports = tmp_path / "exports"
    exports.mkdir()
    script = export_pipeline(project, "train", "script", exports / "train.py")
    notebook = export_pipeline(project, "train", "notebook", exports / "train.ipynb")
    folder = export_pipeline(project, "train", "folder", exports / "train")
    python = fresh_venv(tmp_path / "venv", see_workbench=True)
    pins = dict(line.split("==") for line in install_requirements_pins(folder.path / "requirements.txt"))
    assert {"keras", "tensorflow", "scikit-learn", "numpy", "matplotlib"} <= set(pins)
    check = "import importlib.metadata as m, json, sys; print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    seen = json.loads(run_export(python, ["-c", check, *pins], tmp_path))
    assert seen == pins, "the fresh environment has what requirements.txt pins"

    took: dict[str, float] = {}
    for fmt, how in (
        ("script", lambda cwd: run_export(python, [str(script.path)], cwd)),
        ("folder", lambda cwd: run_export(python, [str(folder.path / "run.py")], cwd)),
        ("notebook", lambda cwd: run_notebook(python, notebook.path, cwd, jupyter=jupyter)),
    ):
        began = time.monotonic()
        stdout = how(tmp_path / f"run-{fmt}")
        took[fmt] = time.monotonic() - began
        hashes = exported_hashes(tmp_path / f"run-{fmt}" / "outputs")
        assert hashes == expected, f"{fmt}: the same bytes as the workbench's artifacts, the model's included"
        figures = {p.name for p in (tmp_path / f"run-{fmt}" / "outputs").glob("*.png")}
        shown = {"train.figure-1.png"} if fmt == "notebook" else {"train.figure-1.png", "confusion.figure-1.png"}
        assert figures == shown, f"{fmt}: the figures left open are saved (a notebook shows what plt.show() closed)"
        assert f"accuracy: {serialization.loads(workbench_bytes(project, accuracy)):.4f}" in stdout
    print(f"workbench {workbench_took:.1f} s; exports " + ", ".join(f"{f} {s:.1f} s" for f, s in took.items()))
    print(f"notebook ran with {'nbclient' if jupyter else 'its cells in order in one python process'}")


def install_requirements_pins(requirements_txt: Path) -> list[str]:
    """requirements.txt's lines, each a ``name==version`` pin."""
    lines = [x for x in requirements_txt.read_text().splitlines() if x.strip() and not x.startswith("#")]
    assert all("==" in line for line in lines), lines
    return lines


def workbench_bytes(project: Project, artifact: Any) -> bytes:
    from deepforge_panel.jobruntime.deepforge.storage import fetch

    return fetch(artifact.url, {}, artifact.hash)


@pytest.mark.slow
def test_the_example_cnn_exported_as_a_folder_builds_its_architecture_from_the_generated_code(tmp_path: Path) -> None:
    from deepforge_panel.workspace import Workspace

    workspace = Workspace(tmp_path / "home")
    project = workspace.open("digits")
    expected = workbench_hashes(project, asyncio.run(workspace.orchestrator(project).run("train-cnn", cache=False)))
    folder = export_pipeline(project, "train-cnn", "folder", tmp_path / "train-cnn")
    architecture = (folder.path / "references" / "digits_cnn.py").read_text()
    assert "def build_model()" in architecture and "keras.layers.Conv2D(" in architecture
    python = fresh_venv(tmp_path / "venv", see_workbench=True)
    started = time.monotonic()
    run_export(python, [str(folder.path / "run.py"), "--out", "out"], tmp_path / "run")
    print(f"the exported CNN pipeline ran in {time.monotonic() - started:.1f} s")
    assert exported_hashes(tmp_path / "run" / "out") == expected, "the same model bytes, the same accuracy"


@pytest.mark.parametrize("text", ["plain\n", "a 'quoted' \"text\"'", "'''inside'''", "back\\slash\\n", "tab\tcr\r\n"])
def test_embedded_code_reads_back_as_written(text: str) -> None:
    from deepforge_panel.exports.render import literal

    assert ast.literal_eval(literal(text)) == text


def test_inputs_stored_remotely_need_fsspec_and_their_protocol(tmp_path: Path) -> None:
    project = new_project(tmp_path)
    project.artifacts.add("remote", "int", "s3://bucket/ab/" + "ab" * 32, "ab" * 32, 3)
    pid = project.pipelines.create("fed")
    start = project.pipelines.add_node(pid, input_operation(project), name="start", attributes={"artifact": "remote"})
    add = project.pipelines.add_node(pid, project.operations.add(ADD), name="add")
    project.pipelines.add_edge(pid, start, "data", add, "data")
    done = export_pipeline(project, "fed", "script", tmp_path / "fed.py")
    assert {line.split("==")[0] for line in done.requirements} == {"fsspec", "s3fs"}
    assert f"INPUTS = {{'start': 's3://bucket/ab/{'ab' * 32}'}}" in done.path.read_text()
