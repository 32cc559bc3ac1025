"""Import Keras models into architectures and export them again: same layers, connections, arguments, shapes.

Any :class:`ModelImportWarning` fails a test here (warnings are errors), so a quiet round trip
means the import kept everything.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deepforge_panel.adapters.storage import storage
from deepforge_panel.errors import ProjectError
from deepforge_panel.jobruntime.deepforge import serialization
from deepforge_panel.libraries.keras.architectures import ArchitectureError, ArchitecturesView
from deepforge_panel.libraries.keras.codegen import build_model, load_generated
from deepforge_panel.libraries.keras.io import (
    ModelImportWarning,
    export_json,
    export_model_artifact,
    export_python,
    import_model,
)
from deepforge_panel.libraries.keras.library import INIT_CODE, install_serializer
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import new_project

RUNTIME = Path(__file__).resolve().parents[2] / "deepforge_panel" / "jobruntime" / "deepforge"
SWISH = "def swish2(x):\n    return x * keras.ops.sigmoid(2.0 * x)\n"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return new_project(tmp_path)


def _sources(node: Any) -> list[str]:
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            return [node["config"]["keras_history"][0]]
        return [s for value in node.values() for s in _sources(value)]
    if isinstance(node, list):
        return [s for value in node for s in _sources(value)]
    return []


def graph(model: Any) -> dict[str, tuple[str, str, list[str]]]:
    """Layer name -> (class, config as JSON, input layer names), from the model's own serialization."""
    spec = json.loads(model.to_json())
    out, previous = {}, None
    for entry in spec["config"]["layers"]:
        name = entry["config"]["name"]
        if spec["class_name"] == "Sequential":
            inputs = [previous] if previous else []
        else:
            inputs = _sources(entry.get("inbound_nodes", []))
        out[name] = (entry["class_name"], json.dumps(entry["config"], sort_keys=True), inputs)
        previous = name
    return out


def assert_same(original: Any, exported: Any) -> None:
    assert graph(exported) == graph(original)
    assert [tuple(o.shape) for o in exported.outputs] == [tuple(o.shape) for o in original.outputs]
    assert exported.count_params() == original.count_params()


def round_trip(project: Project, source: Any, **kwargs: Any) -> Any:
    import keras

    arch = ArchitecturesView(project).get(import_model(project, source, **kwargs))
    exported = json.loads(export_json(arch))
    return keras.models.model_from_json(json.dumps(exported))


def sequential_mlp() -> Any:
    import keras

    return keras.Sequential(
        [
            keras.Input((10,), name="features"),
            keras.layers.Dense(16, activation="relu", kernel_initializer="he_normal", name="hidden"),
            keras.layers.Dropout(0.2, name="drop"),
            keras.layers.Dense(3, activation="softmax", use_bias=False, name="scores"),
        ],
        name="mlp",
    )


def functional_cnn() -> Any:
    import keras

    x = keras.Input((16, 16, 1), name="image")
    y = keras.layers.Conv2D(
        8,
        3,
        activation="relu",
        padding="same",
        name="conv",
        kernel_regularizer=keras.regularizers.L2(1e-3),
        kernel_initializer=keras.initializers.HeNormal(seed=3),
    )(x)
    y = keras.layers.MaxPooling2D(name="pool")(y)
    y = keras.layers.Flatten(name="flat")(y)
    y = keras.layers.Dropout(0.5, name="drop")(y)
    y = keras.layers.Dense(10, activation="softmax", name="probabilities", trainable=False)(y)
    return keras.Model(x, y, name="cnn")


def multi_io() -> Any:
    import keras

    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    joined = keras.layers.Concatenate(name="joined")([b, a])
    total = keras.layers.Add(name="total")([a, b])
    first = keras.layers.Dense(2, name="first")(joined)
    second = keras.layers.Dense(1, activation="sigmoid", name="second")(total)
    return keras.Model([a, b], [first, second], name="multi")


