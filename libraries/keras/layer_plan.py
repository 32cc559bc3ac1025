"""One layer of a Keras model's config as a plan: catalog arguments where the catalog holds them, else its config kept.

A catalog layer's config values become the document's argument values (registry names for
functions, ``"L2(l2=0.001)"`` for configured objects, lists for shapes); the layer is rebuilt in
Keras from them, and one whose config does not survive is kept read-only as its config instead.
A layer the catalog has no type for (a nested model, a ``Lambda``, a wrapper, a custom class whose
code is given) is kept as its config from the start, its custom parts pointed at the code given.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from deepforge_panel.libraries.keras.architectures import ArchitectureError, check_arg
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.codegen import FUNCTION_MODULES, PACKAGE, format_function_call, parse_function_call

__all__ = ["MODELS", "LayerPlan", "Ref", "plan_layer", "verify_layer"]

MODELS = ("Functional", "Sequential", "Model")
"""Class names of a model used as a layer (``Model``: Keras 2)."""
Ref = tuple[str, int | None]
"""A tensor as the plan connects it: the node's name, and which of its outputs (None: its only one)."""
_MISSING = object()


@dataclass
class LayerPlan:
    """One node as it will be written: catalog type and arguments, or a kept config; inputs in order."""

    name: str
    type: str
    args: dict[str, Any]
    inputs: list[Ref] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)
    config: dict[str, Any] = field(default_factory=dict)
    """The layer's Keras config as the file has it (what the rebuilt layer is compared with)."""
    kept: dict[str, Any] | None = None
    """The whole serialized layer, where it is kept read-only instead of as catalog arguments."""
    call: str | None = None
    shares: str | None = None


def _ident(name: str) -> str:
    clean = re.sub(r"\W", "_", name)
    return clean if clean.isidentifier() else f"layer_{clean}"


def plan_layer(entry: dict[str, Any], functions: dict[str, str], notes: list[str]) -> LayerPlan:
    """The layer's catalog arguments; or its config kept read-only where the catalog cannot hold it."""
    catalog = load_catalog()
    cfg = entry.get("config")
    if not isinstance(cfg, dict):
        raise ArchitectureError(f"layer {entry.get('name') or entry['class_name']!r}: its config is not an object")
    cfg = dict(cfg)
    raw_name = str(cfg.get("name") or entry.get("name") or entry.get("class_name"))
    name = _ident(raw_name)
    if name != raw_name:
        notes.append(f"layer {raw_name!r} is named {name!r} (layer names are Python identifiers)")
    class_name = entry["class_name"]
    if ">" in class_name:  # legacy (.h5) configs name a registered class by its registered name
        entry = {**entry, "class_name": class_name.split(">")[-1], "registered_name": class_name}
        class_name = entry["class_name"]
    layer_type = catalog.get("aliases", {}).get(class_name, class_name)
    registered = str(entry.get("registered_name") or "")
    module = str(entry.get("module") or "keras.layers")
    if layer_type not in catalog["layers"] or ">" in registered or not module.startswith("keras"):
        return _kept(entry, name, class_name, functions, notes)
    if layer_type == "InputLayer" and "batch_input_shape" in cfg:
        cfg["batch_shape"] = cfg.pop("batch_input_shape")  # the Keras 2 spelling
    specs = {a["name"]: a for a in catalog["layers"][layer_type]["args"]}
    plan = LayerPlan(name, layer_type, {}, config=cfg)
    for key, value in (_input_args(cfg) if layer_type == "InputLayer" else cfg).items():
        if key == "name" or key not in specs:
            continue  # an argument the catalog lacks: _verify keeps the layer read-only unless Keras' default matches
        value = _arg_value(specs[key], value, plan, functions)
        if specs[key]["required"] or value != specs[key]["default"]:
            try:
                plan.args[key] = check_arg(layer_type, name, key, value)
            except ArchitectureError as exc:
                notes.append(f"{name} ({layer_type}) is kept read-only: {exc}")
                return _kept(entry, name, class_name, functions, notes)
    return plan


def _kept(entry: dict[str, Any], name: str, class_name: str, functions: dict[str, str], notes: list[str]) -> LayerPlan:
    """A layer kept as its serialized config; a class or function of the user's needs its code in ``functions``."""
    kept = {k: v for k, v in entry.items() if k not in ("inbound_nodes", "name")}
    plan = LayerPlan(name, class_name, {}, config=dict(entry.get("config") or {}), kept=kept)
    registered = str(entry.get("registered_name") or "")
    builtin = class_name in MODELS or (_keras_layer(class_name) and ">" not in registered)
    if not builtin and not _adopt_name(kept, class_name, functions, plan):
        raise ArchitectureError(
            f"layer {name!r}: unknown layer type {class_name!r} (not a keras.layers class in the catalog); "
            f"pass its code (functions={{{class_name!r}: 'class {class_name}(keras.layers.Layer): ...'}}, "
            f"or --function {class_name}=FILE on the command line)",
            name,
        )
    _adopt(kept, functions, plan)
    _modernize(kept)
    if class_name == "Lambda":
        function = kept.get("config", {}).get("function")
        if isinstance(function, dict) and function.get("class_name") == "__lambda__":
            if name in functions:
                kept["config"]["function"] = _function_ref(name)
                plan.functions.add(name)
            else:
                notes.append(
                    f"{name} (Lambda) keeps its function as Python bytecode: its source is lost, it rebuilds only "
                    f"under this Python version and with safe_mode=False (pass the source as {name!r} to keep it)"
                )
    return plan


