"""Keras models in and out of a project: import ``.keras`` / JSON files; export code, JSON and trained models.

An import reads the model's config (a ``.keras`` file is a zip whose ``config.json`` is what
``keras.saving.load_model`` deserializes; reading it directly needs neither the model's custom
objects nor its weights), maps each layer to the catalog, rebuilds each layer in Keras to
check nothing is lost, and only then writes the architecture in one transaction: a model
that does not fit leaves the document unchanged. What is kept only approximately (an
argument the catalog does not know, a different output order) is reported as a
:class:`ModelImportWarning`.
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.artifacts import read_artifact
from deepforge_panel.crdt import Id
from deepforge_panel.errors import ProjectError
from deepforge_panel.libraries.keras.architectures import (
    Architecture,
    ArchitectureError,
    ArchitecturesView,
    check_arg,
    check_function,
    check_layer_name,
)
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.codegen import (
    FUNCTION_MODULES,
    build_model,
    format_function_call,
    generate_code,
    parse_function_call,
)
from deepforge_panel.names import check_name

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.project import Project

X_STEP, Y_STEP = 220.0, 110.0
_MISSING = object()


class ModelImportWarning(UserWarning):
    """Something in an imported model that the architecture keeps only approximately, or not at all."""


@dataclass
class LayerPlan:
    """One layer as it will be written: catalog type, argument values, inputs in order."""

    name: str
    type: str
    args: dict[str, Any]
    inputs: list[str] = field(default_factory=list)
    functions: set[str] = field(default_factory=set)
    config: dict[str, Any] = field(default_factory=dict)


def read_model_config(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The serialized model (``{"class_name": "Functional" | "Sequential", "config": ...}``) from a file, JSON or dict."""
    if isinstance(source, dict):
        config = source
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            config = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ArchitectureError(f"the text is not a model's JSON ({exc})") from None
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no model file {str(path)!r}")
        config = _read_model_file(path)
    if not isinstance(config, dict) or "class_name" not in config or not isinstance(config.get("config"), dict):
        raise ArchitectureError("not a serialized Keras model: expected {'class_name': ..., 'config': {...}}")
    return config


def _read_model_file(path: Path) -> Any:
    """The JSON in a ``.keras`` archive or a JSON file; what is neither is refused as such, never as a codec error."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                if "config.json" not in archive.namelist():
                    raise ArchitectureError(f"{path.name} is a zip file but not a .keras model (no config.json)")
                return json.loads(archive.read("config.json"))
        except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArchitectureError(
                f"{path.name} is not a .keras file: its config.json is unreadable ({exc})"
            ) from None
    if path.suffix in (".h5", ".hdf5"):
        raise ArchitectureError(f"{path.name}: legacy HDF5 models are not supported; save as .keras or to_json()")
    if path.suffix == ".keras":
        raise ArchitectureError(f"{path.name} is not a .keras file: a .keras model is a zip archive (truncated?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ArchitectureError(f"{path.name} is not a .keras file or a model's JSON: it is binary") from None
    except json.JSONDecodeError as exc:
        raise ArchitectureError(f"{path.name} is not a .keras file or a model's JSON ({exc})") from None


def import_model(
    project: Project,
    source: str | Path | dict[str, Any],
    name: str | None = None,
    functions: dict[str, str] | None = None,
) -> Id:
    """A new architecture from a Keras model (Functional or Sequential); returns its id.

    ``functions`` holds the code of custom activations the model uses (``{"swish2": "def swish2(x): ..."}``):
    a model file keeps only their names.
    """
    functions = functions or {}
    config = read_model_config(source)
    notes: list[str] = []
    plans = plan_model(config, functions, notes)
    view = ArchitecturesView(project)
    arch_name = name or config["config"].get("name") or "model"
    check_name("architecture", arch_name, ArchitectureError)
    if any(a.name == arch_name for a in view.all()):
        raise ArchitectureError(f"an architecture named {arch_name!r} already exists; pass another name")
    used = _check(plans, functions)
    for plan in plans:
        notes += _verify(plan)
    positions = _layout(plans)
    with project.transaction():
        arch_id = view.create(arch_name)
        for fname in sorted(used):
            view.set_function(arch_id, fname, functions[fname])
        for plan in plans:
            x, y = positions[plan.name]
            view.add_layer(arch_id, plan.type, plan.args, name=plan.name, x=x, y=y)
        for plan in plans:
            for index, src in enumerate(plan.inputs):
                view.connect(arch_id, src, plan.name, index=index)
    notes += _order_notes(config, view.get(arch_id))
    if notes:
        warnings.warn(f"architecture {arch_name!r} differs from the model: " + "; ".join(notes), ModelImportWarning, 2)
    return arch_id


def plan_model(config: dict[str, Any], functions: dict[str, str], notes: list[str]) -> list[LayerPlan]:
    """Every layer of the model mapped to the catalog, in the file's order; ArchitectureError naming any misfit."""
    kind, inner = config["class_name"], config["config"]
    entries = list(inner.get("layers") or [])
    if kind == "Sequential":
        if not entries or entries[0].get("class_name") != "InputLayer":
            shape = inner.get("build_input_shape")
            if shape is None:
                raise ArchitectureError(
                    "the Sequential model has no input shape; build it or start it with keras.Input"
                )
            entries.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": shape, "name": "input_layer"}})
        plans = [_plan_layer(entry, functions, notes) for entry in entries]
        for prev, plan in itertools.pairwise(plans):
            plan.inputs = [prev.name]
        return plans
    if kind not in ("Functional", "Model"):
        raise ArchitectureError(f"{kind} models cannot be imported: only Functional and Sequential ones")
    plans = []
    for entry in entries:
        plan = _plan_layer(entry, functions, notes)
        plan.inputs = _inbound(entry, plan, notes)
        plans.append(plan)
    return plans