def test_sequential_mlp_round_trip(project: Project) -> None:
    original = sequential_mlp()
    exported = round_trip(project, original.to_json())
    assert_same(original, exported)
    arch = ArchitecturesView(project).get(ArchitecturesView(project).all()[0].id)
    assert arch.layer("features").args == {"shape": [10]}
    assert arch.layer("hidden").args == {"units": 16, "activation": "relu", "kernel_initializer": "he_normal"}
    assert arch.layer("scores").args == {"units": 3, "activation": "softmax", "use_bias": False}


def test_functional_cnn_round_trip_from_a_keras_file(project: Project, tmp_path: Path) -> None:
    original = functional_cnn()
    path = tmp_path / "cnn.keras"
    original.save(path)
    assert_same(original, round_trip(project, path))
    view = ArchitecturesView(project)
    arch = view.get(view.all()[0].id)
    conv = arch.layer("conv").args
    assert conv["kernel_regularizer"] == "L2(l2=0.001)" and conv["kernel_initializer"] == "HeNormal(seed=3)"
    assert arch.layer("probabilities").args["trainable"] is False
    positions = {layer.name: layer.x for layer in arch.layers.values()}
    assert positions["image"] < positions["conv"] < positions["pool"] < positions["flat"], "laid out by depth"


def test_multi_input_multi_output_round_trip(project: Project) -> None:
    original = multi_io()
    assert_same(original, round_trip(project, json.loads(original.to_json())))
    view = ArchitecturesView(project)
    arch = view.get(view.all()[0].id)
    joined = arch.layer("joined")
    assert [arch.layers[c.src].name for c in arch.inputs_of(joined.id)] == ["b", "a"], "index keeps the order"
    assert 'joined = keras.layers.Concatenate(name="joined")([b, a])' in export_python(arch)


def test_custom_activation_model_saved_and_loaded_in_a_fresh_process(project: Project, tmp_path: Path) -> None:
    import keras
    import numpy as np

    view = ArchitecturesView(project)
    arch_id = view.create("custom")
    view.set_function(arch_id, "swish2", SWISH)
    view.add_layer(arch_id, "InputLayer", {"shape": [3]}, name="x")
    view.add_layer(arch_id, "Dense", {"units": 4, "activation": "swish2"}, name="hidden")
    view.add_layer(arch_id, "Dense", {"units": 1}, name="y")
    view.connect(arch_id, "x", "hidden")
    view.connect(arch_id, "hidden", "y")
    (tmp_path / "generated.py").write_text(export_python(view.get(arch_id)))
    model = build_model(view.get(arch_id))
    model.save(tmp_path / "custom.keras")
    sample = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    expected = model.predict(sample, verbose=0).ravel().tolist()

    script = """
import json, sys, keras, numpy as np
try:
    keras.saving.load_model("custom.keras")
    plain = "loaded"
except Exception as exc:
    plain = type(exc).__name__
import generated
model = keras.saving.load_model("custom.keras")
sample = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
print(json.dumps({"plain": plain, "params": model.count_params(),
                   "activation": model.get_layer("hidden").activation is generated.swish2,
                   "out": model.predict(sample, verbose=0).ravel().tolist()}))
"""
    result = run_python(script, tmp_path)
    assert result["plain"] != "loaded", "without the generated code the custom function is unknown"
    assert result["params"] == model.count_params() and result["activation"]
    assert result["out"] == pytest.approx(expected, rel=1e-5)

    with pytest.raises(ArchitectureError, match=r"hidden\.activation uses the custom function 'swish2'; pass its code"):
        import_model(project, tmp_path / "custom.keras", name="again")
    reimported = round_trip(project, tmp_path / "custom.keras", name="again", functions={"swish2": SWISH})
    assert_same(model, reimported)
    assert view.get(view.all()[-1].id).functions == {"swish2": SWISH}
    assert keras.saving.get_registered_object("deepforge>swish2") is not None


