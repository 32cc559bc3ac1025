"""Importing DeepForge project exports: what comes over, that it runs, and what bad files do."""

from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from deepforge_panel.deepforge_import import ImportFailed, import_webgmex
from deepforge_panel.libraries import library
from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.webgmex_files import DeepForgeExport

HELPERS = """
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
"""

INIT_CODE = """# Custom serializers can be defined here.
import deepforge
from utils.helpers import Point


def dump_point(point, outfile):
    outfile.write(f"{point.x},{point.y}".encode())


def load_point(infile):
    x, y = infile.read().decode().split(",")
    return Point(float(x), float(y))


deepforge.serialization.register(Point, dump_point, load_point)
"""

SCALE = """class Scale():
    def __init__(self, factor=1.0):
        self.factor = factor

    def execute(self, data):
        return [self.factor * x for x in data]
"""

TO_POINT = """from utils.helpers import Point
import matplotlib.pyplot as plt


class ToPoint():
    def execute(self, values):
        plt.plot(values)
        plt.show()
        point = Point(sum(values), len(values))
        return point
"""

DESCRIBE = """class Describe():
    def __init__(self, label="point"):
        self.label = label

    def execute(self, point):
        self.text = f"{self.label}: {type(point).__name__}({point.x}, {point.y})"
        print(self.text)
        return self.text
"""

TRAIN = """class Train():
    def __init__(self, model, epochs=2):
        self.model = model
        self.epochs = epochs

    def execute(self):
        return self.model.count_params()
"""

SPLIT = """class Split():
    def execute(self, data):
        half = len(data) // 2
        return data[:half], data[half:]
"""


def build_export(path: Path) -> Path:
    """A DeepForge project with every kind of thing an import carries, as DeepForge writes it."""
    export = DeepForgeExport("guest+Shapes")
    export.utility("helpers.py", HELPERS)
    export.init_code(INIT_CODE)
    scale = export.operation_definition(
        "Scale", SCALE, inputs=("data",), outputs=("result",), attributes={"factor": ("float", 1.0)}
    )
    to_point = export.operation_definition("ToPoint", TO_POINT, inputs=("values",), outputs=("point",))
    describe = export.operation_definition(
        "Describe", DESCRIBE, inputs=("point",), outputs=("text",), attributes={"label": ("string", "point")}
    )
    train = export.operation_definition(
        "Train",
        TRAIN,
        outputs=("result",),
        attributes={"epochs": ("integer", 2)},
        references=("model",),
    )
    export.operation_definition(
        "Split",
        SPLIT,
        inputs=("data",),
        outputs=("result", "result_1"),
        conda_env="dependencies:\n  - python=3.11\n  - pip:\n    - tabulate==0.9.0\n",
    )
    numbers = export.artifact("numbers", [1.0, 2.0, 3.0], "builtins.list")
    export.node(export.artifacts, "remote", export.data, atr={"data": json.dumps({"backend": "s3", "data": {}})})

    pipeline = export.pipeline("points")
    source = export.instance(pipeline, export.input, x=10, y=20)
    export.pointer(source, "artifact", numbers)
    scaled = export.instance(pipeline, scale, x=200, y=20, factor="2.5")
    made = export.instance(pipeline, to_point, x=400, y=20)
    described = export.instance(pipeline, describe, x=600, y=20, label="shape")
    saved = export.instance(pipeline, export.output, x=800, y=20, saveName="description")
    export.connect(pipeline, source, "data", scaled, "data")
    export.connect(pipeline, scaled, "result", made, "values")
    export.connect(pipeline, made, "point", described, "point")
    export.connect(pipeline, described, "text", saved, "saveData")

    origin = export.artifact("origin", None, "utils.helpers.Point", content=b"1.5,2.5")  # the init code's dump
    stored = export.pipeline("stored")
    source = export.instance(stored, export.input, x=10, y=20)
    export.pointer(source, "artifact", origin)
    described = export.instance(stored, describe, x=200, y=20, label="origin")
    export.connect(stored, source, "data", described, "point")

    arch = export.keras_architecture("classifier")
    features = export.layer(arch, "Input", shape="(8,)")
    hidden = export.layer(arch, "Dense", features, units="16", activation="relu")
    dropped = export.layer(arch, "Dropout", hidden, rate="0.25")
    export.layer(arch, "Dense", dropped, units="3", activation="softmax")
    training = export.pipeline("training")
    trainer = export.instance(training, train, epochs="3")  # DeepForge's default place: stacked at (100, 100)
    export.pointer(trainer, "model", arch)
    params = export.instance(training, export.output, saveName="parameters")
    export.connect(training, trainer, "result", params, "saveData")
    export.node(export.executions, "points_execution", export.execution)
    return export.write(path)