@cache
def _keras_layer(class_name: str) -> bool:
    import keras

    return isinstance(getattr(keras.layers, class_name, None), type)


def _function_ref(name: str) -> dict[str, Any]:
    return {
        "module": "builtins",
        "class_name": "function",
        "config": f"{PACKAGE}>{name}",
        "registered_name": "function",
    }


def _adopt_name(kept: dict[str, Any], class_name: str, functions: dict[str, str], plan: LayerPlan) -> bool:
    """Point a custom class at the code given for it, registered as ``deepforge>NAME`` by the generated code."""
    if class_name not in functions:
        return False
    kept["registered_name"] = f"{PACKAGE}>{class_name}"
    kept["module"] = None
    plan.functions.add(class_name)
    return True


def _adopt(value: Any, functions: dict[str, str], plan: LayerPlan) -> None:
    """Inside a kept config, every custom function or class whose code is given now refers to that code."""
    if isinstance(value, list):
        for item in value:
            _adopt(item, functions, plan)
        return
    if not isinstance(value, dict):
        return
    if value.get("class_name") == "function" and isinstance(value.get("config"), str):
        tail = value["config"].split(">")[-1]
        if tail in functions:
            value.update(_function_ref(tail))
            plan.functions.add(tail)
        return
    registered = value.get("registered_name")
    if isinstance(registered, str) and ">" in registered and value.get("class_name") in functions:
        _adopt_name(value, str(value["class_name"]), functions, plan)
    for item in value.values():
        _adopt(item, functions, plan)


def _modernize(entry: dict[str, Any]) -> None:
    """Name the module of a Keras layer (and of a nested model's layers) saved without one, as legacy files do,
    so that Keras 3 finds the class again."""
    if "module" not in entry or (entry.get("module") is None and not entry.get("registered_name")):
        class_name = entry.get("class_name")
        if class_name in ("Functional", "Model"):
            entry.update(module="keras.src.models.functional", class_name="Functional", registered_name="Functional")
        elif class_name == "Sequential":
            entry.update(module="keras", registered_name=None)
        elif isinstance(class_name, str) and _keras_layer(class_name):
            entry.update(module="keras.layers", registered_name=None)
    config = entry.get("config")
    for layer in (config.get("layers") or []) if isinstance(config, dict) else []:
        if isinstance(layer, dict):
            _modernize(layer)


def _input_args(cfg: dict[str, Any]) -> dict[str, Any]:
    """An InputLayer's config as ``keras.Input`` arguments: ``shape`` without the batch size where it is free."""
    out = {k: v for k, v in cfg.items() if k not in ("batch_shape", "sparse", "ragged", "optional") or v}
    shape = out.pop("batch_shape", None)
    if shape is not None and shape[0] is None:
        out["shape"] = list(shape[1:])
    elif shape is not None:
        out["batch_shape"] = shape
    return out


def _arg_value(spec: dict[str, Any], value: Any, plan: LayerPlan, functions: dict[str, str]) -> Any:
    """A config value as the document holds it: registry names for functions, a dtype's name."""
    kind = spec["type"]
    if spec["name"] == "dtype":
        name = value.get("config", {}).get("name") if isinstance(value, dict) else value
        return None if name == "float32" else name
    if spec["name"] == "data_format" and spec["default"] is None and value == _image_data_format():
        return None
    if not kind.startswith("function:") or value is None:
        return value
    fkind = kind.split(":", 1)[1]
    owner = f"{plan.name}.{spec['name']}"
    if isinstance(value, dict):
        if value.get("class_name") == "function" or value.get("module") == "builtins":
            value = value.get("config")
        elif fkind == "activation" or ">" in str(value.get("registered_name") or ""):
            raise ArchitectureError(f"{owner}: {value.get('class_name')} objects are not supported here", plan.name)
        else:
            return _registry_value(fkind, value.get("class_name", ""), value.get("config") or {}, owner, plan.name)
    if not isinstance(value, str):
        raise ArchitectureError(f"{owner} = {value!r}: expected a function name", plan.name)
    value = value.split(">", 1)[-1]
    if value in load_catalog()["functions"].get(fkind, []):
        return None if value == "linear" and spec["default"] is None else value
    if fkind != "activation" and value[:1].isupper():
        return _registry_value(fkind, value, {}, owner, plan.name)
    if value not in functions:
        raise ArchitectureError(
            f"{owner} uses the custom function {value!r}; pass its code "
            f"(functions={{{value!r}: 'def {value}(x): ...'}}, or --function {value}=FILE on the command line)",
            plan.name,
        )
    plan.functions.add(value)
    return value


