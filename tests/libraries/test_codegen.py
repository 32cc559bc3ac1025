"""Generated Keras code: built through the public view, run, and compared with Keras built by hand."""

from __future__ import annotations

from pathlib import Path

import pytest
from pycrdt import Doc

from deepforge_panel.libraries import library
from deepforge_panel.libraries.keras.architectures import (
    Architecture,
    ArchitectureError,
    ArchitecturesView,
    Connection,
    Layer,
)
from deepforge_panel.libraries.keras.codegen import (
    build_model,
    generate_code,
    load_generated,
    parse_function_call,
)
from deepforge_panel.libraries.keras.library import KerasLibrary
from deepforge_panel.project import Project
from tests.deepforge_panel.helpers import new_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return new_project(tmp_path)


@pytest.fixture
def view(project: Project) -> ArchitecturesView:
    return ArchitecturesView(project)


def mlp(view: ArchitecturesView) -> str:
    arch = view.create("mlp")
    view.add_layer(arch, "InputLayer", {"shape": [20]}, name="features")
    view.add_layer(arch, "Dense", {"units": 32, "activation": "relu"}, name="hidden")
    view.add_layer(arch, "Dropout", {"rate": 0.1}, name="drop")
    view.add_layer(arch, "Dense", {"units": 10, "activation": "softmax"}, name="out")
    for src, dst in (("features", "hidden"), ("hidden", "drop"), ("drop", "out")):
        view.connect(arch, src, dst)
    return arch


def assert_like(model, reference) -> None:
    """Same layers (inputs aside: a Sequential model does not list its own), output shapes and parameters."""

    def kinds(m):
        return [type(layer).__name__ for layer in m.layers if type(layer).__name__ != "InputLayer"]

    assert kinds(model) == kinds(reference)
    assert [tuple(o.shape) for o in model.outputs] == [tuple(o.shape) for o in reference.outputs]
    assert model.count_params() == reference.count_params()


def test_mlp_reads_like_hand_written_keras(view: ArchitecturesView) -> None:
    import keras

    code = generate_code(view.get(mlp(view)))
    assert 'features = keras.Input(shape=(20,), name="features")' in code
    assert 'hidden = keras.layers.Dense(32, activation="relu", name="hidden")(features)' in code
    assert 'drop = keras.layers.Dropout(0.1, name="drop")(hidden)' in code
    assert 'return keras.Model(inputs=features, outputs=out, name="mlp")' in code
    assert "use_bias" not in code and "glorot_uniform" not in code, "defaults are left out"
    model = load_generated(code).build_model()
    reference = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    assert_like(model, reference)
    assert model.name == "mlp" and [layer.name for layer in model.layers] == ["features", "hidden", "drop", "out"]


def test_cnn(view: ArchitecturesView) -> None:
    import keras

    arch = view.create("cnn")
    view.add_layer(arch, "InputLayer", {"shape": [28, 28, 1]}, name="image")
    view.add_layer(
        arch, "Conv2D", {"filters": 8, "kernel_size": [3, 3], "padding": "same", "strides": [1, 1]}, name="conv"
    )
    view.add_layer(arch, "MaxPooling2D", {"pool_size": 2}, name="pool")
    view.add_layer(arch, "Flatten", name="flat")
    view.add_layer(arch, "Dropout", {"rate": 0.25}, name="drop")
    view.add_layer(
        arch, "Dense", {"units": 10, "activation": "softmax", "kernel_regularizer": "L2(l2=0.001)"}, name="out"
    )
    for src, dst in (("image", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "drop"), ("drop", "out")):
        view.connect(arch, src, dst)
    code = generate_code(view.get(arch))
    assert 'conv = keras.layers.Conv2D(8, kernel_size=(3, 3), padding="same", name="conv")(image)' in code
    assert "kernel_regularizer=keras.regularizers.L2(l2=0.001)" in code
    model = load_generated(code).build_model()
    x = keras.Input((28, 28, 1))
    y = keras.layers.Conv2D(8, 3, padding="same")(x)
    y = keras.layers.Dense(10)(keras.layers.Dropout(0.25)(keras.layers.Flatten()(keras.layers.MaxPooling2D(2)(y))))
    assert_like(model, keras.Model(x, y))
    assert model.get_layer("out").kernel_regularizer.l2 == pytest.approx(0.001)


