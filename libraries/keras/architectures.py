"""Architectures in the project document: layers with argument values, connections between them.

``architectures`` root: id -> {name, layers: {id: {name, type, args: {arg: JSON}, x, y}},
connections: {id: {src, dst, index}}, functions: {name: Text}}. ``index`` orders the inputs
of layers that take several (Concatenate, Add). Every edit is checked against the catalog
and refused with an error naming the layer, leaving the document as it was.

What an imported Keras model needs beyond that, each optional: a layer's ``shares`` (the id of
the layer it calls again: a shared layer is one node per call), ``config`` (JSON: a layer the
catalog cannot edit, such as a nested model, a ``Lambda`` or a wrapper, kept as Keras saved it and
read-only) with ``call`` (how it takes several inputs: "list" or "positional"); a connection's
``output`` (which output of a layer with several it takes); the architecture's ``inputs`` and
``outputs`` (JSON: the model's own order, outputs as ``[layer id, output or null]``).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pycrdt import Map, Text

from deepforge_panel.crdt import Id, as_int, dumps, loads, new_id
from deepforge_panel.graph import DAG, GraphError
from deepforge_panel.libraries.keras.catalog import layer_spec, load_catalog
from deepforge_panel.names import MAX_NAME_LENGTH, check_name
from deepforge_panel.operations import splice
from deepforge_panel.views import RootView


class ArchitectureError(GraphError):
    """An architecture edit refused, naming the layer (or function) at fault."""


@dataclass(frozen=True)
class Layer:
    id: Id
    name: str
    type: str
    args: dict[str, Any]
    x: float = 0.0
    y: float = 0.0
    shares: Id | None = None
    """The layer this node calls again (a shared layer): one Keras layer, its arguments on that node."""
    config: dict[str, Any] | None = None
    """A layer the catalog cannot edit, kept as Keras serialized it (read-only)."""
    call: str | None = None
    """How a ``config`` layer takes several inputs: "list" (one list) or "positional"."""

    @property
    def read_only(self) -> bool:
        """Whether the editor cannot change this layer's arguments (kept as a config, or another layer's call)."""
        return self.config is not None or self.shares is not None


@dataclass(frozen=True)
class Connection:
    id: Id
    src: Id
    dst: Id
    index: int
    output: int | None = None
    """Which output of ``src`` this takes, where ``src`` has several (None: its only one)."""


@dataclass(frozen=True)
class Architecture(DAG[Id, Layer, Connection]):
    id: Id
    name: str
    layers: dict[Id, Layer] = field(default_factory=dict)
    connections: dict[Id, Connection] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    inputs: tuple[Id, ...] | None = None
    """The model's inputs in its own order (an import keeps it); None: InputLayers in topological order."""
    outputs: tuple[tuple[Id, int | None], ...] | None = None
    """The model's outputs in its own order, each a layer and which of its outputs; None: see output_refs."""

    graph_kind: ClassVar[str] = "architecture"
    vertex_kind: ClassVar[str] = "layer"
    error: ClassVar[type[GraphError]] = ArchitectureError

    def _vertices(self) -> dict[Id, Layer]:
        return self.layers

    def _arcs(self) -> Iterable[Connection]:
        return self.connections.values()

    def layer(self, name_or_id: str) -> Layer:
        """The layer whose id or name is ``name_or_id``; an ArchitectureError listing the layers otherwise."""
        return self.find(name_or_id)

    def inputs_of(self, layer_id: str) -> list[Connection]:
        """Connections into ``layer_id`` in input order."""
        return sorted(self.incoming(layer_id), key=lambda c: (c.index, c.id))

    def outputs_of(self, layer_id: str) -> list[Connection]:
        return self.outgoing(layer_id)

    def owner(self, layer: Layer) -> Layer:
        """The layer whose Keras layer ``layer`` calls: itself, or the one it shares."""
        return self.layers.get(layer.shares, layer) if layer.shares else layer

    def arity(self, layer: Layer) -> str:
        """How many inputs the layer takes: "one", "many" or "none" (a kept config takes any number)."""
        owner = self.owner(layer)
        if owner.config is not None:
            return "none" if owner.type == "InputLayer" else "many"
        return str(layer_spec(owner.type).get("inputs", "one")) if owner.type in load_catalog()["layers"] else "one"

    def call_style(self, layer: Layer) -> str | None:
        """How the layer takes its inputs: None (one tensor), "list" (one list) or "positional"."""
        owner = self.owner(layer)
        if owner.config is not None:
            return layer.call or owner.call
        spec = load_catalog()["layers"].get(owner.type, {})
        if spec.get("inputs", "one") != "many":
            return None
        return "positional" if spec.get("call") == "positional" else "list"

    def model_inputs(self) -> list[Layer]:
        """The model's inputs: those listed in ``inputs`` first, then other InputLayers in topological order."""
        listed = [i for i in self.inputs or () if i in self.layers]
        rest = [i for i in self.topological_order() if self.layers[i].type == "InputLayer" and i not in listed]
        return [self.layers[i] for i in listed + rest]

    def output_refs(self) -> list[tuple[Layer, int | None]]:
        """The model's outputs: those listed in ``outputs``, then the layers nothing consumes, in topological order."""
        listed = [(i, index) for i, index in self.outputs or () if i in self.layers]
        named = {i for i, _ in listed}
        rest = [
            (i, None)
            for i in self.topological_order()
            if not self.outputs_of(i) and self.layers[i].type != "InputLayer" and i not in named
        ]
        return [(self.layers[i], index) for i, index in listed + rest]

    def model_outputs(self) -> list[Layer]:
        """The layers the model's outputs come from (see :meth:`output_refs`)."""
        return [layer for layer, _ in self.output_refs()]


