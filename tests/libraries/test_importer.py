"""Any model Keras builds and saves imports: round trips through the architecture keep every construct.

Each test imports a model, exports the architecture as Python, runs that code and compares the model
it builds with the original: the same layers with the same configs, the same calls of each layer
(which call of which layer, which of its outputs, feeds each), the same model inputs and outputs,
output shapes and parameter count; and the shape worker computes a shape for every node, as the
editor shows them.
"""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.libraries.keras.architectures import Architecture, ArchitectureError, ArchitecturesView
from deepforge_panel.libraries.keras.codegen import load_generated
from deepforge_panel.libraries.keras.io import ModelImportWarning, export_python, import_model
from deepforge_panel.libraries.keras.library import INIT_CODE, install_serializer
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import new_project
from tests.libraries.test_io import RUNTIME, functional_cnn, refused, run_python

DOUBLE = "def double(x):\n    return x * 2.0\n"
SCALE = """class Scale(keras.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return new_project(tmp_path)


def _calls(node: Any) -> list[list[Any]]:
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [node["config"]["keras_history"]]
        return [t for value in node.values() for t in _calls(value)]
    if isinstance(node, list):
        if node and isinstance(node[0], str):
            return [node[:3]]  # the Keras 2 format
        return [t for value in node for t in _calls(value)]
    return []


def _comparable(config: Any) -> Any:
    """A layer config as compared: a Python lambda's bytecode is compared by what it computes (see its test)."""
    if isinstance(config, dict):
        if config.get("class_name") == "__lambda__":
            return "<lambda>"
        return {k: _comparable(v) for k, v in config.items()}
    return [_comparable(v) for v in config] if isinstance(config, list) else config


def structure(model: Any) -> dict[str, Any]:
    """Each layer's class, config and calls (the tensors each call takes), and the model's inputs and outputs."""
    spec = json.loads(model.to_json())["config"]
    layers = {
        entry["config"]["name"]: (
            entry["class_name"],
            json.dumps(_comparable(entry["config"]), sort_keys=True),
            [_calls(node) for node in entry.get("inbound_nodes", [])],
        )
        for entry in spec["layers"]
    }
    return {"layers": layers, "inputs": spec["input_layers"], "outputs": spec["output_layers"]}


def imported(project: Project, source: Any, **kwargs: Any) -> Architecture:
    view = ArchitecturesView(project)
    return view.get(import_model(project, source, **kwargs))


def rebuilt(arch: Architecture) -> Any:
    return load_generated(export_python(arch), arch.name).build_model()


def assert_round_trip(original: Any, arch: Architecture) -> Any:
    """The exported model matches the original; every node has a shape, and each is the original's."""
    from deepforge_panel.libraries.keras.shape_worker import ShapeComputer

    exported = rebuilt(arch)
    mine, theirs = structure(exported), structure(original)
    assert mine["layers"].keys() == theirs["layers"].keys()
    for name, (kind, config, calls) in theirs["layers"].items():
        assert mine["layers"][name] == (kind, config, calls), name
    assert (mine["inputs"], mine["outputs"]) == (theirs["inputs"], theirs["outputs"])
    assert [tuple(o.shape) for o in exported.outputs] == [tuple(o.shape) for o in original.outputs]
    assert exported.count_params() == original.count_params()
    shapes = ShapeComputer().check(arch)
    assert not {arch.layers[i].name: r for i, r in shapes.items() if "shape" not in r}, "every node has a shape"
    for layer_id, result in shapes.items():
        node = arch.layers[layer_id]
        if node.shares is None and node.type != "InputLayer":
            assert result["shape"] == _shape(original.get_layer(node.name).output), node.name
    return exported


def _shape(output: Any) -> Any:
    return [_shape(o) for o in output] if isinstance(output, (list, tuple)) else list(output.shape)


# -- keras.applications, weights=None: no download -------------------------------------------------------


@pytest.mark.parametrize(
    ("application", "kwargs"),
    [
        ("MobileNetV2", {"alpha": 0.35}),  # ZeroPadding2D(((0, 1), (0, 1))), ReLU(6), residual Adds
        ("EfficientNetB0", {}),  # Rescaling, Normalization, squeeze-excite Multiply, Dropout(noise_shape)
        ("ResNet50", {}),  # ZeroPadding2D(((3, 3), (3, 3))), two-branch blocks
    ],
)
def test_applications_round_trip(project: Project, application: str, kwargs: dict[str, Any]) -> None:
    import keras

    original = getattr(keras.applications, application)(weights=None, input_shape=(64, 64, 3), **kwargs)
    arch = imported(project, original.to_json(), name=application.lower())
    assert all(not layer.read_only for layer in arch.layers.values()), "every layer stays editable"
    assert_round_trip(original, arch)
    if application == "MobileNetV2":
        code = export_python(arch)
        assert 'keras.layers.ZeroPadding2D(padding=((0, 1), (0, 1)), name="block_1_pad")' in code


