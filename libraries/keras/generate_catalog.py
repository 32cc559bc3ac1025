"""Generate ``catalog.json`` by introspecting the installed Keras (the seed's generated metamodel).

``python -m deepforge_panel.libraries.keras.generate_catalog`` rewrites the committed file; a test checks it is
fresh. Every public ``keras.layers`` class whose arguments are plain values goes in, under its
class name (aliases such as ``Convolution2D`` are listed under ``aliases``). Layers that need
Python objects to exist (a wrapped layer, a cell, a function, another framework's module) or are
abstract bases are listed under ``excluded`` with the reason, since a document cannot hold them.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any

from deepforge_panel.libraries.keras.catalog import CATALOG

EXCLUDED: dict[str, str] = {
    "Layer": "abstract base class",
    "Wrapper": "abstract base class wrapping a layer object",
    "RNN": "needs a cell object; use LSTM, GRU or SimpleRNN",
    "Bidirectional": "wraps a layer object",
    "TimeDistributed": "wraps a layer object",
    "SpectralNormalization": "wraps a layer object",
    "StackedRNNCells": "needs cell objects",
    "GRUCell": "a cell runs inside an RNN layer, not in a graph",
    "LSTMCell": "a cell runs inside an RNN layer, not in a graph",
    "SimpleRNNCell": "a cell runs inside an RNN layer, not in a graph",
    "Lambda": "wraps a Python function object; write a custom activation instead",
    "Pipeline": "a list of layer objects",
    "FlaxLayer": "wraps a Flax module object",
    "JaxLayer": "wraps JAX function objects",
    "TorchModuleWrapper": "wraps a PyTorch module object",
    "TFSMLayer": "loads an exported SavedModel at construction",
}

MERGING = ("Add", "Average", "Concatenate", "Dot", "Maximum", "Minimum", "Multiply", "Subtract")
LIST_INPUTS = (*MERGING, "AdditiveAttention", "Attention")
"""Layers called on a list of tensors, ``layer([a, b])``."""
POSITIONAL_INPUTS = ("GroupQueryAttention", "MultiHeadAttention")
"""Layers called on several tensors as arguments, ``layer(query, value)``."""

FUNCTION_KINDS = {
    "activation": "activations",
    "initializer": "initializers",
    "regularizer": "regularizers",
    "constraint": "constraints",
}
TUPLE_NAMES = {
    "kernel_size",
    "noise_shape",
    "output_shape",
    "output_padding",
    "attention_axes",
    "shared_axes",
    "strides",
    "pool_size",
    "dilation_rate",
    "shape",
    "batch_shape",
    "target_shape",
    "size",
    "output_size",
    "dims",
    "cropping",
    "padding",
}
BASE_ARGS = ("activity_regularizer", "trainable", "dtype")
"""Keyword arguments every layer takes through ``**kwargs`` (from ``keras.layers.Layer``)."""
BASE_DOCS = {"activity_regularizer": 'Regularizer function applied to the output of the layer (its "activation").'}
SKIPPED = {"self", "name"}
"""``name`` is the layer's own field in the document, not an argument."""


def function_names(kind: str) -> list[str]:
    """The string identifiers ``keras.<kind>s.get`` accepts, lower case (e.g. "glorot_uniform")."""
    import keras

    public = getattr(keras, FUNCTION_KINDS[kind])
    private = sys.modules.get(f"keras.src.{FUNCTION_KINDS[kind]}")
    candidates = set(getattr(private, "ALL_OBJECTS_DICT", {})) | set(dir(public))
    names = []
    for name in sorted(c for c in candidates if c[:1].islower() and c not in ("get", "serialize", "deserialize")):
        try:
            obj = public.get(name)
        except Exception:  # noqa: BLE001 - an identifier that needs arguments (e.g. "constant") is no name
            continue
        base = {"initializer": "Initializer", "regularizer": "Regularizer", "constraint": "Constraint"}.get(kind)
        if obj is None or (base and type(obj).__name__ == base):
            continue
        names.append(name)
    return names


def parse_args_section(doc: str | None) -> dict[str, str]:
    """Argument name -> text from a Google-style docstring's ``Args:`` section."""
    lines = inspect.cleandoc(doc or "").splitlines()
    out: dict[str, str] = {}
    start = next((i for i, line in enumerate(lines) if line.strip() in ("Args:", "Arguments:")), None)
    if start is None:
        return out
    indent = len(lines[start]) - len(lines[start].lstrip())
    current: str | None = None
    for line in lines[start + 1 :]:
        stripped = line.strip()
        depth = len(line) - len(line.lstrip())
        if stripped and depth <= indent:
            break
        match = re.match(r"(\*{0,2}\w+)\s*(\([^)]*\))?:\s*(.*)", stripped)
        if stripped and depth == indent + 4 and match:
            current = match.group(1)
            out[current] = match.group(3)
        elif current and stripped:
            out[current] = f"{out[current]} {stripped}".strip()
    return out


def first_paragraph(doc: str | None) -> str:
    return " ".join(inspect.cleandoc(doc or "").split("\n\n")[0].split())


def _quoted(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'`?"([A-Za-z0-9_]+)"`?', text)))


def _is_int_tuple(value: Any) -> bool:
    """Integers and None, or tuples of them (``((0, 0), (0, 0))``): what a shape argument holds."""
    return isinstance(value, (list, tuple)) and all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) or (bool(v) and _is_int_tuple(v)) for v in value
    )


