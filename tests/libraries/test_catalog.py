"""The committed Keras catalog is what the installed Keras generates, and describes layers usefully."""

from __future__ import annotations

from typing import Any

import pytest

from deepforge_panel.libraries.keras.catalog import CATALOG, layer_spec, load_catalog
from deepforge_panel.libraries.keras.generate_catalog import generate, parse_args_section, render


def arg(layer: str, name: str) -> dict[str, Any]:
    return next(a for a in layer_spec(layer)["args"] if a["name"] == name)


def test_catalog_is_fresh() -> None:
    assert CATALOG.read_text() == render(generate()), "run: python -m deepforge_panel.libraries.keras.generate_catalog"


def test_dense() -> None:
    dense = layer_spec("Dense")
    assert dense["inputs"] == "one" and dense["doc"].startswith("Just your regular densely-connected")
    assert [a["name"] for a in dense["args"]][:3] == ["units", "activation", "use_bias"], "constructor order"
    assert arg("Dense", "units") | {"doc": ""} == {
        "name": "units",
        "required": True,
        "default": None,
        "type": "int",
        "choices": None,
        "doc": "",
        "positional": True,
    }
    assert "dimensionality of the output space" in arg("Dense", "units")["doc"]
    assert arg("Dense", "activation")["type"] == "function:activation" and arg("Dense", "activation")["default"] is None
    assert arg("Dense", "kernel_initializer") | {"doc": ""} == arg("Dense", "kernel_initializer") | {
        "type": "function:initializer",
        "default": "glorot_uniform",
        "required": False,
        "doc": "",
    }
    assert arg("Dense", "kernel_regularizer")["type"] == "function:regularizer"
    assert arg("Dense", "kernel_constraint")["type"] == "function:constraint"
    assert arg("Dense", "trainable") == arg("Dense", "trainable") | {
        "base": True,
        "default": True,
        "type": "bool",
        "positional": False,
    }
    assert layer_spec("Dense")["var_keyword"] == "kwargs"
    assert "name" not in [a["name"] for a in dense["args"]], "the name is the layer's own field"


def test_conv2d_and_pooling() -> None:
    assert arg("Conv2D", "kernel_size")["type"] == "tuple" and arg("Conv2D", "kernel_size")["required"]
    assert arg("Conv2D", "strides") | {"doc": ""} == arg("Conv2D", "strides") | {
        "type": "tuple",
        "default": [1, 1],
        "doc": "",
    }
    padding = arg("Conv2D", "padding")
    assert padding["type"] == "choice" and padding["choices"] == ["valid", "same"] and padding["default"] == "valid"
    assert arg("Conv1D", "padding")["choices"] == ["valid", "same", "causal"]
    assert arg("Conv2D", "data_format")["choices"] == ["channels_last", "channels_first"]
    assert arg("MaxPooling2D", "pool_size")["type"] == "tuple"
    assert arg("Dropout", "rate")["type"] == "float" and arg("Dropout", "rate")["required"]
    assert arg("Reshape", "target_shape")["type"] == "tuple"


def test_inputs_and_merging_layers() -> None:
    assert layer_spec("InputLayer")["inputs"] == "none"
    assert (
        arg("InputLayer", "shape")["type"] == "tuple"
        and "not including the batch size" in arg("InputLayer", "shape")["doc"]
    )
    for name in ("Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Dot"):
        assert layer_spec(name)["inputs"] == "many", name
    assert layer_spec("MultiHeadAttention")["call"] == "positional"
    assert layer_spec("Flatten")["inputs"] == "one"


def test_size_aliases_exclusions_and_functions() -> None:
    catalog = load_catalog()
    assert len(catalog["layers"]) >= 80
    assert catalog["aliases"]["Convolution2D"] == "Conv2D" and "Convolution2D" not in catalog["layers"]
    assert "wraps a layer object" in catalog["excluded"]["Bidirectional"] and "Layer" not in catalog["layers"]
    functions = catalog["functions"]
    assert {"relu", "softmax", "sigmoid", "tanh", "linear", "gelu"} <= set(functions["activation"])
    assert {"glorot_uniform", "zeros", "he_normal", "uniform"} <= set(functions["initializer"])
    assert {"l1", "l2"} <= set(functions["regularizer"]) and {"max_norm", "non_neg"} <= set(functions["constraint"])
    assert "get" not in functions["activation"] and "constant" not in functions["initializer"], "needs arguments"


@pytest.mark.parametrize("kind", ["initializer", "regularizer", "constraint", "activation"])
def test_every_function_name_is_accepted_by_keras(kind: str) -> None:
    import keras

    module = getattr(keras, {"activation": "activations"}.get(kind, kind + "s"))
    for name in load_catalog()["functions"][kind]:
        assert module.get(name) is not None, name


def test_every_function_default_is_a_known_name() -> None:
    catalog = load_catalog()
    for layer, spec in catalog["layers"].items():
        for a in spec["args"]:
            if a["type"].startswith("function:") and a["default"] is not None:
                assert a["default"] in catalog["functions"][a["type"].split(":")[1]], (layer, a["name"])


def test_args_section_parser() -> None:
    doc = """Title.

    Args:
        units: Positive integer,
            the size.
        rate (float): Between 0 and 1.

    Input shape:
        anything
    """
    assert parse_args_section(doc) == {"units": "Positive integer, the size.", "rate": "Between 0 and 1."}