def test_densenet_round_trip_from_a_keras_file(project: Project, tmp_path: Path) -> None:
    """430 layers, each dense block concatenating every earlier output; imported well under a few seconds."""
    import keras

    original = keras.applications.DenseNet121(weights=None, input_shape=(64, 64, 3))
    original.save(tmp_path / "densenet.keras")
    started = time.perf_counter()
    arch = imported(project, tmp_path / "densenet.keras")
    assert time.perf_counter() - started < 30
    assert len(arch.layers) == len(original.layers)
    assert_round_trip(original, arch)


def test_arguments_of_any_shape_round_trip(project: Project) -> None:
    """Nested tuples stay tuples in the code, lists and None stay as they are, a dict reaches the layer."""
    import keras

    x = keras.Input((6, 6, 2), name="x")
    y = keras.layers.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    y = keras.layers.Normalization(axis=-1, mean=[0.5, 1.0], variance=[1.0, 4.0], name="norm")(y)
    y = keras.layers.Reshape((-1, 2), name="flat")(y)
    y = keras.layers.EinsumDense("abc,cd->abd", output_shape=(None, 4), bias_axes="d", name="einsum")(y)
    y = keras.layers.Lambda(lambda t, k: t * k, arguments={"k": 2.0}, output_shape=(25, 4), name="times")(y)
    z = keras.layers.Rescaling([0.5, 2.0], name="per_channel")(x)
    original = keras.Model(x, [y, z], name="shapes")
    with pytest.warns(ModelImportWarning) as record:
        arch = imported(project, original.to_json())
    message = str(record[0].message)
    assert "per_channel (Rescaling) is kept read-only: per_channel.scale = [0.5, 2.0]: expected a number" in message
    assert "times (Lambda) keeps its function as Python bytecode" in message
    assert arch.layer("norm").args["mean"] == [0.5, 1.0] and arch.layer("einsum").args["output_shape"] == [None, 4]
    assert arch.layer("times").config["config"]["arguments"] == {"k": 2.0}
    code = export_python(arch)
    assert 'keras.layers.Cropping2D(cropping=((1, 0), (0, 1)), name="crop")' in code
    assert "mean=[0.5, 1.0]" in code and "output_shape=(None, 4)" in code
    assert_round_trip(original, arch)


# -- shared layers, several outputs, nested models, wrappers ----------------------------------------------


def test_a_shared_layer_is_one_layer_called_once_per_node(project: Project) -> None:
    import keras

    a, b = keras.Input((3,), name="a"), keras.Input((4,), name="b")
    shared = keras.layers.Dense(3, activation="relu", name="shared")
    twice = shared(shared(keras.layers.Dense(3, name="to3")(b)))
    out = keras.layers.Concatenate(name="joined")([shared(a), twice])
    original = keras.Model([a, b], out, name="siamese")
    arch = imported(project, original.to_json())
    calls = sorted(layer.name for layer in arch.layers.values() if layer.shares)
    assert calls == ["shared_call2", "shared_call3"]
    assert all(arch.layers[arch.layer(c).shares or ""].name == "shared" for c in calls)
    code = export_python(arch)
    assert code.count("keras.layers.Dense(3, activation=") == 1 and "shared_layer(" in code
    assert_round_trip(original, arch)
    view = ArchitecturesView(project)
    with pytest.raises(ArchitectureError, match=r"calls shared again .*: set its arguments there"):
        view.set_args(arch.id, "shared_call2", {"units": 5})
    with pytest.raises(ArchitectureError, match=r"shared is shared: remove its other calls first \(shared_call2"):
        view.remove_layer(arch.id, "shared")
    view.set_args(arch.id, "shared", {"activation": "tanh"})
    model = rebuilt(view.get(arch.id))
    assert (
        model.get_layer("shared").activation.__name__ == "tanh" and len(model.get_layer("shared")._inbound_nodes) == 3
    )