def test_multi_input_layers_take_a_list_in_connection_order(view: ArchitecturesView) -> None:
    arch = view.create("merge")
    for name in ("a", "b"):
        view.add_layer(arch, "InputLayer", {"shape": [4]}, name=name)
    view.add_layer(arch, "Dense", {"units": 2}, name="wide")
    view.add_layer(arch, "Concatenate", name="merged")
    view.add_layer(arch, "Add", name="total")
    view.connect(arch, "a", "wide")
    view.connect(arch, "b", "merged", index=0)
    view.connect(arch, "wide", "merged", index=1)
    view.connect(arch, "a", "total")
    view.connect(arch, "b", "total")
    code = generate_code(view.get(arch))
    assert 'merged = keras.layers.Concatenate(name="merged")([b, wide])' in code
    assert "inputs=[a, b], outputs=[total, merged]" in code, "in topological order"
    model = build_model(view.get(arch))
    assert [tuple(o.shape) for o in model.outputs] == [(None, 4), (None, 6)]
    assert model.count_params() == 4 * 2 + 2


def test_names_that_would_shadow_keras_or_keywords_still_run(view: ArchitecturesView) -> None:
    arch = view.create("odd")
    view.add_layer(arch, "InputLayer", {"shape": [3]}, name="keras")
    view.add_layer(arch, "Dense", {"units": 1}, name="lambda_")
    view.connect(arch, "keras", "lambda_")
    view.rename_layer(arch, "lambda_", "lambda")
    code = generate_code(view.get(arch))
    assert (
        'keras_ = keras.Input(shape=(3,), name="keras")' in code
        and 'lambda_ = keras.layers.Dense(1, name="lambda")(keras_)' in code
    )
    assert [layer.name for layer in build_model(view.get(arch)).layers] == ["keras", "lambda"]


def test_custom_activation_is_included_and_registered(view: ArchitecturesView) -> None:
    import keras

    arch = mlp(view)
    source = "def swish2(x):\n    return x * keras.ops.sigmoid(2.0 * x)\n"
    view.set_function(arch, "swish2", source)
    view.set_args(arch, "hidden", {"activation": "swish2"})
    code = generate_code(view.get(arch))
    assert source in code and "activation=swish2," in code
    module = load_generated(code)
    assert module.custom_objects() == {"deepforge>swish2": module.swish2}
    assert keras.saving.get_registered_object("deepforge>swish2") is module.swish2
    assert module.build_model().get_layer("hidden").activation is module.swish2


def test_library_wires_catalog_view_and_generator(project: Project, view: ArchitecturesView) -> None:
    lib = library("keras")
    arch = mlp(view)
    assert isinstance(lib, KerasLibrary) and lib.name == "keras" and lib.root == "architectures"
    assert "Dense" in lib.catalog()["layers"]
    assert lib.resources(project).get(arch).name == "mlp"
    assert lib.generate(project, arch) == generate_code(view.get(arch))
    assert "def build_model():" in lib.generate(project, arch) and "\nbuild = build_model\n" in lib.generate(
        project, arch
    )
    assert 'serialization.register("keras-deepforge"' in lib.init_code()


# -- errors: clear, naming the layer, and the document unchanged where an edit is refused -------------


def test_wrong_argument_types_are_refused_naming_the_layer(project: Project, view: ArchitecturesView) -> None:
    arch = mlp(view)
    before = project.doc.get_update()
    with pytest.raises(ArchitectureError, match=r"conv\.kernel_size = 'three'") as info:
        view.add_layer(arch, "Conv2D", {"filters": 3, "kernel_size": "three"}, name="conv")
    assert info.value.element == "conv"
    with pytest.raises(ArchitectureError, match=r"hidden\.units = 'many': expected an integer"):
        view.set_args(arch, "hidden", {"units": "many"})
    with pytest.raises(ArchitectureError, match="padding"):
        view.add_layer(arch, "Conv2D", {"filters": 3, "kernel_size": 3, "padding": "full"}, name="conv")
    assert project.doc.get_update() == before