def check_arg(layer_type: str, owner: str, name: str, value: Any) -> Any:
    """``value`` if it fits argument ``name`` of ``layer_type``; else an ArchitectureError naming the layer."""
    spec = next((a for a in layer_spec(layer_type)["args"] if a["name"] == name), None)
    if spec is None:
        known = [a["name"] for a in layer_spec(layer_type)["args"]]
        raise ArchitectureError(f"{owner}: {layer_type} has no argument {name!r} (arguments: {known})", owner)
    kind = spec["type"]
    if value is None and not spec["required"]:
        return None

    def bad(expected: str) -> ArchitectureError:
        return ArchitectureError(f"{owner}.{name} = {value!r}: expected {expected}", owner)

    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad("an integer")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise bad("a number")
    if kind == "bool" and not isinstance(value, bool):
        raise bad("true or false")
    if kind == "str" and not isinstance(value, str):
        raise bad("a string")
    if kind == "tuple":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not _int_tuple(value):
            raise bad("an integer or a list of integers (or of such lists, e.g. [[0, 1], [0, 1]])")
        return _as_lists(value)
    if kind == "choice" and value not in spec["choices"]:
        raise bad(f"one of {spec['choices']}")
    if kind.startswith("function:") and not isinstance(value, str):
        raise bad("the name of a function")
    dumps(value)
    return value


def _int_tuple(value: Any) -> bool:
    """Whether ``value`` is a (possibly nested) list of integers and None, as Keras' shape arguments take."""
    if not isinstance(value, (list, tuple)):
        return False
    return all(
        v is None or (isinstance(v, int) and not isinstance(v, bool)) or (bool(v) and _int_tuple(v)) for v in value
    )