def test_two_step_serialization_through_the_init_code(tmp_path: Path) -> None:
    """A downstream job has only the library's init code, not the architecture's: the artifact carries the function."""
    import numpy as np

    install_serializer(serialization)
    project = new_project(tmp_path, "two-step")
    view = ArchitecturesView(project)
    arch_id = view.create("two_step")
    view.set_function(arch_id, "swish2", SWISH)
    view.add_layer(arch_id, "InputLayer", {"shape": [2]}, name="x")
    view.add_layer(arch_id, "Dense", {"units": 2, "activation": "swish2"}, name="y")
    view.connect(arch_id, "x", "y")
    model = load_generated(export_python(view.get(arch_id))).build_model()
    data = serialization.dumps(model)
    assert data.startswith(b"deepforge:keras-deepforge\n")
    plain = sequential_mlp()
    stored = serialization.dumps(plain)
    assert stored.startswith(b"deepforge:keras\n"), "other models are stored as .keras files"
    assert serialization.dumps(plain) == stored, "canonically: the same model is the same bytes"
    assert serialization.dumps(model) == data
    assert serialization.loads(stored).count_params() == plain.count_params()

    job = tmp_path / "job"
    shutil.copytree(RUNTIME, job / "deepforge", ignore=shutil.ignore_patterns("__pycache__"))
    (job / "library_init.py").write_text(INIT_CODE)
    (job / "model.bin").write_bytes(data)
    script = """
import json, numpy as np
import library_init
from deepforge import serialization
model = serialization.loads(open("model.bin", "rb").read())
print(json.dumps({"out": model.predict(np.ones((1, 2), dtype="float32"), verbose=0).ravel().tolist()}))
"""
    result = run_python(script, job)
    assert result["out"] == pytest.approx(
        model.predict(np.ones((1, 2), dtype="float32"), verbose=0).ravel().tolist(), rel=1e-5
    )


def test_export_model_artifact(project: Project, tmp_path: Path) -> None:
    import keras
    import numpy as np

    install_serializer(serialization)
    store = storage((tmp_path / "artifacts").as_uri())
    model = functional_cnn()
    data = serialization.dumps(model)
    url = store.put("model.bin", data)
    artifact = project.artifacts.add(
        "train.model", "keras.Functional", url, hashlib.sha256(data).hexdigest(), len(data)
    )
    with pytest.raises(ProjectError, match=r"no folder .*out.* to write into; create it first"):
        export_model_artifact(project, artifact, tmp_path / "out" / "model.keras", store)
    assert not (tmp_path / "out").exists(), "a missing folder is not made behind the user's back"
    (tmp_path / "out").mkdir()
    path = export_model_artifact(project, artifact, tmp_path / "out" / "model.keras", store)
    loaded = keras.saving.load_model(path)
    sample = np.zeros((1, 16, 16, 1), dtype="float32")
    assert np.allclose(loaded.predict(sample, verbose=0), model.predict(sample, verbose=0))
    with pytest.raises(ValueError, match=r"must end in \.keras"):
        export_model_artifact(project, artifact, tmp_path / "model.h5", store)


def test_an_artifact_that_is_not_a_model_is_refused_with_a_message(project: Project, tmp_path: Path) -> None:
    store = storage((tmp_path / "artifacts").as_uri())
    data = serialization.dumps(3)
    url = store.put("three.bin", data)
    digest = hashlib.sha256(data).hexdigest()
    number = project.artifacts.add("source.data", "int", url, digest, len(data))
    with pytest.raises(ProjectError, match=r"artifact 'source.data' holds a int, not a Keras model"):
        export_model_artifact(project, number, tmp_path / "number.keras", store)
    disguised = project.artifacts.add("source.other", "keras.Thing", url, digest, len(data))
    with pytest.raises(ProjectError, match=r"artifact 'source.other' holds a int, not a Keras model"):
        export_model_artifact(project, disguised, tmp_path / "number.keras", store)
    assert not (tmp_path / "number.keras").exists()


