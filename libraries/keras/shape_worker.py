"""The shape worker: a long-lived process that imports Keras once and answers shape checks.

    python -m deepforge_panel.libraries.keras.shape_worker

Reads one JSON request per line on stdin and writes one reply per line on stdout (the
protocol is in :mod:`deepforge_panel.libraries.keras.shapes`). Each layer is called symbolically on
KerasTensors in topological order, its inputs in connection-index order; variables are
declared but never initialized, so no weights are made. Results are cached per layer by
(name, type, arguments, functions used, input shapes): an edit recomputes only the layers
whose inputs or arguments it changed.
"""

from __future__ import annotations

import collections
import json
import os
import re
import sys
from collections.abc import Callable
from typing import IO, Any

from deepforge_panel.crdt import Id
from deepforge_panel.graph import topological_order
from deepforge_panel.libraries.keras.architectures import Architecture, Layer, arg_gaps
from deepforge_panel.libraries.keras.build import BuildError, call_layer, load_function, make_layer
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.shapes import from_payload

Spec = Any
"""A tensor's ``{"shape": [...], "dtype": str}``, or a list of them for a layer with several outputs."""

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def clean_message(exc: BaseException) -> str:
    """Keras' exception text without terminal colours, the "Exception encountered" banner or the argument dump."""
    text = _ANSI.sub("", str(exc)).strip()
    text = re.sub(r"^Exception encountered when calling [^\n]*\n+", "", text)
    text = text.split("\n\nArguments received by")[0].strip()
    return text or type(exc).__name__


def arg_problem(layer: Layer) -> str | None:
    """A required argument left unset or an argument the layer does not have, in words."""
    if layer.config is not None:
        return None
    if layer.type not in load_catalog()["layers"]:
        return f"{layer.name}: unknown layer type {layer.type!r}"
    unknown, missing = arg_gaps(layer)
    if unknown:
        return f"{layer.name}: {layer.type} has no argument {unknown[0]!r}"
    if missing:
        return f"{layer.name}: {layer.type} needs {', '.join(missing)} (not set)"
    return None


def topological(arch: Architecture) -> tuple[list[Id], list[Id]]:
    """Layers in an order where inputs come first, and those left over because they sit on a cycle."""
    edges = [(c.src, c.dst) for c in arch.connections.values()]
    return topological_order(arch.layers, edges, key=lambda i: arch.layers[i].name)


def _spec(value: Any) -> Spec:
    if isinstance(value, (list, tuple)):
        return [_spec(v) for v in value]
    return {"shape": list(value.shape), "dtype": str(value.dtype)}


def _shape(spec: Spec) -> Any:
    return [_shape(s) for s in spec] if isinstance(spec, list) else spec["shape"]


