"""DeepForge's Keras architectures (deepforge-keras) as architectures here.

In a DeepForge export, an architecture is a node of the ``keras`` library's ``Architecture`` type whose
children are layers typed by their Keras class (``Conv2D``), with argument values as the text of Python
literals (``"(5,5)"``) and function-valued arguments (``activation``, initializers) as pointers to child
nodes typed by the function (``relu``, ``GlorotUniform``). Each layer has an ``inputs`` port whose set
``source`` holds the output ports feeding it, ordered by their ``index``. An ``Input`` layer holds the
``shape``.

The architecture is rewritten as the Functional model config Keras itself would save and imported by
:func:`~deepforge_panel.libraries.keras.io.import_model`, so the same checks apply (each layer rebuilt in
Keras) and an architecture that does not fit is refused whole. Only values set on a layer (not the
library's defaults) are carried, so Keras' current defaults apply to the rest.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from deepforge_panel.errors import ProjectError

if TYPE_CHECKING:
    from deepforge_panel.project import Project
    from deepforge_panel.webgme import WebGMEProject

LIBRARY = "keras"
"""The DeepForge library whose architectures these are."""
_BOOKKEEPING = {"name", "ctor_arg_order", "docstring"}


def is_keras_architecture(source: WebGMEProject, node: str) -> bool:
    return source.is_a(node, "Architecture") and source.library_of(node) == LIBRARY


def import_architecture(project: Project, source: WebGMEProject, node: str, notes: list[str]) -> str | None:
    """The architecture imported from DeepForge node ``node``; None when it is not a Keras architecture.

    One that does not fit (an unknown layer type, a value Keras refuses) is not imported and is noted.
    """
    if not is_keras_architecture(source, node):
        return None
    import warnings

    from deepforge_panel.libraries.keras.io import import_model

    name = _free_name(project, source.name(node) or "architecture")
    try:
        config = model_config(source, node)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            architecture_id = import_model(project, config, name=name)
    except (ProjectError, ValueError) as exc:
        notes.append(f"architecture {source.name(node)!r} is not carried over: {exc}")
        return None
    notes.extend(f"architecture {name!r}: {w.message}" for w in caught)
    return architecture_id


def _free_name(project: Project, name: str) -> str:
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView
    from deepforge_panel.names import numbered

    return numbered(name, {a.name for a in ArchitecturesView(project).all()})


def model_config(source: WebGMEProject, node: str) -> dict[str, Any]:
    """The architecture at ``node`` as a Keras Functional model config (Keras 2 call notation)."""
    layers = [child for child in source.children(node) if source.type_name(child) and _ports(source, child)]
    names = _layer_names(source, layers)
    owner = {}  # output port -> layer
    for layer in layers:
        for port in _ports(source, layer)[1]:
            owner[port] = layer
    entries: dict[str, dict[str, Any]] = {}
    feeds: dict[str, list[str]] = {}
    for layer in layers:
        sources = []
        for port in _ports(source, layer)[0]:
            members = sorted(source.set_members(port, "source"), key=lambda m: float(m[1].get("index") or 0))
            sources += [owner[member] for member, _ in members if member in owner]
        feeds[layer] = sources
        entries[layer] = _layer_entry(source, layer, names[layer], [names[s] for s in sources])
    order = _topological(layers, feeds)
    inputs = [names[layer] for layer in order if entries[layer]["class_name"] == "InputLayer"]
    consumed = {s for layer in layers for s in feeds[layer]}
    outputs = [names[layer] for layer in order if layer not in consumed and names[layer] not in inputs]
    return {
        "class_name": "Functional",
        "config": {
            "name": re.sub(r"\W", "_", source.name(node)) or "model",
            "layers": [entries[layer] for layer in order],
            "input_layers": [[n, 0, 0] for n in inputs],
            "output_layers": [[n, 0, 0] for n in outputs],
        },
    }


def _ports(source: WebGMEProject, layer: str) -> tuple[list[str], list[str]]:
    children = source.children(layer)
    return (
        [c for c in children if source.type_name(c) == "LayerInput"],
        [c for c in children if source.type_name(c) == "LayerOutput"],
    )


def _layer_names(source: WebGMEProject, layers: list[str]) -> dict[str, str]:
    """A unique Python name per layer: its own name where it has one, else its type's in snake case."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for layer in layers:
        kind = source.type_name(layer)
        own = source.own_attributes(layer).get("name")
        base = re.sub(r"\W", "_", str(own)) if own and own != kind else _snake(kind)
        unique, i = base, 1
        while unique in taken:
            unique, i = f"{base}_{i}", i + 1
        taken.add(unique)
        names[layer] = unique
    return names


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _layer_entry(source: WebGMEProject, layer: str, name: str, inbound: list[str]) -> dict[str, Any]:
    kind = source.type_name(layer)
    meta = source.meta_type(layer) or layer
    config: dict[str, Any] = {"name": name}
    defaults = source.attributes(meta)
    for key, value in source.attributes(layer).items():
        if key in _BOOKKEEPING or key.startswith("_") or defaults.get(key) == value:
            continue
        config[key] = _literal(value)
    for pointer in source.meta_pointers(meta):
        target = source.pointer(layer, pointer)
        default = source.pointer(meta, pointer)
        changed = _changed_attributes(source, target) if target else {}
        if target is None or (default and source.type_name(default) == source.type_name(target) and not changed):
            continue
        function = source.type_name(target)
        config[pointer] = {"class_name": function, "config": changed} if changed else function
    if kind == "Input":
        shape = config.pop("shape", None)
        batch = config.pop("batch_size", None)
        if shape is None:
            raise ProjectError(f"the input layer {name!r} has no shape", layer)
        config["batch_shape"] = [batch, *(shape if isinstance(shape, (list, tuple)) else [shape])]
        return {"class_name": "InputLayer", "config": config, "inbound_nodes": []}
    return {
        "class_name": kind,
        "config": config,
        "inbound_nodes": [[[src, 0, 0, {}] for src in inbound]] if inbound else [],
    }


def _changed_attributes(source: WebGMEProject, node: str) -> dict[str, Any]:
    meta = source.meta_type(node) or node
    defaults = source.attributes(meta)
    return {
        key: _literal(value)
        for key, value in source.attributes(node).items()
        if key not in _BOOKKEEPING and not key.startswith("_") and defaults.get(key) != value
    }


def _literal(value: Any) -> Any:
    """A DeepForge argument value: the text of a Python literal ("(5,5)", "None", "0.5"), or a plain string."""
    if not isinstance(value, str):
        return value
    try:
        parsed = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    return list(parsed) if isinstance(parsed, tuple) else parsed


def _topological(layers: list[str], feeds: dict[str, list[str]]) -> list[str]:
    """Layers with every layer after those feeding it (file order kept where free); a cycle raises."""
    done: list[str] = []
    placed: set[str] = set()
    pending = list(layers)
    while pending:
        ready = [layer for layer in pending if all(s in placed for s in feeds[layer])]
        if not ready:
            raise ProjectError("the architecture's connections form a cycle")
        for layer in ready:
            done.append(layer)
            placed.add(layer)
        pending = [layer for layer in pending if layer not in placed]
    return done