def test_custom_function_that_does_not_parse(project: Project, view: ArchitecturesView) -> None:
    arch = mlp(view)
    before = project.doc.get_update()
    with pytest.raises(ArchitectureError, match=r"function 'bad', line 1") as info:
        view.set_function(arch, "bad", "def bad(x) return x\n")
    assert info.value.element == "bad"
    with pytest.raises(ArchitectureError, match=r"must define def other\(x\)"):
        view.set_function(arch, "other", "def bad(x):\n    return x\n")
    assert project.doc.get_update() == before


def test_unknown_activation_names_the_layer(view: ArchitecturesView) -> None:
    arch = mlp(view)
    view.set_args(arch, "hidden", {"activation": "wobbly"})
    with pytest.raises(ArchitectureError, match=r"hidden\.activation = 'wobbly' is neither a Keras activation"):
        generate_code(view.get(arch))


def test_missing_required_argument(view: ArchitecturesView) -> None:
    arch = mlp(view)
    layer = view.add_layer(arch, "Dense", name="tail")
    view.connect(arch, "out", "tail")
    with pytest.raises(ArchitectureError, match=r"tail \(Dense\) needs units") as info:
        generate_code(view.get(arch))
    assert info.value.element == layer


def test_dangling_layer_and_dangling_input(view: ArchitecturesView) -> None:
    arch = mlp(view)
    stray = view.add_layer(arch, "Dense", {"units": 3}, name="stray")
    with pytest.raises(ArchitectureError, match=r"stray \(Dense\) has no input connected") as info:
        generate_code(view.get(arch))
    assert info.value.element == stray
    view.remove_layer(arch, "stray")
    unused = view.add_layer(arch, "InputLayer", {"shape": [2]}, name="unused")
    with pytest.raises(ArchitectureError, match="input unused feeds no layer") as info:
        generate_code(view.get(arch))
    assert info.value.element == unused


def test_no_layers_no_model(view: ArchitecturesView) -> None:
    with pytest.raises(ArchitectureError, match="has no InputLayer"):
        generate_code(view.get(view.create("empty")))


def test_cycle_from_concurrent_edits_is_reported_with_a_layer() -> None:
    """Each peer's edit is acyclic; merged, they make a cycle, which the generator names."""
    left, right = Project(Doc(), name="left"), Project(Doc(), name="right")
    lview, rview = ArchitecturesView(left), ArchitecturesView(right)
    arch = lview.create("loop")
    lview.add_layer(arch, "InputLayer", {"shape": [2]}, name="x")
    lview.add_layer(arch, "Add", name="p")
    lview.add_layer(arch, "Dense", {"units": 2}, name="q")
    lview.connect(arch, "x", "p")
    right.doc.apply_update(left.doc.get_update())
    lview.connect(arch, "p", "q")
    rview.connect(arch, "q", "p")
    with pytest.raises(ArchitectureError, match="would make a cycle"):
        lview.connect(arch, "q", "p")
    left.doc.apply_update(right.doc.get_update())
    merged = lview.get(arch)
    with pytest.raises(ArchitectureError, match="cycle") as info:
        generate_code(merged)
    assert merged.layers[info.value.element].name in ("p", "q")


def test_unconnected_cycle_in_a_hand_made_architecture() -> None:
    layers = {
        "l1": Layer("l1", "a", "Dense", {"units": 1}),
        "l2": Layer("l2", "b", "Dense", {"units": 1}),
    }
    connections = {"c1": Connection("c1", "l1", "l2", 0), "c2": Connection("c2", "l2", "l1", 0)}
    with pytest.raises(ArchitectureError, match=r"cycle through \['a', 'b'\]"):
        generate_code(Architecture("ar", "ring", layers, connections))


def test_function_call_values() -> None:
    assert parse_function_call("RandomNormal(stddev=0.02, seed=1)") == ("RandomNormal", {"stddev": 0.02, "seed": 1})
    assert parse_function_call("glorot_uniform") is None
    assert parse_function_call("L2(__import__('os'))") is None
    assert parse_function_call("L2(l2=x)") is None
