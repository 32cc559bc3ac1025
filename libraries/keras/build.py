"""Keras objects for one layer at a time, with the meaning the code generator gives the same arguments.

The shape worker makes and calls layers one by one (it caches per layer), so it cannot run the
generated module; these helpers follow :mod:`deepforge_panel.libraries.keras.codegen` instead: custom
functions run with ``keras`` in scope, a function argument is a custom function, a Keras
registry name or a constructor call such as ``L2(l2=0.001)``, and multi-input layers take a
list (or positional tensors where the catalog says so). A whole model is built one way only,
by the generated code (:func:`build_model`). Keras is imported inside the functions, so
importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deepforge_panel.libraries.keras.architectures import Architecture, Layer
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.codegen import FUNCTION_MODULES, PACKAGE, parse_function_call
from deepforge_panel.libraries.keras.codegen import build_model as _generated_model

if TYPE_CHECKING:
    import keras

_INPUT_ARGS = {
    "shape": "shape",
    "batch_size": "batch_size",
    "dtype": "dtype",
    "sparse": "sparse",
    "ragged": "ragged",
    "batch_shape": "batch_shape",
    "optional": "optional",
    "input_tensor": "tensor",
}
"""InputLayer arguments as ``keras.Input`` spells them."""


class BuildError(ValueError):
    """A layer or function that Keras cannot make, naming it."""

    def __init__(self, message: str, element: str | None = None) -> None:
        super().__init__(message)
        self.element = element


def load_function(name: str, code: str) -> Callable[..., Any]:
    """Run a custom function's code in a fresh namespace holding ``keras`` (as the generated module does)."""
    import keras

    namespace: dict[str, Any] = {"keras": keras, "__name__": f"deepforge_function_{name}"}
    try:
        exec(compile(code, f"<function {name}>", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001 - any failure of user code is reported by name
        raise BuildError(f"function {name!r}: {type(exc).__name__}: {exc}", name) from None
    function = namespace.get(name)
    if not callable(function):
        raise BuildError(f"function {name!r}: the code must define def {name}(x): ...", name)
    return function


def custom_functions(arch: Architecture) -> dict[str, Callable[..., Any]]:
    """The architecture's custom activation functions, by name."""
    return {name: load_function(name, code) for name, code in arch.functions.items()}


def _function_value(layer: Layer, arg: str, kind: str, value: str, custom: dict[str, Callable[..., Any]]) -> Any:
    if value in custom:
        return custom[value]
    if value in load_catalog()["functions"].get(kind, []):
        return value
    call = parse_function_call(value)
    if call is None or kind == "activation" or kind not in FUNCTION_MODULES:
        raise BuildError(f"{layer.name}.{arg} = {value!r} is neither a Keras {kind} nor a custom function", layer.id)
    import keras

    class_name, kwargs = call
    factory = getattr(getattr(keras, FUNCTION_MODULES[kind]), class_name, None)
    if factory is None:
        raise BuildError(f"{layer.name}.{arg}: keras.{FUNCTION_MODULES[kind]} has no {class_name}", layer.id)
    return factory(**kwargs)


def layer_kwargs(layer: Layer, custom: dict[str, Callable[..., Any]]) -> dict[str, Any]:
    """Keyword arguments for the layer's constructor: shapes as tuples, function arguments resolved."""
    spec = load_catalog()["layers"].get(layer.type, {})
    types = {a["name"]: a["type"] for a in spec.get("args", [])}
    kwargs: dict[str, Any] = {}
    for name, value in layer.args.items():
        kind = types.get(name, "any")
        if value is None or name == "name":
            continue
        if kind == "tuple" and isinstance(value, list):
            value = tuple(value)
        elif kind.startswith("function:") and isinstance(value, str):
            value = _function_value(layer, name, kind.partition(":")[2], value, custom)
        kwargs[name] = value
    return kwargs


def make_input(layer: Layer) -> keras.KerasTensor:
    """An ``InputLayer`` is made with ``keras.Input``, which returns the symbolic tensor itself."""
    import keras

    kwargs = {_INPUT_ARGS[k]: v for k, v in layer_kwargs(layer, {}).items() if k in _INPUT_ARGS}
    if kwargs.get("shape") is None and kwargs.get("batch_shape") is None:
        raise BuildError(f"{layer.name}: an InputLayer needs a shape, e.g. 28, 28, 1", layer.id)
    if isinstance(kwargs.get("shape"), int):
        kwargs["shape"] = (kwargs["shape"],)
    return keras.Input(name=layer.name, **kwargs)


def make_layer(layer: Layer, custom: dict[str, Callable[..., Any]]) -> keras.layers.Layer | keras.KerasTensor:
    """``keras.layers.<type>(**args, name=...)``; for an ``InputLayer``, the tensor ``keras.Input`` returns.

    A layer kept as its config is rebuilt from it, its custom parts found as ``deepforge>NAME`` in ``custom``.
    """
    import keras

    if layer.config is not None:
        config = {**layer.config, "config": {**(layer.config.get("config") or {}), "name": layer.name}}
        with keras.saving.custom_object_scope({f"{PACKAGE}>{k}": v for k, v in custom.items()}):
            return keras.saving.deserialize_keras_object(config, safe_mode=False)
    if layer.type == "InputLayer":
        return make_input(layer)
    cls = getattr(keras.layers, layer.type, None)
    if cls is None:
        raise BuildError(f"{layer.name}: keras.layers has no {layer.type!r}", layer.id)
    return cls(name=layer.name, **layer_kwargs(layer, custom))


def call_layer(style: str | None, made: keras.layers.Layer, inputs: list[Any]) -> Any:
    """Call a layer on its inputs in connection order as ``style`` says (:meth:`Architecture.call_style`)."""
    if style == "positional":
        return made(*inputs)
    return made(inputs) if style == "list" or len(inputs) > 1 else made(inputs[0])


def build_model(arch: Architecture) -> keras.Model:
    """The untrained Keras model, built by the architecture's generated code (the one way a model is made)."""
    return _generated_model(arch)