@pytest.fixture
def imported(tmp_path: Path):
    workspace = Workspace(tmp_path / "home", examples=False)
    project, report = import_webgmex(workspace, build_export(tmp_path / "shapes.webgmex"))
    yield workspace, project, report
    project.close()


def test_operations_come_over_with_the_interfaces_deepforge_shows(imported) -> None:
    _, project, report = imported
    ops = {op.name: op for op in project.operations.all()}
    assert sorted(report.operations) == ["Describe", "Scale", "Split", "ToPoint", "Train"]
    scale = ops["Scale"].interface
    assert [p.name for p in scale.inputs] == ["data"] and [p.name for p in scale.outputs] == ["result"]
    assert [(a.name, a.default) for a in scale.attributes] == [("factor", 1.0)]
    assert [p.name for p in ops["Split"].interface.outputs] == ["result", "result_1"]
    assert [p.name for p in ops["Describe"].interface.outputs] == ["text"]  # return self.text
    train = ops["Train"].interface
    assert [r.name for r in train.references] == ["model"] and [a.name for a in train.attributes] == ["epochs"]
    environment = project.operations.environment_of(ops["Split"].id)
    assert environment is not None and environment.python == "3.11"
    assert environment.requirements == ("tabulate==0.9.0",)


def test_pipelines_come_over_with_values_references_connections_and_layout(imported) -> None:
    from deepforge_panel.references import parse_reference

    _, project, report = imported
    assert sorted(report.pipelines) == ["points", "stored", "training"]
    points = project.pipelines.get(project.pipelines.find("points").id)
    ops = {op.id: op.name for op in project.operations.all()}
    by_op = {ops[n.operation]: n for n in points.nodes.values()}
    assert set(by_op) == {"Input", "Scale", "ToPoint", "Describe", "Output"}
    assert by_op["Scale"].attributes == {"factor": 2.5}  # DeepForge's text "2.5", as the attribute's type
    assert by_op["Describe"].attributes == {"label": "shape"}
    assert by_op["Output"].attributes == {"name": "description"}
    numbers = project.artifacts.get(by_op["Input"].attributes["artifact"])
    assert numbers.name == "numbers"
    assert (by_op["Scale"].x, by_op["Scale"].y) == (200.0, 20.0)
    edges = {
        (points.nodes[e.src].name, e.src_port, points.nodes[e.dst].name, e.dst_port) for e in points.edges.values()
    }
    names = {op: node.name for op, node in by_op.items()}
    assert edges == {
        (names["Input"], "data", names["Scale"], "data"),
        (names["Scale"], "result", names["ToPoint"], "values"),
        (names["ToPoint"], "point", names["Describe"], "point"),
        (names["Describe"], "text", names["Output"], "data"),
    }
    training = project.pipelines.get(project.pipelines.find("training").id)
    trainer = next(n for n in training.nodes.values() if ops[n.operation] == "Train")
    assert trainer.attributes == {"epochs": 3}
    library_name, resource = parse_reference(trainer.references["model"])
    assert library_name == "keras" and library("keras").resources(project).get(resource).name == "classifier"
    places = {(n.x, n.y) for n in training.nodes.values()}
    assert len(places) == len(training.nodes), "nodes DeepForge stacked at one place are spread out"


