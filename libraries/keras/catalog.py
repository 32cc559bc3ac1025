"""The Keras layer catalog: generated from the installed Keras, read from ``catalog.json`` without importing it.

Format::

    {"keras_version": "3.x", "functions": {"activation": [...], "initializer": [...], ...},
     "layers": {"Dense": {"module": "keras.layers", "doc": "...", "inputs": "one" | "many" | "none",
                          "args": [{"name", "required", "default", "type", "choices", "doc"}, ...]}}}

``type`` is one of int, float, bool, str, tuple, choice, function:<registry>, any.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOG = Path(__file__).parent / "catalog.json"


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Any]:
    """The committed catalog (regenerate with ``python -m deepforge_panel.libraries.keras.generate_catalog``)."""
    return json.loads(CATALOG.read_text())


def layer_spec(layer_type: str) -> dict[str, Any]:
    layers = load_catalog()["layers"]
    if layer_type not in layers:
        raise KeyError(f"unknown Keras layer type {layer_type!r}")
    return layers[layer_type]