def _ident(name: str) -> str:
    clean = re.sub(r"\W", "_", name)
    return clean if clean.isidentifier() else f"layer_{clean}"


def _plan_layer(entry: dict[str, Any], functions: dict[str, str], notes: list[str]) -> LayerPlan:
    catalog = load_catalog()
    cfg = dict(entry.get("config") or {})
    raw_name = str(cfg.get("name") or entry.get("name") or entry.get("class_name"))
    name = _ident(raw_name)
    if name != raw_name:
        notes.append(f"layer {raw_name!r} is named {name!r} (layer names are Python identifiers)")
    class_name = entry.get("class_name", "")
    layer_type = catalog.get("aliases", {}).get(class_name, class_name)
    if layer_type in catalog.get("excluded", {}):
        raise ArchitectureError(
            f"layer {name!r}: {class_name} is not supported ({catalog['excluded'][layer_type]})", name
        )
    if layer_type not in catalog["layers"] or ">" in str(entry.get("registered_name") or ""):
        raise ArchitectureError(
            f"layer {name!r}: unknown layer type {class_name!r} (not a keras.layers class in the catalog)", name
        )
    specs = {a["name"]: a for a in catalog["layers"][layer_type]["args"]}
    if layer_type == "InputLayer" and "batch_input_shape" in cfg:
        cfg["batch_shape"] = cfg.pop("batch_input_shape")  # the Keras 2 spelling
    plan = LayerPlan(name, layer_type, {}, config=cfg)
    if layer_type == "InputLayer":
        cfg = _input_args(cfg)
    for key, value in cfg.items():
        if key == "name" or key not in specs:
            continue  # an argument the catalog lacks: _verify reports it unless Keras' default matches
        value = _arg_value(specs[key], value, plan, functions)
        if specs[key]["required"] or value != specs[key]["default"]:
            plan.args[key] = value
    return plan


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


def _inbound(entry: dict[str, Any], plan: LayerPlan, notes: list[str]) -> list[str]:
    """Source layers of a Functional layer's single call, in argument order."""
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) > 1:
        raise ArchitectureError(
            f"layer {plan.name!r} is shared (called {len(nodes)} times); an architecture calls each layer once",
            plan.name,
        )
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):
        history = list(_tensors(node.get("args", [])))
        for key, value in (node.get("kwargs") or {}).items():
            found = list(_tensors(value))
            if found and load_catalog()["layers"][plan.type].get("call") == "positional":
                history += found
            elif found:
                raise ArchitectureError(
                    f"layer {plan.name!r} is called with a tensor as {key!r}; only its inputs connect", plan.name
                )
            elif value not in (None, False):
                notes.append(f"{plan.name} was called with {key}={value!r}, which is not kept")
    else:
        history = [tuple(t[:3]) for t in node]
    sources = []
    for src, node_index, tensor_index in history:
        if node_index or tensor_index:
            raise ArchitectureError(
                f"layer {plan.name!r} takes output {tensor_index} of call {node_index} of {src!r}; "
                "an architecture connects each layer's single output",
                plan.name,
            )
        sources.append(_ident(src))
    return sources


