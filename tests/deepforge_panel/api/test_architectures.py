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
