"""A Keras model's config as an architecture: every call of every layer a node, every tensor a connection.

Keras serializes a Functional model as layers, each with the calls it was used in (its
``inbound_nodes``), each call naming its input tensors as ``[layer, call, output]``. The plan maps
that onto the document: a catalog layer keeps its arguments (editable), a layer called again
becomes one more node that ``shares`` the first (a shared layer), a connection says which
``output`` of a layer with several it takes, and a layer the catalog cannot edit (a nested
model, a ``Lambda``, a wrapper, a custom class whose code is given, or a catalog layer with a
value the catalog cannot hold) keeps its Keras config as a read-only node
(:mod:`deepforge_panel.libraries.keras.layer_plan`). Nothing here writes to the document; Keras is
imported only to check each layer rebuilds.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from deepforge_panel.crdt import Id, new_id
from deepforge_panel.libraries.keras.architectures import Architecture, ArchitectureError, Connection, Layer
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.layer_plan import MODELS, LayerPlan, Ref, plan_layer, verify_layer

__all__ = ["LayerPlan", "plan_architecture", "plan_model"]

X_STEP, Y_STEP = 220.0, 110.0


@dataclass
class _Entry:
    """A layer of the file: its first node's plan, and the node of each call (Keras' node index -> name)."""

    plan: LayerPlan
    nodes: dict[int, str] = field(default_factory=dict)
    calls: list[Any] = field(default_factory=list)
    offset: int = 0
    """1 for a nested model: its own node comes first where Keras renumbers calls (the model's inputs and outputs)."""


def plan_architecture(config: dict[str, Any], name: str, functions: dict[str, str], notes: list[str]) -> Architecture:
    """The architecture ``config`` describes (new ids, laid out by depth), checked layer by layer against Keras."""
    plans, inputs, outputs = _plan(config, functions, notes)
    for plan in plans:
        if plan.shares is None:
            notes += verify_layer(plan, functions)
    ids = {plan.name: new_id("l") for plan in plans}
    by_name = {plan.name: plan for plan in plans}
    positions = _layout(plans)
    layers = {
        ids[p.name]: Layer(
            ids[p.name],
            p.name,
            p.type,
            p.args,
            *positions[p.name],
            shares=ids[p.shares] if p.shares else None,
            config=p.kept,
            call=p.call if by_name[p.shares or p.name].kept is not None else None,
        )
        for p in plans
    }
    connections = {}
    for plan in plans:
        for index, (src, output) in enumerate(plan.inputs):
            if src not in ids:
                raise ArchitectureError(f"{plan.name}: its input {src!r} is not a layer of the model", plan.name)
            cid = new_id("c")
            connections[cid] = Connection(cid, ids[src], ids[plan.name], index, output)
    used = set().union(*(p.functions for p in plans)) if plans else set()
    for fname in sorted(used):
        if fname not in functions:
            raise ArchitectureError(f"the model uses {fname!r}; pass its code", fname)
    arch = Architecture(Id(""), name, layers, connections, {f: functions[f] for f in sorted(used)})
    model_inputs = tuple(ids[n] for n, _ in inputs if n in ids)
    model_outputs = tuple((ids[n], index) for n, index in outputs if n in ids)
    return Architecture(
        arch.id,
        name,
        layers,
        connections,
        arch.functions,
        None if model_inputs == tuple(layer.id for layer in arch.model_inputs()) else model_inputs,
        None if model_outputs == tuple((layer.id, i) for layer, i in arch.output_refs()) else model_outputs,
    )


def plan_model(config: dict[str, Any], functions: dict[str, str], notes: list[str]) -> list[LayerPlan]:
    """Every node of the model, in the file's order; ArchitectureError naming any misfit."""
    return _plan(config, functions, notes)[0]


def _plan(
    config: dict[str, Any], functions: dict[str, str], notes: list[str]
) -> tuple[list[LayerPlan], list[Ref], list[Ref]]:
    kind, inner = config["class_name"], config["config"]
    entries = list(inner.get("layers") or [])
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            raise ArchitectureError(f"layer {position + 1} of the model is not a serialized Keras layer", str(position))
    if kind == "Sequential":
        if not entries or entries[0].get("class_name") != "InputLayer":
            shape = inner.get("build_input_shape")
            if shape is None:
                raise ArchitectureError(
                    "the Sequential model has no input shape; build it or start it with keras.Input"
                )
            entries.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": shape, "name": "input_layer"}})
        chain = []
        for entry in entries:
            with _about(_label(entry)):
                chain.append(plan_layer(entry, functions, notes))
        chain = _unique(chain)
        for prev, plan in itertools.pairwise(chain):
            plan.inputs = [(prev.name, None)]
        return chain, [(chain[0].name, None)], [(chain[-1].name, None)]
    if kind not in MODELS:
        raise ArchitectureError(f"{kind} models cannot be imported: only Functional and Sequential ones")
    layers: dict[str, _Entry] = {}
    taken: set[str] = set()
    for entry in entries:
        with _about(_label(entry)):
            plan = plan_layer(entry, functions, notes)
            fresh = _fresh(plan.name, taken)
            if fresh != plan.name:
                notes.append(f"layer {plan.name!r} is named {fresh!r} (the name is taken)")
            plan.name = fresh
            raw = str((entry.get("config") or {}).get("name") or entry.get("name") or plan.name)
            calls = list(entry.get("inbound_nodes") or [])
            item = layers[raw] = _Entry(
                plan, {0: plan.name}, calls, 1 if entry["class_name"] in ("Functional", "Model") else 0
            )
            for k in range(1, len(calls)):
                item.nodes[k] = _fresh(f"{plan.name}_call{k + 1}", taken)
    several = _multi_output(layers, inner)
    plans: list[LayerPlan] = []
    for item in layers.values():
        names = [node for _, node in sorted(item.nodes.items())]
        for k, call in enumerate(item.calls or [None]):
            node = item.plan if k == 0 else LayerPlan(names[k], item.plan.type, {}, shares=item.plan.name)
            if call is not None:
                with _about(f"layer {node.name!r}"):
                    history, style = _inbound(call, node, item.plan, notes)
                    legacy = not isinstance(call, dict)
                    node.inputs = [_ref(layers, src, n, t, node.name, several, legacy) for src, n, t in history]
                node.call = style
            plans.append(node)
    with _about("the model's inputs"):
        inputs = [
            _ref(layers, *_triple(v), "the model's inputs", several, True) for v in _refs(inner.get("input_layers"))
        ]
    with _about("the model's outputs"):
        outputs = [
            _ref(layers, *_triple(v), "the model's outputs", several, True) for v in _refs(inner.get("output_layers"))
        ]
    return plans, inputs, outputs


def _label(entry: dict[str, Any]) -> str:
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return f"layer {name or entry.get('name') or entry['class_name']!r}"


@contextlib.contextmanager
def _about(label: str) -> Iterator[None]:
    """What a malformed config makes fail inside is refused as such, naming ``label`` (a layer, the outputs)."""
    try:
        yield
    except ArchitectureError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ArchitectureError(f"{label}: its config is malformed ({type(exc).__name__}: {exc})", label) from None


def _fresh(name: str, taken: set[str]) -> str:
    unique, i = name, 1
    while unique in taken:
        unique, i = f"{name}_{i}", i + 1
    taken.add(unique)
    return unique


def _unique(plans: list[LayerPlan]) -> list[LayerPlan]:
    taken: set[str] = set()
    for plan in plans:
        plan.name = _fresh(plan.name, taken)
    return plans


def _refs(value: Any) -> list[Any]:
    """``input_layers`` / ``output_layers``: one ``[name, node, tensor]`` or a list of them."""
    if not value:
        return []
    return [value] if isinstance(value[0], str) else list(value)


def _triple(value: Any) -> tuple[str, int, int]:
    return str(value[0]), int(value[1]), int(value[2])


def _ref(
    layers: dict[str, _Entry], src: str, node: int, tensor: int, owner: str, several: set[str], renumbered: bool
) -> Ref:
    """The node of call ``node`` of layer ``src``; ``renumbered``: counted as model outputs are (a nested model's own node first)."""
    item = layers.get(src)
    if item is not None and renumbered:
        node -= item.offset
    if item is None or node not in item.nodes:
        where = f"call {node} of " if item is not None else ""
        raise ArchitectureError(f"{owner}: its input is {where}{src!r}, which is not in the model", owner)
    name = item.nodes[node]
    return name, (tensor if item.plan.name in several else None)


def _multi_output(layers: dict[str, _Entry], inner: dict[str, Any]) -> set[str]:
    """Layers with several outputs: one taken past its first, a nested model with several, an RNN returning states."""
    found = set()
    refs = []
    for item in layers.values():
        with _about(f"layer {item.plan.name!r}"):
            refs += [t for call in item.calls for t in _history(call)]
    with _about("the model's outputs"):
        refs += [_triple(v) for v in _refs(inner.get("output_layers"))]
    for src, _node, tensor in refs:
        if tensor and src in layers:
            found.add(layers[src].plan.name)
    for item in layers.values():
        config = (item.plan.kept or {}).get("config") or {}
        if item.plan.type in MODELS and len(_refs(config.get("output_layers"))) > 1:
            found.add(item.plan.name)
        if item.plan.config.get("return_state") or item.plan.config.get("return_attention_scores"):
            found.add(item.plan.name)
    return found


def _history(call: Any) -> list[tuple[str, int, int]]:
    """Every input tensor of one call, as ``(layer, node, tensor)``, whatever the format."""
    if isinstance(call, dict):
        return [_triple(t) for t in _tensors([call.get("args", []), call.get("kwargs") or {}])]
    return [_triple(t) for t in call or []]


def _inbound(
    call: Any, node: LayerPlan, owner: LayerPlan, notes: list[str]
) -> tuple[list[tuple[str, int, int]], str | None]:
    """One call's input tensors in argument order, and how a kept layer takes them ("list", "positional" or None)."""
    if not isinstance(call, dict):  # the Keras 2 format: [[layer, node, tensor, kwargs], ...]
        history = [_triple(t) for t in call]
        return history, ("list" if len(history) > 1 else None)
    args = call.get("args", [])
    history = [_triple(t) for t in _tensors(args)]
    for key, value in (call.get("kwargs") or {}).items():
        found = [_triple(t) for t in _tensors(value)]
        if found and owner.kept is None and load_catalog()["layers"][owner.type].get("call") == "positional":
            history += found
        elif found:
            raise ArchitectureError(
                f"layer {node.name!r} is called with a tensor as {key!r}; only its inputs connect", node.name
            )
        elif value not in (None, False):
            notes.append(f"{node.name} was called with {key}={value!r}, which is not kept")
    if len(args) == 1 and isinstance(args[0], list):
        return history, "list"
    return history, ("positional" if len(args) > 1 else None)


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


def _layout(plans: list[LayerPlan]) -> dict[str, tuple[float, float]]:
    """x by depth (longest path from an input), y by order within a depth."""
    inputs = {plan.name: [src for src, _ in plan.inputs] for plan in plans}
    depth: dict[str, int] = {}

    def level(name: str) -> int:
        stack = [name]
        while stack:
            top = stack[-1]
            pending = [s for s in inputs.get(top, []) if s not in depth and s in inputs]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            depth[top] = 1 + max((depth.get(s, 0) for s in inputs.get(top, [])), default=-1)
        return depth[name]

    rows: dict[int, int] = {}
    out = {}
    for plan in plans:
        d = level(plan.name)
        row = rows.get(d, 0)
        rows[d] = row + 1
        out[plan.name] = (d * X_STEP, row * Y_STEP)
    return out