def _tensors(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            yield tuple(value["config"]["keras_history"])
        else:
            for item in value.values():
                yield from _tensors(item)
    elif isinstance(value, list):
        for item in value:
            yield from _tensors(item)


def _check(plans: list[LayerPlan], functions: dict[str, str]) -> set[str]:
    """What the view would refuse, checked before the first write; returns the custom functions used."""
    names = [p.name for p in plans]
    layers = load_catalog()["layers"]
    used: set[str] = set()
    for plan in plans:
        check_layer_name(plan.name)
        if names.count(plan.name) > 1:
            raise ArchitectureError(f"the model has two layers named {plan.name!r}", plan.name)
        for key, value in plan.args.items():
            check_arg(plan.type, plan.name, key, value)
        arity = layers[plan.type]["inputs"]
        if (arity == "one" and len(plan.inputs) > 1) or (arity == "none" and plan.inputs):
            raise ArchitectureError(f"{plan.name} ({plan.type}) cannot take {len(plan.inputs)} inputs", plan.name)
        for src in plan.inputs:
            if src not in names:
                raise ArchitectureError(f"{plan.name}: its input {src!r} is not a layer of the model", plan.name)
        used |= plan.functions
    for fname in sorted(used):
        check_function(fname, functions[fname])
    return used


def _verify(plan: LayerPlan) -> list[str]:
    """Rebuild the layer in Keras from the planned arguments; name every config value that did not survive."""
    import keras

    specs = {a["name"]: a for a in load_catalog()["layers"][plan.type]["args"]}
    custom = {k for k, v in plan.args.items() if isinstance(v, str) and v in plan.functions}
    kwargs: dict[str, Any] = {}
    for key, value in plan.args.items():
        kind = specs[key]["type"]
        if key in custom:
            continue
        if kind == "tuple" and isinstance(value, list):
            value = tuple(value)
        elif kind.startswith("function:") and isinstance(value, str) and (call := parse_function_call(value)):
            value = getattr(getattr(keras, FUNCTION_MODULES[kind.split(":")[1]]), call[0])(**call[1])
        kwargs[key] = value
    try:
        layer = getattr(keras.layers, plan.type)(name=plan.name, **kwargs)
    except Exception as exc:  # noqa: BLE001 - Keras' own message says what is wrong
        raise ArchitectureError(f"{plan.name} ({plan.type}): Keras refuses its arguments: {exc}", plan.name) from None
    rebuilt = layer.get_config()
    skip = {"name"} | custom
    return [
        f"{plan.name}.{key} = {value!r} is not kept (it becomes {rebuilt.get(key)!r})"
        for key, value in plan.config.items()
        if key not in skip and _norm(rebuilt.get(key, _MISSING)) != _norm(value)
    ]


def _layout(plans: list[LayerPlan]) -> dict[str, tuple[float, float]]:
    """x by depth (longest path from an input), y by order within a depth."""
    depth: dict[str, int] = {}
    for plan in plans:
        depth[plan.name] = 1 + max((depth.get(s, 0) for s in plan.inputs), default=-1)
    rows: dict[int, int] = {}
    out = {}
    for plan in plans:
        row = rows.get(depth[plan.name], 0)
        rows[depth[plan.name]] = row + 1
        out[plan.name] = (depth[plan.name] * X_STEP, row * Y_STEP)
    return out


def _order_notes(config: dict[str, Any], arch: Architecture) -> list[str]:
    """An architecture orders model inputs and outputs topologically; say where the file's order differs."""
    notes = []
    for key, ours in (("input_layers", arch.model_inputs()), ("output_layers", arch.model_outputs())):
        value = config["config"].get(key) or []
        theirs = [_ident(value[0])] if value and isinstance(value[0], str) else [_ident(v[0]) for v in value]
        if theirs and theirs != [layer.name for layer in ours]:
            notes.append(f"{key.split('_')[0]}s come in the order {[layer.name for layer in ours]}, not {theirs}")
    return notes


def export_python(arch: Architecture) -> str:
    """The architecture as a Python module defining ``build_model()``."""
    return generate_code(arch)


def export_json(arch: Architecture) -> str:
    """The architecture as Keras' ``model.to_json()``, built through the generated code."""
    return build_model(arch).to_json()


def export_model_artifact(project: Project, artifact_id: str, path: str | Path, storage: StorageAdapter) -> Path:
    """Write a trained model artifact as a ``.keras`` file (its custom functions restored first)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{str(path)!r}: a Keras model file must end in .keras")
    if not path.parent.is_dir():
        raise ProjectError(f"{str(path)!r}: no folder {str(path.parent)!r} to write into; create it first")
    artifact = project.artifacts.get(artifact_id)
    if not artifact.type.startswith("keras."):
        raise _not_a_model(artifact.name, artifact.type, artifact.id)
    return save_model(read_artifact(artifact, storage), path, artifact.name, artifact.id)


def save_model(data: bytes, path: Path, name: str = "", artifact_id: str = "") -> Path:
    """Write the model stored as ``data`` (artifact ``name``) to the ``.keras`` file ``path``; imports Keras."""
    from deepforge_panel.jobruntime.deepforge import serialization
    from deepforge_panel.libraries.keras.library import install_serializer

    install_serializer(serialization)
    model = serialization.loads(data)
    import keras

    if not isinstance(model, keras.Model):
        raise _not_a_model(name, type(model).__name__, artifact_id)
    model.save(path)
    return path


def _not_a_model(name: str, kind: str, artifact_id: str) -> ProjectError:
    what = f"artifact {name!r}" if name else "the artifact"
    return ProjectError(
        f"{what} holds a {kind}, not a Keras model: only trained models export as .keras files",
        artifact_id,
    )
