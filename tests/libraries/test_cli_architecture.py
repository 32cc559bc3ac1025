"""``deepforge-panel architecture import/export`` as real processes on a fresh home."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deepforge_panel.workspace import Workspace
from tests.deepforge_panel.helpers import cli as run_cli

cli = functools.partial(run_cli, timeout=240, env={"TF_CPP_MIN_LOG_LEVEL": "3"})


BUILD_AND_DESCRIBE = (
    "import json, net_model; m = net_model.build_model(); "
    "print(json.dumps([len(m.layers), m.count_params(), [l.name for l in m.layers]]))"
)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    Workspace(home, examples=False).create("lab").store.close()
    return home


def test_import_then_export_python_builds_the_same_model(home: Path, tmp_path: Path) -> None:
    import keras

    x = keras.Input((12,), name="x")
    h = keras.layers.Dense(8, activation="tanh", name="h")(x)
    y = keras.layers.Dense(2, activation="softmax", name="y")(keras.layers.Dropout(0.3, name="d")(h))
    original = keras.Model(x, y, name="net")
    original.save(tmp_path / "net.keras")

    done = cli("architecture", "import", "lab", str(tmp_path / "net.keras"), "--name", "imported", home=home)
    assert done.returncode == 0, done.stderr
    assert "as architecture 'imported'" in done.stdout

    exported = cli("architecture", "export", "lab", "imported", "--format", "py", home=home)
    assert exported.returncode == 0, exported.stderr
    assert "def build_model():" in exported.stdout
    (tmp_path / "net_model.py").write_text(exported.stdout)
    check = subprocess.run(
        [sys.executable, "-c", BUILD_AND_DESCRIBE],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert check.returncode == 0, check.stderr[-2000:]
    layers, params, names = json.loads(check.stdout.strip().splitlines()[-1])
    assert layers == len(original.layers) and params == original.count_params()
    assert names == [layer.name for layer in original.layers]

    out = tmp_path / "net.json"
    written = cli("architecture", "export", "lab", "imported", "--format", "json", "--out", str(out), home=home)
    assert written.returncode == 0, written.stderr
    rebuilt = keras.models.model_from_json(out.read_text())
    assert rebuilt.count_params() == original.count_params() and rebuilt.name == "imported"


def test_errors_are_explained(home: Path, tmp_path: Path) -> None:
    missing = cli("architecture", "export", "lab", "nope", home=home)
    assert missing.returncode == 2 and "has no architecture 'nope'" in missing.stderr
    absent = cli("architecture", "import", "lab", str(tmp_path / "absent.keras"), home=home)
    assert absent.returncode == 2 and "no model file" in absent.stderr
    odd = {
        "class_name": "Sequential",
        "config": {
            "name": "odd",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "x"}},
                {"class_name": "Mystery", "config": {"name": "m"}},
            ],
        },
    }
    (tmp_path / "odd.json").write_text(json.dumps(odd))
    unknown = cli("architecture", "import", "lab", str(tmp_path / "odd.json"), home=home)
    assert unknown.returncode == 2 and "layer 'm': unknown layer type 'Mystery'" in unknown.stderr


def test_custom_activation_code_comes_from_a_file(home: Path, tmp_path: Path) -> None:
    spec = {
        "class_name": "Sequential",
        "config": {
            "name": "custom",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "x"}},
                {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "deepforge>swish2"}},
            ],
        },
    }
    (tmp_path / "custom.json").write_text(json.dumps(spec))
    (tmp_path / "swish2.py").write_text("def swish2(x):\n    return x * keras.ops.sigmoid(2.0 * x)\n")
    without = cli("architecture", "import", "lab", str(tmp_path / "custom.json"), home=home)
    assert without.returncode == 2 and "--function swish2=FILE" in without.stderr
    done = cli(
        "architecture",
        "import",
        "lab",
        str(tmp_path / "custom.json"),
        "--function",
        f"swish2={tmp_path / 'swish2.py'}",
        home=home,
    )
    assert done.returncode == 0, done.stderr
    code = cli("architecture", "export", "lab", "custom", home=home).stdout
    assert "def swish2(x):" in code and 'd = keras.layers.Dense(2, activation=swish2, name="d")(x)' in code


def test_a_legacy_h5_model_with_a_custom_layer_and_a_lambda(home: Path, tmp_path: Path) -> None:
    import keras

    code = "class Scale(keras.layers.Layer):\n    def call(self, x):\n        return x * 3.0\n"
    namespace: dict[str, object] = {"keras": keras}
    exec(code, namespace)
    scale = keras.saving.register_keras_serializable(package="lab")(namespace["Scale"])
    x = keras.Input((2,), name="x")
    y = keras.layers.Lambda(lambda t: t + 1.0, name="plus_one")(scale(name="scaled")(x))
    keras.Model(x, keras.layers.Dense(1, name="d")(y), name="legacy").save(tmp_path / "legacy.h5")
    (tmp_path / "scale.py").write_text(code)
    without = cli("architecture", "import", "lab", str(tmp_path / "legacy.h5"), home=home)
    assert without.returncode == 2 and "layer 'scaled': unknown layer type 'Scale'" in without.stderr
    done = cli(
        "architecture",
        "import",
        "lab",
        str(tmp_path / "legacy.h5"),
        "--function",
        f"Scale={tmp_path / 'scale.py'}",
        home=home,
    )
    assert done.returncode == 0, done.stderr
    assert "plus_one (Lambda) keeps its function as Python bytecode" in done.stderr, "the loss is reported"
    exported = cli("architecture", "export", "lab", "legacy", home=home).stdout
    assert "class Scale(keras.layers.Layer):" in exported and '_from_config("plus_one", safe_mode=False)' in exported
    (tmp_path / "legacy_model.py").write_text(exported)
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import legacy_model, keras; m = legacy_model.build_model(); print(float(m(keras.ops.ones((1, 2)))[0, 0] - m.get_layer('d').bias[0]) / float(keras.ops.sum(m.get_layer('d').kernel)))",
        ],
        cwd=tmp_path,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert check.returncode == 0, check.stderr[-2000:]
    assert float(check.stdout.strip().splitlines()[-1]) == pytest.approx(4.0), "x * 3 + 1 on ones, through Dense"