def _image_data_format() -> str:
    import keras

    return keras.config.image_data_format()


def _norm(value: Any) -> str:
    """A comparable form of a config value (``.keras`` files add ``shared_object_id`` to shared objects)."""

    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "shared_object_id"}
        return [strip(x) for x in v] if isinstance(v, (list, tuple)) else v

    return json.dumps(strip(value), sort_keys=True, default=repr)


@cache
def _registry_object(fkind: str, identifier: str) -> Any:
    import keras

    return getattr(keras, FUNCTION_MODULES[fkind]).get(identifier)


def _registry_value(fkind: str, class_name: str, config: dict[str, Any], owner: str, layer: str) -> str:
    """A registry name when ``config`` is the default one (``"glorot_uniform"``), else ``"Class(arg=value)"``."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", class_name).lower()
    names = load_catalog()["functions"].get(fkind, [])
    for name in sorted(names, key=lambda n: n != snake):
        obj = _registry_object(fkind, name)
        if type(obj).__name__ == class_name and _norm(obj.get_config()) == _norm({**obj.get_config(), **config}):
            return name
    try:
        default = _registry_object(fkind, class_name).get_config()
    except Exception:  # noqa: BLE001 - whatever Keras raises for a class it does not know
        raise ArchitectureError(f"{owner}: unknown Keras {fkind} {class_name!r}", layer) from None
    return format_function_call(class_name, {k: v for k, v in config.items() if _norm(default.get(k)) != _norm(v)})


def verify_layer(plan: LayerPlan, functions: dict[str, str]) -> list[str]:
    """Rebuild the layer in Keras; a catalog layer whose config does not survive is kept read-only instead."""
    import keras

    if plan.kept is not None:
        _rebuild(plan, functions)
        return []
    specs = {a["name"]: a for a in load_catalog()["layers"][plan.type]["args"]}
    custom = {k for k, v in plan.args.items() if isinstance(v, str) and v in plan.functions}
    kwargs: dict[str, Any] = {}
    for key, value in plan.args.items():
        kind = specs[key]["type"]
        if key in custom:
            continue
        if kind == "tuple" and isinstance(value, list):
            value = _tuples(value)
        elif kind.startswith("function:") and isinstance(value, str) and (call := parse_function_call(value)):
            value = getattr(getattr(keras, FUNCTION_MODULES[kind.split(":")[1]]), call[0])(**call[1])
        kwargs[key] = value
    try:
        layer = getattr(keras.layers, plan.type)(name=plan.name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - Keras' own message says what is wrong
        raise ArchitectureError(f"{plan.name} ({plan.type}): Keras refuses its arguments: {exc}", plan.name) from None
    rebuilt = layer.get_config()
    skip = {"name"} | custom
    lost = [
        f"{key}={value!r}"
        for key, value in plan.config.items()
        if key not in skip and _norm(rebuilt.get(key, _MISSING)) != _norm(value)
    ]
    if not lost or plan.type == "InputLayer":
        return [f"{plan.name}.{item} is not kept" for item in lost]
    plan.kept = {"module": "keras.layers", "class_name": plan.type, "config": plan.config, "registered_name": None}
    plan.args = {}
    return [f"{plan.name} ({plan.type}) is kept read-only: the catalog does not set {', '.join(lost)}"]


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _rebuild(plan: LayerPlan, functions: dict[str, str]) -> None:
    """A kept layer must deserialize (with the code given for its custom parts); else name it and say why."""
    import keras

    from deepforge_panel.libraries.keras.build import BuildError, load_function

    objects = {}
    for fname in sorted(plan.functions):
        try:
            objects[f"{PACKAGE}>{fname}"] = load_function(fname, functions[fname])
        except BuildError as exc:
            raise ArchitectureError(str(exc), fname) from None
    assert plan.kept is not None
    kept = {**plan.kept, "config": {**plan.kept.get("config", {}), "name": plan.name}}
    try:
        with keras.saving.custom_object_scope(objects):
            keras.saving.deserialize_keras_object(kept, safe_mode=False)
    except Exception as exc:  # noqa: BLE001 - Keras' own message says what is wrong
        raise ArchitectureError(
            f"layer {plan.name!r} ({plan.type}): Keras cannot rebuild it from its config: {exc}", plan.name
        ) from None