def infer_type(name: str, default: Any, required: bool, doc: str) -> tuple[str, list[str] | None]:
    """The argument's type (and choices) from its name, default and documentation."""
    for kind in FUNCTION_KINDS:
        if name == kind or name.endswith(f"_{kind}"):
            return f"function:{kind}", None
    head = doc.split(". ")[0].lower()
    tuple_doc = bool(re.search(r"\btuple|\blist of (\d+ )?int", head)) and bool(re.search(r"\bint", head))
    if isinstance(default, bool):
        return "bool", None
    if isinstance(default, int):
        return ("tuple" if name in TUPLE_NAMES or tuple_doc else "int"), None
    if isinstance(default, float):
        return "float", None
    if isinstance(default, (list, tuple)):
        return ("tuple" if _is_int_tuple(default) else "any"), None
    if isinstance(default, str):
        options = _quoted(doc)
        if len(options) >= 2 and default in options:
            return "choice", options
        return "str", None
    if default is not None and not required:
        return "any", None
    if name in TUPLE_NAMES or tuple_doc:
        return "tuple", None
    if name == "dtype":
        return "str", None
    options = _quoted(doc)
    if re.search(r"\b(either|one of)\b", head) and len(options) >= 2:
        return "choice", options
    for pattern, kind in (
        (r"\bbool", "bool"),
        (r"\bfloat", "float"),
        (r"\b(int|integer)s?\b", "int"),
        (r"\b(string|str)\b", "str"),
    ):
        if re.search(pattern, head):
            return kind, None
    return "any", None


def _jsonable(value: Any) -> tuple[Any, bool]:
    """``value`` as JSON (tuples become lists), or its repr and False when JSON cannot hold it."""
    try:
        return json.loads(json.dumps(value, allow_nan=False)), True
    except (TypeError, ValueError):
        return repr(value), False


def describe_arg(param: inspect.Parameter, doc: str, base: bool = False) -> dict[str, Any]:
    required = param.default is inspect.Parameter.empty
    default, ok = (None, True) if required else _jsonable(param.default)
    kind, choices = infer_type(param.name, None if required else param.default, required, doc)
    if not ok:
        kind, choices = "any", None
    spec: dict[str, Any] = {
        "name": param.name,
        "required": required,
        "default": default,
        "type": kind,
        "choices": choices,
        "doc": doc,
        "positional": param.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD,
    }
    if base:
        spec["base"] = True
    return spec


def describe_layer(cls: type) -> dict[str, Any]:
    """One catalog entry: constructor arguments in order, with types, defaults and docs."""
    import keras

    docs = parse_args_section(cls.__doc__)
    if cls.__name__ == "InputLayer":
        docs = {**parse_args_section(keras.Input.__doc__), **docs}
        docs.setdefault("input_tensor", docs.get("tensor", ""))
    base_docs = parse_args_section(keras.layers.Layer.__doc__)
    signature = inspect.signature(cls.__init__)  # type: ignore[misc] # the layer class's own constructor
    args, var_positional, var_keyword = [], None, None
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            var_positional = param.name
        elif param.kind is inspect.Parameter.VAR_KEYWORD:
            var_keyword = param.name
        elif param.name not in SKIPPED:
            args.append(describe_arg(param, docs.get(param.name, "")))
    if var_keyword and cls.__name__ != "InputLayer":
        base_params = inspect.signature(keras.layers.Layer.__init__).parameters
        known = {a["name"] for a in args}
        for name in BASE_ARGS:
            if name not in known:
                doc = base_docs.get(name) or BASE_DOCS.get(name, "")
                args.append(describe_arg(base_params[name], doc, base=True))
    name = cls.__name__
    entry: dict[str, Any] = {
        "module": "keras.layers",
        "doc": first_paragraph(cls.__doc__),
        "inputs": "none" if name == "InputLayer" else "many" if name in LIST_INPUTS + POSITIONAL_INPUTS else "one",
        "args": args,
        "var_positional": var_positional,
        "var_keyword": var_keyword,
    }
    if name in POSITIONAL_INPUTS:
        entry["call"] = "positional"
    return entry


def _registry_defaults(layers: dict[str, Any], functions: dict[str, list[str]]) -> None:
    """Spell function defaults by their registry name ("Zeros" -> "zeros"), as the editor lists them."""
    import keras

    for spec in layers.values():
        for arg in spec["args"]:
            kind = arg["type"].removeprefix("function:")
            if kind == arg["type"] or not isinstance(arg["default"], str) or arg["default"] in functions[kind]:
                continue
            module = getattr(keras, FUNCTION_KINDS[kind])
            cls = type(module.get(arg["default"]))
            snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", cls.__name__).lower()
            names = sorted(functions[kind], key=lambda n: n != snake)
            arg["default"] = next(n for n in names if type(module.get(n)) is cls)


def generate() -> dict[str, Any]:
    """The catalog of the installed Keras, as written to ``catalog.json``."""
    import keras

    layers: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for export in sorted(n for n in dir(keras.layers) if not n.startswith("_")):
        cls = getattr(keras.layers, export)
        if not (isinstance(cls, type) and issubclass(cls, keras.layers.Layer)):
            continue
        name = cls.__name__
        if name != export and getattr(keras.layers, name, None) is cls:
            aliases[export] = name
        elif export in EXCLUDED:
            excluded[export] = EXCLUDED[export]
        else:
            layers[export] = describe_layer(cls)
    functions = {kind: function_names(kind) for kind in FUNCTION_KINDS}
    _registry_defaults(layers, functions)
    return {
        "keras_version": keras.__version__,
        "functions": functions,
        "layers": layers,
        "aliases": aliases,
        "excluded": excluded,
    }


def render(catalog: dict[str, Any]) -> str:
    return json.dumps(catalog, indent=1, sort_keys=True) + "\n"


def main(path: Path = CATALOG) -> None:
    catalog = generate()
    path.write_text(render(catalog))
    print(f"wrote {len(catalog['layers'])} layers ({len(catalog['excluded'])} excluded) to {path}")


if __name__ == "__main__":
    main()
