"""Architectures through the client: an architecture exported as JSON imports back as the same layers, and
its Python export is the code jobs run; a model that does not fit is refused with nothing written."""

from __future__ import annotations

import json

import pytest

from deepforge_panel.client import ApiError, Client
from tests.deepforge_panel.api.models import ODD


def test_export_json_then_import_gives_the_same_layers(client: Client) -> None:
    client.fork_project("digits", "arch-round-trip")
    cnn = client.architecture("arch-round-trip", "digits-cnn")
    model = client.export_json("arch-round-trip", "digits-cnn")
    assert model["class_name"] in ("Functional", "Sequential")
    imported = client.import_architecture("arch-round-trip", json.dumps(model).encode(), "cnn-again")
    again = imported["architecture"]
    assert again["name"] == "cnn-again" and imported["notes"] == []
    assert [(layer["name"], layer["type"]) for layer in again["layers"]] == [
        (layer["name"], layer["type"]) for layer in cnn["layers"]
    ]
    assert client.architecture("arch-round-trip", "cnn-again") == again
    code = client.export_python("arch-round-trip", "cnn-again")
    assert "def build_model(" in code and "keras.layers.Conv2D" in code

    names = [a["name"] for a in client.architectures("arch-round-trip")]
    with pytest.raises(ApiError) as odd:
        client.import_architecture("arch-round-trip", json.dumps(ODD).encode(), filename="odd.json")
    assert odd.value.status == 400 and "unknown layer type 'Mystery'" in odd.value.message
    with pytest.raises(ApiError, match="already exists"):
        client.import_architecture("arch-round-trip", json.dumps(model).encode(), "cnn-again")
    assert [a["name"] for a in client.architectures("arch-round-trip")] == names


def test_code_the_model_lacks_is_given_as_functions(client: Client) -> None:
    client.create_project("arch-functions")
    custom = {
        "class_name": "Sequential",
        "config": {
            "name": "custom",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 3], "name": "x"}},
                {"class_name": "Dense", "config": {"name": "d", "units": 2, "activation": "deepforge>swish2"}},
            ],
        },
    }
    model = json.dumps(custom).encode()
    with pytest.raises(ApiError, match="swish2"):
        client.import_architecture("arch-functions", model)
    swish2 = "def swish2(x):\n    return x * keras.ops.sigmoid(2.0 * x)\n"
    imported = client.import_architecture("arch-functions", model, functions={"swish2": swish2})
    assert imported["architecture"]["functions"] == {"swish2": swish2}
    assert "activation=swish2" in client.export_python("arch-functions", "custom")