class ShapeComputer:
    """Symbolic shape inference with a per-layer LRU cache."""

    def __init__(self, cache_size: int = 8192) -> None:
        import keras

        self.keras = keras
        self.cache_size = cache_size
        self._cache: collections.OrderedDict[str, tuple[str, Any]] = collections.OrderedDict()
        self._functions: dict[tuple[str, str], Callable[..., Any] | BuildError] = {}
        self.computed = 0
        """Layers actually computed (cache misses) since start; lets tests see the cache work."""

    def _function(self, name: str, code: str) -> Callable[..., Any] | BuildError:
        key = (name, code)
        if key not in self._functions:
            if len(self._functions) > 256:
                self._functions.clear()
            try:
                self._functions[key] = load_function(name, code)
            except BuildError as exc:
                self._functions[key] = exc
        return self._functions[key]

    def _tensor(self, spec: Spec) -> Any:
        if isinstance(spec, list):
            return [self._tensor(s) for s in spec]
        return self.keras.KerasTensor(tuple(spec["shape"]), dtype=spec["dtype"])

    def _compute(self, arch: Architecture, node: Layer, inputs: list[Spec]) -> tuple[str, Any]:
        layer = arch.owner(node)
        problem = arg_problem(layer)
        if problem is not None:
            return "error", problem
        custom: dict[str, Callable[..., Any]] = {}
        for name in _custom_names(arch, layer):
            loaded = self._function(name, arch.functions[name])
            if isinstance(loaded, BuildError):
                return "error", str(loaded)
            custom[name] = loaded
        if layer.type != "InputLayer" and not inputs:
            return "error", f"{layer.name}: no input is connected"
        try:
            with self.keras.StatelessScope(initialize_variables=False):
                made = make_layer(layer, custom)
                if layer.type == "InputLayer":
                    return "shape", _spec(made)
                tensors = [self._tensor(s) for s in inputs]
                return "shape", _spec(call_layer(arch.call_style(node), made, tensors))
        except Exception as exc:  # noqa: BLE001 - any Keras failure is this layer's error
            return "error", clean_message(exc)

    def check(self, arch: Architecture) -> dict[str, dict[str, Any]]:
        order, cyclic = topological(arch)
        results: dict[str, dict[str, Any]] = {}
        specs: dict[Id, Spec] = {}
        causes: dict[Id, Id] = {}
        for lid in order:
            layer = arch.layers[lid]
            connections = arch.inputs_of(lid)
            failed = next((c.src for c in connections if c.src not in specs), None)
            if failed is not None:
                cause = causes.get(failed, failed)
                causes[lid] = cause
                results[lid] = {"error": f"input unavailable: {arch.layers[cause].name} failed", "blocked_by": cause}
                continue
            try:
                inputs = [_output(specs[c.src], c.output) for c in connections]
            except IndexError as exc:
                results[lid] = {"error": f"{layer.name}: {exc}"}
                continue
            owner = arch.owner(layer)
            used = {n: arch.functions[n] for n in _custom_names(arch, owner)}
            made = [owner.name, owner.type, owner.args, owner.config, arch.call_style(layer)]
            key = json.dumps([*made, used, inputs], sort_keys=True, default=repr)
            outcome = self._cache.get(key)
            if outcome is None:
                outcome = self._compute(arch, layer, inputs)
                self.computed += 1
                self._cache[key] = outcome
                if len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
            kind, value = outcome
            if kind == "shape":
                specs[lid] = value
                results[lid] = {"shape": _shape(value)}
            else:
                results[lid] = {"error": value}
        for lid in cyclic:
            results[lid] = {"error": f"{arch.layers[lid].name} is on a cycle"}
        self.keras.backend.clear_session(free_memory=False)
        return results

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        op = request.get("op", "check")
        if op == "ping":
            return {"id": request.get("id"), "ready": True, "computed": self.computed}
        if op != "check" or not isinstance(request.get("architecture"), dict):
            return {"id": request.get("id"), "error": f"unknown request {op!r} (expected check or ping)"}
        try:
            arch = from_payload(request["architecture"])
        except (KeyError, TypeError, ValueError) as exc:
            return {"id": request.get("id"), "error": f"malformed architecture: {exc!r}"}
        return {"id": request.get("id"), "shapes": self.check(arch)}


def _output(spec: Spec, output: int | None) -> Spec:
    """The spec a connection takes: all of the source's output, or its ``output``-th where it has several."""
    if output is None:
        return spec
    if not isinstance(spec, list) or output >= len(spec):
        count = len(spec) if isinstance(spec, list) else 1
        raise IndexError(f"it takes output {output} of a layer with {count}")
    return spec[output]


def _custom_names(arch: Architecture, layer: Layer) -> list[str]:
    """Custom functions the layer's function-valued arguments name (every one, for a layer kept as its config)."""
    if layer.config is not None:
        return sorted(arch.functions)
    spec = load_catalog()["layers"].get(layer.type, {})
    kinds = {a["name"]: a["type"] for a in spec.get("args", [])}
    return sorted(
        v
        for k, v in layer.args.items()
        if isinstance(v, str) and v in arch.functions and kinds.get(k, "").startswith("function:")
    )


def private_stdout() -> IO[str]:
    """The protocol's own copy of stdout; anything else printing to fd 1 lands on stderr instead."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol


def main() -> None:
    out = private_stdout()
    computer = ShapeComputer()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as exc:
            reply: dict[str, Any] = {"id": None, "error": f"malformed JSON: {exc}"}
        else:
            reply = (
                computer.answer(request) if isinstance(request, dict) else {"id": None, "error": "expected an object"}
            )
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