def test_several_outputs_nested_models_and_wrappers(project: Project, tmp_path: Path) -> None:
    import keras

    inner_in = keras.Input((4,), name="inner_in")
    inner = keras.Model(
        inner_in, [keras.layers.Dense(3, name="i1")(inner_in), keras.layers.Dense(2, name="i2")(inner_in)], name="inner"
    )
    tower = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="t1")], name="tower")
    x, seq = keras.Input((4,), name="x"), keras.Input((5, 3), name="seq")
    first, second = inner(x)
    states, hidden, _cell = keras.layers.LSTM(2, return_state=True, return_sequences=True, name="lstm")(seq)
    wrapped = keras.layers.Bidirectional(keras.layers.GRU(2), name="bi")(states)
    timed = keras.layers.TimeDistributed(keras.layers.Dense(2), name="timed")(seq)
    outputs = [keras.layers.Dense(1, name="head")(first), second, hidden, wrapped, tower(x), timed]
    original = keras.Model([x, seq], outputs, name="mixed")
    original.save(tmp_path / "mixed.keras")
    arch = imported(project, tmp_path / "mixed.keras")
    assert {n: arch.layer(n).read_only for n in ("inner", "tower", "bi", "timed", "lstm")} == {
        "inner": True,
        "tower": True,
        "bi": True,
        "timed": True,
        "lstm": False,
    }
    head = arch.inputs_of(arch.layer("head").id)[0]
    assert (arch.layers[head.src].name, head.output) == ("inner", 0)
    assert [(layer.name, index) for layer, index in arch.output_refs()] == [
        ("head", None),
        ("inner", 1),
        ("lstm", 1),
        ("bi", None),
        ("tower", None),
        ("timed", None),
    ]
    code = export_python(arch)
    assert 'head = keras.layers.Dense(1, name="head")(inner[0])' in code and "LAYER_CONFIGS = {" in code
    with pytest.raises(ArchitectureError, match=r"inner \(Functional\) is read-only"):
        ArchitecturesView(project).set_args(arch.id, "inner", {"units": 2})
    assert_round_trip(original, arch)
    original.save(tmp_path / "mixed.h5")  # the legacy format: no modules, nested models renumbered as in Keras 2
    assert_round_trip(original, imported(project, tmp_path / "mixed.h5", name="mixed_h5"))


# -- Lambda layers and custom layers, with their code ---------------------------------------------------


def test_a_lambda_keeps_its_bytecode_and_says_so_or_its_source_when_given(project: Project) -> None:
    import keras

    x = keras.Input((3,), name="x")
    original = keras.Model(x, keras.layers.Lambda(lambda t: t * 2.0, name="double")(x), name="lam")
    with pytest.warns(ModelImportWarning, match=r"double \(Lambda\) keeps its function as Python bytecode"):
        arch = imported(project, original.to_json())
    assert arch.layer("double").config is not None
    assert '_from_config("double", safe_mode=False)' in export_python(arch)
    exported = assert_round_trip(original, arch)
    assert float(exported(keras.ops.ones((1, 3)))[0, 0]) == 2.0

    with_source = imported(project, original.to_json(), name="lam2", functions={"double": DOUBLE})
    assert with_source.functions == {"double": DOUBLE}
    code = export_python(with_source)
    assert "safe_mode=False" not in code and "def double(x):" in code
    model = rebuilt(with_source)
    assert float(model(keras.ops.ones((1, 3)))[0, 0]) == 2.0
    assert json.loads(model.to_json())["config"]["layers"][1]["config"]["function"]["config"] == "deepforge>double"


def test_a_custom_layer_class_imports_with_its_code(project: Project, tmp_path: Path) -> None:
    import keras

    namespace: dict[str, Any] = {"keras": keras}
    exec(SCALE, namespace)
    scale = keras.saving.register_keras_serializable(package="lab")(namespace["Scale"])
    x = keras.Input((3,), name="x")
    y = keras.layers.Dense(2, name="d")(scale(factor=3.0, name="scaled")(x))
    original = keras.Model(x, y, name="custom_layer")
    original.save(tmp_path / "custom.keras")
    error = refused(project, tmp_path / "custom.keras", r"layer 'scaled': unknown layer type 'Scale'.*pass its code")
    assert error.element == "scaled"
    arch = imported(project, tmp_path / "custom.keras", functions={"Scale": SCALE})
    assert arch.functions == {"Scale": SCALE} and arch.layer("scaled").config is not None
    model = rebuilt(arch)
    assert model.get_layer("scaled").factor == 3.0 and model.count_params() == original.count_params()
    assert [tuple(o.shape) for o in model.outputs] == [(None, 2)]

    # a job downstream has only the library's init code: the model artifact carries the class's code
    install_serializer(serialization)
    job = tmp_path / "job"
    shutil.copytree(RUNTIME, job / "deepforge", ignore=shutil.ignore_patterns("__pycache__"))
    (job / "library_init.py").write_text(INIT_CODE)
    (job / "model.bin").write_bytes(serialization.dumps(model))
    script = (
        "import json, library_init\nfrom deepforge import serialization\n"
        "model = serialization.loads(open('model.bin', 'rb').read())\n"
        "print(json.dumps({'factor': model.get_layer('scaled').factor, 'class': type(model.get_layer('scaled')).__name__}))"
    )
    assert run_python(script, job) == {"factor": 3.0, "class": "Scale"}