def _as_lists(value: Any) -> Any:
    return [_as_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


def arg_gaps(layer: Layer) -> tuple[list[str], list[str]]:
    """Arguments ``layer`` sets that its type does not have, and required ones it leaves unset (sorted, in order)."""
    spec = layer_spec(layer.type)
    known = {a["name"] for a in spec["args"]}
    unknown = sorted(set(layer.args) - known)
    missing = [a["name"] for a in spec["args"] if a["required"] and layer.args.get(a["name"]) is None]
    return unknown, missing


def check_layer_name(name: object, element: str | None = None) -> str:
    """``name`` if it may name a layer: a Python identifier (the generated code's variable), of sensible length."""
    if not isinstance(name, str) or not name.isidentifier() or len(name) > MAX_NAME_LENGTH:
        raise ArchitectureError(
            f"layer name {name!r} is not allowed: a layer name is a Python identifier "
            f"(letters, digits and '_', not starting with a digit) of at most {MAX_NAME_LENGTH} characters",
            element,
        )
    return name


def check_function(name: str, code: str) -> None:
    """Custom code must parse and define ``name``: a function (an activation) or a class (a custom layer)."""
    try:
        module = ast.parse(code)
    except SyntaxError as exc:
        raise ArchitectureError(f"function {name!r}, line {exc.lineno}: {exc.msg}", name) from None
    if not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name for n in module.body):
        raise ArchitectureError(
            f"function {name!r}: the code must define def {name}(x): ... (or class {name}(keras.layers.Layer))", name
        )


def check_architecture(arch: Architecture) -> None:
    """Everything the view would refuse in a whole new architecture (an import), before anything is written."""
    names = [layer.name for layer in arch.layers.values()]
    for layer in arch.layers.values():
        check_layer_name(layer.name, layer.name)
        if names.count(layer.name) > 1:
            raise ArchitectureError(f"the model has two layers named {layer.name!r}", layer.name)
        if layer.shares is not None:
            owner = arch.layers.get(layer.shares)
            if owner is None or owner.shares is not None or owner.type != layer.type:
                raise ArchitectureError(f"{layer.name}: it calls again a layer that is not in the model", layer.name)
        elif layer.config is None:
            for key, value in layer.args.items():
                check_arg(layer.type, layer.name, key, value)
        arity, inputs = arch.arity(layer), arch.inputs_of(layer.id)
        if (arity == "one" and len(inputs) > 1) or (arity == "none" and inputs):
            raise ArchitectureError(f"{layer.name} ({layer.type}) cannot take {len(inputs)} inputs", layer.name)
    for connection in arch.connections.values():
        for end in (connection.src, connection.dst):
            if end not in arch.layers:
                raise ArchitectureError(f"a connection names the layer {end!r}, which is not in the model", end)
    arch.topological_order()
    for fname, code in arch.functions.items():
        check_function(fname, code)