def test_artifacts_utilities_init_code_and_the_report(imported) -> None:
    workspace, project, report = imported
    numbers = next(a for a in project.artifacts.all() if a.name == "numbers")
    assert numbers.type == "list" and numbers.provenance["imported"]["from"] == "shapes.webgmex"
    stored = (workspace.project_dir(project) / "artifacts").rglob(numbers.hash)
    assert pickle.loads(next(stored).read_bytes()) == [1.0, 2.0, 3.0]
    assert project.utilities.modules() == {"helpers": HELPERS}
    assert "deepforge.serialization.register(Point, dump_point, load_point)" in project.utilities.init_code
    assert report.init_code
    notes = "\n".join(report.notes)
    assert "'remote' is kept in DeepForge's 's3' storage" in notes
    assert "1 past executions" in notes
    assert project.log()[0].message == "Import shapes.webgmex (DeepForge)"
    summary = report.summary()
    assert "5 operations, 3 pipelines, 1 architectures, 2 artifacts, 1 utility modules" in summary


def test_the_architecture_comes_over_layer_by_layer(imported) -> None:
    _, project, _ = imported
    arch = next(iter(library("keras").resources(project).all()))
    layers = [arch.layers[i] for i in arch.topological_order()]
    assert [(layer.type, layer.args) for layer in layers] == [
        ("InputLayer", {"shape": [8]}),
        ("Dense", {"units": 16, "activation": "relu"}),
        ("Dropout", {"rate": 0.25}),
        ("Dense", {"units": 3, "activation": "softmax"}),
    ]


def test_the_imported_pipeline_runs_with_its_utilities_serializer_and_figures(imported, tmp_path: Path) -> None:
    from deepforge_panel.artifacts import read_artifact
    from deepforge_panel.jobruntime.deepforge.serialization import loads

    workspace, project, _ = imported
    orchestrator = workspace.orchestrator(project)
    execution = asyncio.run(orchestrator.run("points"))
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    saved = next(a for a in project.artifacts.all() if a.name == "description")
    assert loads(read_artifact(saved, orchestrator.storage)) == "shape: Point(15.0, 3.0)"
    stored = asyncio.run(orchestrator.run("stored"))
    described = next(j for j in stored.jobs.values() if j.name.startswith("describe"))
    assert "origin: Point(1.5, 2.5)" in described.stdout, "a DeepForge artifact loads with the type's serializer"
    to_point = next(j for j in execution.jobs.values() if j.name.startswith("topoint"))
    point = next(a for a in project.artifacts.all() if a.provenance and a.provenance.get("job") == to_point.id)
    assert read_artifact(point, orchestrator.storage).endswith(b"\n15.0,3"), "written by the init code's dump"
    assert to_point.figures, "its matplotlib figure was recorded"


@pytest.mark.slow
def test_an_imported_operation_gets_the_imported_architecture_through_its_reference(imported) -> None:
    from deepforge_panel.artifacts import read_artifact
    from deepforge_panel.jobruntime.deepforge.serialization import loads

    workspace, project, _ = imported
    orchestrator = workspace.orchestrator(project)
    execution = asyncio.run(orchestrator.run("training"))
    assert execution.status == "succeeded", {j.name: j.error for j in execution.jobs.values()}
    saved = next(a for a in project.artifacts.all() if a.name == "parameters")
    assert loads(read_artifact(saved, orchestrator.storage)) == (8 * 16 + 16) + (16 * 3 + 3)