def test_corrupt_files_are_refused_as_what_they_are_not(project: Project, tmp_path: Path) -> None:
    model = tmp_path / "model.keras"
    sequential_mlp().save(model)
    truncated = tmp_path / "truncated.keras"
    truncated.write_bytes(model.read_bytes()[:200])
    refused(project, truncated, r"truncated.keras is not a .keras file: a .keras model is a zip archive")
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    refused(project, binary, r"weights.bin is not a .keras file or a model's JSON: it is binary")
    text = tmp_path / "notes.json"
    text.write_text("these are notes, not a model")
    refused(project, text, r"notes.json is not a .keras file or a model's JSON \(Expecting value")
    refused(project, "{not json", r"the text is not a model's JSON")
    refused(project, {"class_name": "Sequential", "config": []}, "not a serialized Keras model")


# -- refusals: clear errors naming the layer; nothing is written ---------------------------------------


def refused(project: Project, source: Any, match: str, **kwargs: Any) -> ArchitectureError:
    before = project.doc.get_update()
    with pytest.raises(ArchitectureError, match=match) as info:
        import_model(project, source, **kwargs)
    assert project.doc.get_update() == before, "a refused import leaves the document as it was"
    return info.value


def test_unknown_layer_type_names_the_layer(project: Project) -> None:
    spec = json.loads(functional_cnn().to_json())
    spec["config"]["layers"][3]["class_name"] = "FancyPooling"
    error = refused(project, spec, r"layer 'flat': unknown layer type 'FancyPooling'")
    assert error.element == "flat"


def test_a_layer_type_keras_does_not_know_needs_its_code(project: Project) -> None:
    spec = json.loads(functional_cnn().to_json())
    spec["config"]["layers"][3].update(
        class_name="FancyPooling", module="lab.layers", registered_name="lab>FancyPooling"
    )
    error = refused(project, spec, r"layer 'flat': unknown layer type 'FancyPooling'.*pass its code")
    assert error.element == "flat"


def test_custom_function_code_that_does_not_parse(project: Project, tmp_path: Path) -> None:
    import keras

    source = tmp_path / "custom.keras"
    namespace: dict[str, Any] = {"keras": keras}
    exec(SWISH, namespace)
    swish2 = keras.saving.register_keras_serializable(package="deepforge")(namespace["swish2"])
    x = keras.Input((2,), name="x")
    keras.Model(x, keras.layers.Dense(1, activation=swish2, name="d")(x)).save(source)
    refused(project, source, r"function 'swish2', line 1", functions={"swish2": "def swish2(x) return x"})


def test_other_refusals(project: Project, tmp_path: Path) -> None:
    import_model(project, sequential_mlp().to_json())
    refused(project, sequential_mlp().to_json(), "an architecture named 'mlp' already exists")
    refused(project, {"hello": 1}, "not a serialized Keras model")
    (tmp_path / "old.h5").write_bytes(b"\x89HDF\r\n\x1a\n")
    refused(project, tmp_path / "old.h5", "old.h5 is not a readable HDF5 file")
    with pytest.raises(FileNotFoundError, match="no model file"):
        import_model(project, tmp_path / "missing.keras")


def test_what_the_catalog_cannot_set_is_kept_read_only_and_reported(project: Project) -> None:
    import keras

    x = keras.Input((4, 2), name="x")
    z = keras.layers.Dense(1, name="z")(keras.layers.LSTM(3, zero_output_for_mask=True, name="memory")(x))
    b = keras.layers.Dense(1, name="b")(x)
    original = keras.Model(x, [z, b])
    with pytest.warns(ModelImportWarning) as record:
        arch_id = import_model(project, original.to_json(), name="approx")
    message = str(record[0].message)
    assert "memory (LSTM) is kept read-only: the catalog does not set zero_output_for_mask=True" in message
    arch = ArchitecturesView(project).get(arch_id)
    assert arch.layer("memory").read_only and [layer.name for layer in arch.model_outputs()] == ["z", "b"]
    assert_same(original, build_model(arch))


def run_python(script: str, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