# -- files: .h5, Keras 2 configs, corrupt archives ------------------------------------------------------


def test_legacy_h5_files_import(project: Project, tmp_path: Path) -> None:
    import h5py

    original = functional_cnn()
    original.save(tmp_path / "cnn.h5")
    assert_round_trip(original, imported(project, tmp_path / "cnn.h5"))
    keras2 = {  # what Keras 2 (tf.keras) wrote: batch_input_shape, list-format inbound nodes, class "Model"
        "class_name": "Model",
        "config": {
            "name": "old",
            "layers": [
                {"class_name": "InputLayer", "name": "x", "config": {"batch_input_shape": [None, 4], "name": "x"}},
                {
                    "class_name": "Dense",
                    "name": "d",
                    "config": {"name": "d", "units": 2},
                    "inbound_nodes": [[["x", 0, 0, {}]]],
                },
                {
                    "class_name": "Dense",
                    "name": "e",
                    "config": {"name": "e", "units": 2},
                    "inbound_nodes": [[["x", 0, 0, {}]]],
                },
                {
                    "class_name": "Add",
                    "name": "s",
                    "config": {"name": "s"},
                    "inbound_nodes": [[["d", 0, 0, {}], ["e", 0, 0, {}]]],
                },
            ],
            "input_layers": [["x", 0, 0]],
            "output_layers": [["s", 0, 0]],
        },
    }
    with h5py.File(tmp_path / "old.h5", "w") as h5:
        h5.attrs["model_config"] = json.dumps(keras2).encode()
    arch = imported(project, tmp_path / "old.h5")
    model = rebuilt(arch)
    assert [layer.name for layer in model.layers] == ["x", "d", "e", "s"] and model.count_params() == 20
    assert [arch.layers[c.src].name for c in arch.inputs_of(arch.layer("s").id)] == ["d", "e"]
    with h5py.File(tmp_path / "weights.h5", "w") as h5:
        h5.create_dataset("w", data=[1.0])
    refused(project, tmp_path / "weights.h5", r"weights.h5 holds no model_config: it has weights only")


def _rewrite_config(source: Path, target: Path, change: Any) -> Path:
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(target, "w") as out:
        for item in archive.namelist():
            data = archive.read(item)
            if item == "config.json":
                data = change(data)
            out.writestr(item, data)
    return target


def test_a_corrupt_keras_file_names_what_is_wrong_and_imports_nothing(project: Project, tmp_path: Path) -> None:
    model = tmp_path / "cnn.keras"
    functional_cnn().save(model)

    def dangling(data: bytes) -> bytes:
        spec = json.loads(data)
        spec["config"]["layers"] = [e for e in spec["config"]["layers"] if e["config"]["name"] != "pool"]
        return json.dumps(spec).encode()

    def short_history(data: bytes) -> bytes:
        spec = json.loads(data)
        spec["config"]["layers"][3]["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["pool"]
        return json.dumps(spec).encode()

    def no_config(data: bytes) -> bytes:
        spec = json.loads(data)
        spec["config"]["layers"][2]["config"] = "garbled"
        return json.dumps(spec).encode()

    refused(
        project, _rewrite_config(model, tmp_path / "a.keras", dangling), r"flat: its input is 'pool', which is not in"
    )
    refused(
        project, _rewrite_config(model, tmp_path / "b.keras", no_config), r"layer 'pool': its config is not an object"
    )
    refused(
        project,
        _rewrite_config(model, tmp_path / "e.keras", short_history),
        r"layer 'flat': its config is malformed \(IndexError",
    )
    refused(
        project,
        _rewrite_config(model, tmp_path / "c.keras", lambda d: d[: len(d) // 2]),
        r"c.keras is not a .keras file",
    )
    shutil.copy(model, tmp_path / "d.keras")
    with (tmp_path / "d.keras").open("r+b") as f:
        f.truncate(model.stat().st_size // 2)
    refused(project, tmp_path / "d.keras", r"d.keras is not a .keras file")
    assert ArchitecturesView(project).all() == []