class ArchitecturesView(RootView[Architecture]):
    """The ``architectures`` root of a project."""

    root = "architectures"
    kind = "architecture"

    def get(self, architecture_id: str) -> Architecture:
        rec = self.record(architecture_id)
        layers = {
            Id(lid): Layer(
                Id(lid),
                layer["name"],
                layer["type"],
                {k: loads(v) for k, v in layer["args"].items()},
                float(layer.get("x") or 0.0),
                float(layer.get("y") or 0.0),
                layer.get("shares"),
                loads(layer.get("config")),
                layer.get("call"),
            )
            for lid, layer in rec["layers"].items()
        }
        connections = {
            Id(cid): Connection(
                Id(cid),
                c["src"],
                c["dst"],
                as_int(c.get("index")),
                None if c.get("output") is None else as_int(c["output"]),
            )
            for cid, c in rec["connections"].items()
        }
        functions = {name: str(code) for name, code in rec["functions"].items()}
        inputs, outputs = loads(rec.get("inputs")), loads(rec.get("outputs"))
        return Architecture(
            Id(architecture_id),
            rec["name"],
            layers,
            connections,
            functions,
            None if inputs is None else tuple(inputs),
            None if outputs is None else tuple((Id(i), index) for i, index in outputs),
        )

    def create(self, name: str) -> Id:
        check_name("architecture", name, ArchitectureError)
        if any(a.name == name for a in self.all()):
            raise ArchitectureError(f"an architecture named {name!r} already exists")
        architecture_id = new_id("ar")
        with self.project.transaction():
            self._map[architecture_id] = Map({"name": name, "layers": Map(), "connections": Map(), "functions": Map()})
        return architecture_id

    def insert(self, arch: Architecture) -> Id:
        """Write a whole new architecture (an imported model) in one transaction, after checking all of it."""
        check_name("architecture", arch.name, ArchitectureError)
        if any(a.name == arch.name for a in self.all()):
            raise ArchitectureError(f"an architecture named {arch.name!r} already exists; pass another name")
        check_architecture(arch)
        record: dict[str, Any] = {
            "name": arch.name,
            "layers": Map({lid: Map(_layer_record(layer)) for lid, layer in arch.layers.items()}),
            "connections": Map(
                {
                    cid: Map(
                        {
                            "src": c.src,
                            "dst": c.dst,
                            "index": c.index,
                            **({} if c.output is None else {"output": c.output}),
                        }
                    )
                    for cid, c in arch.connections.items()
                }
            ),
            "functions": Map({name: Text(code) for name, code in arch.functions.items()}),
        }
        if arch.inputs is not None:
            record["inputs"] = dumps(list(arch.inputs))
        if arch.outputs is not None:
            record["outputs"] = dumps([list(ref) for ref in arch.outputs])
        architecture_id = new_id("ar")
        with self.project.transaction():
            self._map[architecture_id] = Map(record)
        return architecture_id

    def remove(self, architecture_id: str) -> None:
        self.record(architecture_id)
        with self.project.transaction():
            del self._map[architecture_id]

    def add_layer(
        self,
        architecture_id: str,
        layer_type: str,
        args: dict[str, Any] | None = None,
        *,
        name: str | None = None,
        x: float = 0.0,
        y: float = 0.0,
    ) -> Id:
        """A layer of ``layer_type`` (a catalog name, e.g. "Dense"); required arguments may come later."""
        arch = self.get(architecture_id)
        try:
            layer_spec(layer_type)
        except KeyError as exc:
            raise ArchitectureError(str(exc.args[0]), name or layer_type) from None
        if name is not None:
            check_layer_name(name)
        taken = {layer.name for layer in arch.layers.values()}
        base = name or _snake(layer_type)
        if name is not None and name in taken:
            raise ArchitectureError(f"architecture {arch.name!r} already has a layer named {name!r}", name)
        unique, i = base, 1
        while unique in taken:
            unique, i = f"{base}_{i}", i + 1
        checked = {k: check_arg(layer_type, unique, k, v) for k, v in (args or {}).items()}
        layer_id = new_id("l")
        with self.project.transaction():
            self.record(architecture_id)["layers"][layer_id] = Map(
                {
                    "name": unique,
                    "type": layer_type,
                    "args": Map({k: dumps(v) for k, v in checked.items()}),
                    "x": float(x),
                    "y": float(y),
                }
            )
        return layer_id

    def set_args(self, architecture_id: str, layer: str, args: dict[str, Any]) -> None:
        """Set (or with None on an optional argument, reset) argument values."""
        arch = self.get(architecture_id)
        target = arch.layer(layer)
        if target.shares is not None:
            raise ArchitectureError(
                f"{target.name} calls {arch.owner(target).name} again (a shared layer): set its arguments there",
                target.id,
            )
        if target.config is not None:
            raise ArchitectureError(
                f"{target.name} ({target.type}) is read-only: it is kept as Keras saved it; change it in Keras and import again",
                target.id,
            )
        checked = {k: check_arg(target.type, target.name, k, v) for k, v in args.items()}
        with self.project.transaction():
            stored = self.record(architecture_id)["layers"][target.id]["args"]
            for key, value in checked.items():
                stored[key] = dumps(value)

    def move_layer(self, architecture_id: str, layer: str, x: float, y: float) -> None:
        target = self.get(architecture_id).layer(layer)
        with self.project.transaction():
            record = self.record(architecture_id)["layers"][target.id]
            record["x"], record["y"] = float(x), float(y)

    def rename_layer(self, architecture_id: str, layer: str, name: str) -> None:
        arch = self.get(architecture_id)
        target = arch.layer(layer)
        check_layer_name(name, target.id)
        if any(layer.name == name and layer.id != target.id for layer in arch.layers.values()):
            raise ArchitectureError(f"architecture {arch.name!r} already has a layer named {name!r}", target.id)
        with self.project.transaction():
            self.record(architecture_id)["layers"][target.id]["name"] = name

    def remove_layer(self, architecture_id: str, layer: str) -> None:
        arch = self.get(architecture_id)
        target = arch.layer(layer)
        calls = sorted(other.name for other in arch.layers.values() if other.shares == target.id)
        if calls:
            raise ArchitectureError(
                f"{target.name} is shared: remove its other calls first ({', '.join(calls)})", target.id
            )
        with self.project.transaction():
            record = self.record(architecture_id)
            for connection in arch.inputs_of(target.id) + arch.outputs_of(target.id):
                del record["connections"][connection.id]
            del record["layers"][target.id]

    def connect(
        self, architecture_id: str, src: str, dst: str, index: int | None = None, output: int | None = None
    ) -> Id:
        """Feed ``src``'s output (its ``output``-th, where it has several) into ``dst``; ``index`` orders several inputs."""
        arch = self.get(architecture_id)
        source, target = arch.layer(src), arch.layer(dst)
        arity = arch.arity(target)
        existing = arch.inputs_of(target.id)
        if target.type == "InputLayer" or arity == "none":
            raise ArchitectureError(f"{target.name} is an input: nothing can feed it", target.id)
        if arch.would_cycle(source.id, target.id):
            raise ArchitectureError(f"connecting {source.name} -> {target.name} would make a cycle", target.id)
        if arity == "one" and existing:
            raise ArchitectureError(
                f"{target.name} ({target.type}) takes one input and already has {arch.layers[existing[0].src].name}",
                target.id,
            )
        if any(c.src == source.id and c.output == output for c in existing):
            raise ArchitectureError(f"{source.name} already feeds {target.name}", target.id)
        position = (max((c.index for c in existing), default=-1) + 1) if index is None else int(index)
        connection_id = new_id("c")
        record: dict[str, Any] = {"src": source.id, "dst": target.id, "index": position}
        if output is not None:
            record["output"] = int(output)
        with self.project.transaction():
            self.record(architecture_id)["connections"][connection_id] = Map(record)
        return connection_id

    def disconnect(self, architecture_id: str, connection_id: str) -> None:
        with self.project.transaction():
            connections = self.record(architecture_id)["connections"]
            if connection_id not in connections:
                raise ArchitectureError(f"no connection {connection_id!r}", connection_id)
            del connections[connection_id]

    def set_function(self, architecture_id: str, name: str, code: str) -> None:
        """Add or change a custom activation function (Python source defining ``name(x)``)."""
        if not name.isidentifier():
            raise ArchitectureError(f"{name!r} is not a Python identifier", name)
        check_function(name, code)
        with self.project.transaction():
            functions = self.record(architecture_id)["functions"]
            if name in functions:
                splice(functions[name], code)
            else:
                functions[name] = Text(code)


def _layer_record(layer: Layer) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": layer.name,
        "type": layer.type,
        "args": Map({k: dumps(v) for k, v in layer.args.items()}),
        "x": float(layer.x),
        "y": float(layer.y),
    }
    if layer.shares is not None:
        record["shares"] = layer.shares
    if layer.config is not None:
        record["config"] = dumps(layer.config)
    if layer.call is not None:
        record["call"] = layer.call
    return record


def _snake(name: str) -> str:
    out = [name[0].lower()]
    for prev, char in itertools.pairwise(name):
        if char.isupper() and prev.islower():
            out.append("_")
        out.append(char.lower())
    return "".join(out).replace("input_layer", "input")


def function_choices() -> dict[str, list[str]]:
    return load_catalog().get("functions", {})