def test_the_command_line_imports_and_prints_the_report(tmp_path: Path) -> None:
    path = build_export(tmp_path / "shapes.webgmex")
    home = tmp_path / "home"
    command = [sys.executable, "-m", "deepforge_panel.cli", "import", str(path), "--name", "mine", "--home", str(home)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "imported shapes.webgmex as project 'mine'" in done.stdout
    assert "'remote' is kept in DeepForge's 's3' storage" in done.stdout
    again = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "a project named 'mine' already exists" in again.stderr


def _only_projects(workspace: Workspace) -> list[str]:
    return [entry.name for entry in workspace.projects()]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "not a .webgmex file"),
        (lambda p: p.write_text("not a zip"), "not a .webgmex file"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("other.json", "{}"), "no project.json"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("project.json", "{nope"), "not readable JSON"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("project.json", '{"objects": []}'), "no root object"),
    ],
)
def test_a_damaged_file_is_refused_saying_why_and_leaves_nothing(tmp_path: Path, damage, message: str) -> None:
    path = build_export(tmp_path / "shapes.webgmex")
    damage(path)
    workspace = Workspace(tmp_path / "home", examples=False)
    with pytest.raises(ImportFailed, match=message):
        import_webgmex(workspace, path)
    assert _only_projects(workspace) == []


def test_a_missing_object_names_the_node(tmp_path: Path) -> None:
    path = build_export(tmp_path / "shapes.webgmex")
    with zipfile.ZipFile(path) as archive:
        document = json.loads(archive.read("project.json"))
    root = next(o for o in document["objects"] if o["_id"] == document["rootHash"])
    operations = next(
        key for key, value in root.items() if isinstance(value, str) and _named(document, value, "MyOperations")
    )
    lost = next(v for k, v in _object(document, root[operations]).items() if isinstance(v, str) and v.startswith("#"))
    document["objects"] = [o for o in document["objects"] if o["_id"] != lost]
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.json", json.dumps(document))
    workspace = Workspace(tmp_path / "home", examples=False)
    with pytest.raises(ImportFailed, match=rf"node /{operations}/\w+: object {lost} is missing"):
        import_webgmex(workspace, path)
    assert _only_projects(workspace) == []


def _object(document: dict, digest: str) -> dict:
    return next(o for o in document["objects"] if o["_id"] == digest)


def _named(document: dict, digest: str, name: str) -> bool:
    return _object(document, digest).get("atr", {}).get("name") == name


def test_an_operation_that_does_not_parse_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    export = DeepForgeExport()
    export.operation_definition(
        "Fine", "class Fine():\n    def execute(self):\n        return 1\n", outputs=("result",)
    )
    export.operation_definition("Broken", "class Broken(:\n    pass\n")
    workspace = Workspace(tmp_path / "home", examples=False)
    with pytest.raises(ImportFailed, match="operation 'Broken': its code does not parse here"):
        import_webgmex(workspace, export.write(tmp_path / "broken.webgmex"))
    assert _only_projects(workspace) == []


def test_a_pipeline_node_of_an_unknown_type_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    export = DeepForgeExport()
    novel = export.node(export.language, "QuantumStep", export.fco, meta=True)
    pipeline = export.pipeline("future")
    export.instance(pipeline, novel)
    workspace = Workspace(tmp_path / "home", examples=False)
    with pytest.raises(ImportFailed, match=r"pipeline 'future': node 'QuantumStep' .* of type 'QuantumStep'"):
        import_webgmex(workspace, export.write(tmp_path / "future.webgmex"))
    assert _only_projects(workspace) == []


def test_a_webgme_project_that_is_not_deepforge_is_refused(tmp_path: Path) -> None:
    from tests.deepforge_panel.webgmex_files import WebGMEBuilder

    other = WebGMEBuilder("guest+Circuits")
    fco = other.node("", "FCO", relid="1", meta=True)
    other.node("", "Resistor", fco, meta=True)
    workspace = Workspace(tmp_path / "home", examples=False)
    with pytest.raises(ImportFailed, match="not a DeepForge one: its META has no Operation, Pipeline, Data"):
        import_webgmex(workspace, other.write(tmp_path / "circuits.webgmex"))
