"""Pipelines: operation instances (nodes) joined output-to-input (edges) into a DAG."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NewType

from pycrdt import Map

from deepforge_panel.crdt import dumps, loads, new_id
from deepforge_panel.crdt.schema import MAX_INT
from deepforge_panel.errors import Place
from deepforge_panel.graph import DAG, GraphError
from deepforge_panel.interface import Attribute, Interface, ports_compatible
from deepforge_panel.io_nodes import ATTRIBUTE, NAME, InputError, find_artifact, is_input, is_output
from deepforge_panel.names import check_name, name_problem
from deepforge_panel.views import RootView

if TYPE_CHECKING:
    from deepforge_panel.adapters.compute import Limits

PipelineId = NewType("PipelineId", str)
NodeId = NewType("NodeId", str)
EdgeId = NewType("EdgeId", str)


class PipelineError(GraphError):
    """A pipeline edit or run refused, naming the element at fault; nothing was changed."""


@dataclass(frozen=True)
class Node:
    id: NodeId
    name: str
    operation: str
    attributes: dict[str, Any]
    references: dict[str, str]
    x: float = 0.0
    y: float = 0.0
    limits: dict[str, float | None] = field(default_factory=dict)
    """This node's own time and memory limits ({"time_s": ..., "memory_mb": ...}); the project's apply to the rest."""


@dataclass(frozen=True)
class Edge:
    id: EdgeId
    src: NodeId
    src_port: str
    dst: NodeId
    dst_port: str


@dataclass(frozen=True)
class Pipeline(DAG[NodeId, Node, Edge]):
    id: PipelineId
    name: str
    nodes: dict[NodeId, Node] = field(default_factory=dict)
    edges: dict[EdgeId, Edge] = field(default_factory=dict)

    graph_kind: ClassVar[str] = "pipeline"
    vertex_kind: ClassVar[str] = "node"
    error: ClassVar[type[GraphError]] = PipelineError

    def _vertices(self) -> dict[NodeId, Node]:
        return self.nodes

    def _arcs(self) -> Iterable[Edge]:
        return self.edges.values()

    def node(self, name_or_id: str) -> Node:
        """The node whose id or name is ``name_or_id``; a PipelineError listing the nodes otherwise."""
        return self.find(name_or_id)


def coerce(attribute: Attribute, value: Any, owner: str) -> Any:
    """``value`` converted to ``attribute``'s type, or a PipelineError naming the owner."""
    kind = attribute.type
    try:
        if attribute.choices is not None:
            if value not in attribute.choices:
                raise ValueError(f"must be one of {list(attribute.choices)}")
            return value
        if value is None:
            return None
        if kind == "bool":
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError("must be true or false")
                return lowered in ("true", "1", "yes")
            return bool(value)
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("must be a whole number, not a boolean")
            if isinstance(value, float) and not value.is_integer():
                raise ValueError("must be a whole number")
            number = int(value)
            if abs(number) > MAX_INT:
                raise ValueError(f"must be a whole number between {-MAX_INT} and {MAX_INT}")
            return number
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError("must be a number, not a boolean")
            return float(value)
        if kind == "str":
            return str(value)
        dumps(value)
        return value
    except (TypeError, ValueError, OverflowError) as exc:
        raise PipelineError(f"{owner}.{attribute.name} = {value!r}: {exc}", owner) from None


_SLUG = re.compile(r"[^a-z0-9_]+")


class PipelinesView(RootView[Pipeline]):
    """The ``pipelines`` root: id -> {name, nodes: {id: {...}}, edges: {id: {...}}}."""

    root = "pipelines"
    kind = "pipeline"

    def get(self, pipeline_id: str) -> Pipeline:
        record = self.record(pipeline_id)
        nodes = {
            NodeId(nid): Node(
                id=NodeId(nid),
                name=n["name"],
                operation=n["operation"],
                attributes={k: loads(v) for k, v in n["attributes"].items()},
                references=dict(n["references"].items()),
                x=float(n.get("x") or 0.0),
                y=float(n.get("y") or 0.0),
                limits=loads(n.get("limits")) or {},
            )
            for nid, n in record["nodes"].items()
        }
        edges = {
            EdgeId(eid): Edge(EdgeId(eid), e["src"], e["src_port"], e["dst"], e["dst_port"])
            for eid, e in record["edges"].items()
        }
        return Pipeline(PipelineId(pipeline_id), record["name"], nodes, edges)

    def _interface(self, op_id: str) -> Interface:
        op = self.project.operations.get(op_id)
        if op.interface is None:
            raise PipelineError(f"operation {op.name!r} has no valid interface yet: {op.error}", op_id)
        return op.interface

    # -- edits --------------------------------------------------------------------------
    def create(self, name: str) -> PipelineId:
        check_name("pipeline", name, PipelineError)
        if any(p.name == name for p in self.all()):
            raise PipelineError(f"a pipeline named {name!r} already exists")
        pipeline_id = PipelineId(new_id("pl"))
        with self.project.transaction():
            self._map[pipeline_id] = Map({"name": name, "nodes": Map(), "edges": Map()})
        return pipeline_id

    def rename(self, pipeline_id: str, name: str) -> None:
        check_name("pipeline", name, PipelineError, pipeline_id)
        if any(p.name == name and p.id != pipeline_id for p in self.all()):
            raise PipelineError(f"a pipeline named {name!r} already exists", pipeline_id)
        with self.project.transaction():
            self.record(pipeline_id)["name"] = name

    def remove(self, pipeline_id: str) -> None:
        self.record(pipeline_id)
        with self.project.transaction():
            del self._map[pipeline_id]

    def add_node(
        self,
        pipeline_id: str,
        op_id: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        x: float = 0.0,
        y: float = 0.0,
    ) -> NodeId:
        """An instance of operation ``op_id``; ``name`` (unique in the pipeline) defaults from the op's."""
        pipeline = self.get(pipeline_id)
        op = self.project.operations.get(op_id)
        if name:
            check_name("node", name, PipelineError)
        taken = {n.name for n in pipeline.nodes.values()}
        base = name or _SLUG.sub("_", op.name.lower()).strip("_") or "node"
        if name is not None and name in taken:
            raise PipelineError(f"pipeline {pipeline.name!r} already has a node named {name!r}", name)
        unique, i = base, 2
        while unique in taken:
            unique, i = f"{base}_{i}", i + 1
        values = self._checked_attributes(op_id, unique, attributes or {})
        node_id = NodeId(new_id("n"))
        with self.project.transaction():
            self.record(pipeline_id)["nodes"][node_id] = Map(
                {
                    "name": unique,
                    "operation": op_id,
                    "attributes": Map({k: dumps(v) for k, v in values.items()}),
                    "references": Map(),
                    "x": float(x),
                    "y": float(y),
                }
            )
        return node_id

    def _checked_attributes(self, op_id: str, owner: str, values: dict[str, Any]) -> dict[str, Any]:
        if not values:
            return {}
        interface = self._interface(op_id)
        checked = {}
        for key, value in values.items():
            attribute = interface.attribute(key)
            if attribute is None:
                known = [a.name for a in interface.attributes]
                raise PipelineError(f"{owner} has no attribute {key!r} (attributes: {known})", owner)
            checked[key] = coerce(attribute, value, owner)
        return checked

    def set_attributes(self, pipeline_id: str, node: str, values: dict[str, Any]) -> None:
        pipeline = self.get(pipeline_id)
        target = pipeline.node(node)
        checked = self._checked_attributes(target.operation, target.name, values)
        with self.project.transaction():
            stored = self.record(pipeline_id)["nodes"][target.id]["attributes"]
            for key, value in checked.items():
                stored[key] = dumps(value)

    def set_reference(self, pipeline_id: str, node: str, name: str, reference: str) -> None:
        """Point reference ``name`` of a node at a library resource, ``"keras:<architecture id>"``."""
        from deepforge_panel.references import UnresolvedReference, check_reference

        target = self.get(pipeline_id).node(node)
        if name not in {r.name for r in self._interface(target.operation).references}:
            raise PipelineError(f"{target.name} has no reference {name!r}", target.id)
        try:
            check_reference(self.project, reference)
        except UnresolvedReference as exc:
            raise PipelineError(f"{target.name}.{name}: {exc}", target.id) from None
        with self.project.transaction():
            self.record(pipeline_id)["nodes"][target.id]["references"][name] = reference

    def set_limits(self, pipeline_id: str, node: str, limits: Limits) -> None:
        """Give a node its own time and memory limits (a None keeps the project's for that one)."""
        target = self.get(pipeline_id).node(node)
        with self.project.transaction():
            self.record(pipeline_id)["nodes"][target.id]["limits"] = dumps(
                {k: v for k, v in limits.to_dict().items() if v is not None}
            )

    def effective_limits(self, node: Node) -> Limits:
        """The node's limits: its own where set, the project's for the rest."""
        from deepforge_panel.adapters.compute import Limits

        default = self.project.job_limits
        return Limits(node.limits.get("time_s", default.time_s), node.limits.get("memory_mb", default.memory_mb))

    def rename_node(self, pipeline_id: str, node: str, name: str) -> None:
        pipeline = self.get(pipeline_id)
        target = pipeline.node(node)
        check_name("node", name, PipelineError, target.id)
        if any(n.name == name and n.id != target.id for n in pipeline.nodes.values()):
            raise PipelineError(f"pipeline {pipeline.name!r} already has a node named {name!r}", target.id)
        with self.project.transaction():
            self.record(pipeline_id)["nodes"][target.id]["name"] = name

    def move_node(self, pipeline_id: str, node: str, x: float, y: float) -> None:
        target = self.get(pipeline_id).node(node)
        with self.project.transaction():
            record = self.record(pipeline_id)["nodes"][target.id]
            record["x"], record["y"] = float(x), float(y)

    def remove_node(self, pipeline_id: str, node: str) -> None:
        """The node and every edge touching it."""
        pipeline = self.get(pipeline_id)
        target = pipeline.node(node)
        with self.project.transaction():
            record = self.record(pipeline_id)
            for edge in pipeline.incoming(target.id) + pipeline.outgoing(target.id):
                del record["edges"][edge.id]
            del record["nodes"][target.id]

    def check_edge(self, pipeline: Pipeline, src: str, src_port: str, dst: str, dst_port: str) -> tuple[Node, Node]:
        """The (source, target) nodes if ``src.src_port -> dst.dst_port`` may be added; else why not, as a PipelineError.

        The one place an edge is judged: :meth:`add_edge` and the editor's drag feedback both ask here.
        """
        source, target = pipeline.node(src), pipeline.node(dst)
        if pipeline.would_cycle(source.id, target.id):
            raise PipelineError(
                f"connecting {source.name} -> {target.name} would make a cycle: pipelines must be acyclic", target.id
            )
        out = self._interface(source.operation).output(src_port)
        if out is None:
            names = [p.name for p in self._interface(source.operation).outputs]
            raise PipelineError(f"{source.name} has no output {src_port!r} (outputs: {names})", source.id)
        inp = self._interface(target.operation).input(dst_port)
        if inp is None:
            names = [p.name for p in self._interface(target.operation).inputs]
            raise PipelineError(f"{target.name} has no input {dst_port!r} (inputs: {names})", target.id)
        if not ports_compatible(out.type, inp.type):
            raise PipelineError(
                f"cannot connect {source.name}.{src_port} ({out.type}) to {target.name}.{dst_port} ({inp.type}): "
                "port types differ",
                target.id,
            )
        if any(e.dst == target.id and e.dst_port == dst_port for e in pipeline.edges.values()):
            raise PipelineError(f"{target.name}.{dst_port} is already connected; remove that edge first", target.id)
        return source, target

    def add_edge(self, pipeline_id: str, src: str, src_port: str, dst: str, dst_port: str) -> EdgeId:
        """Connect ``src.src_port`` (an output) to ``dst.dst_port`` (an input), or refuse with a reason."""
        source, target = self.check_edge(self.get(pipeline_id), src, src_port, dst, dst_port)
        edge_id = EdgeId(new_id("e"))
        with self.project.transaction():
            self.record(pipeline_id)["edges"][edge_id] = Map(
                {"src": source.id, "src_port": src_port, "dst": target.id, "dst_port": dst_port}
            )
        return edge_id

    def remove_edge(self, pipeline_id: str, edge_id: str) -> None:
        with self.project.transaction():
            edges = self.record(pipeline_id)["edges"]
            if edge_id not in edges:
                raise PipelineError(f"no edge {edge_id!r}", edge_id)
            del edges[edge_id]

    # -- running --------------------------------------------------------------------------
    def effective_attributes(self, node: Node) -> dict[str, Any]:
        """Defaults from the operation's interface overridden by the node's set values."""
        interface = self._interface(node.operation)
        values = {a.name: a.default for a in interface.attributes}
        values.update({k: v for k, v in node.attributes.items() if k in values})
        return values

    def check_runnable(self, pipeline_id: str, overrides: dict[str, dict[str, Any]] | None = None) -> Pipeline:
        """Every problem that would stop a run, all at once, as one PipelineError."""
        from deepforge_panel.references import UnresolvedReference, check_reference

        pipeline = self.get(pipeline_id)
        problems: list[str] = []
        if not pipeline.nodes:
            problems.append(f"pipeline {pipeline.name!r} has no nodes")
        try:
            pipeline.topological_order()
        except PipelineError as exc:
            problems.append(str(exc))
        place: Place | None = None

        def fault(node: Node, problem: str) -> None:
            nonlocal place
            problems.append(problem)
            if place is None:
                place = Place("pipelines", pipeline.id, node.id, f"node {node.name} of {pipeline.name}")

        for node in pipeline.nodes.values():
            op = self.project.operations.get(node.operation)
            if op.error is not None or op.interface is None:
                fault(node, f"{node.name}: operation {op.name} does not parse: {op.error}")
                continue
            interface = op.interface
            chosen = {**self.effective_attributes(node), **(overrides or {}).get(node.name, {})}
            if is_input(interface):
                try:
                    find_artifact(self.project, chosen.get(ATTRIBUTE, ""))
                except InputError as exc:
                    fault(node, f"{node.name}: {exc}")
            if is_output(interface):
                problem = name_problem(chosen.get(NAME))
                if problem is not None:
                    fault(node, f"{node.name}: the artifact's name is not allowed: {problem}")
            connected = {e.dst_port for e in pipeline.incoming(node.id)}
            for port in interface.inputs:
                if port.required and port.name not in connected:
                    fault(node, f"{node.name}: required input {port.name!r} is not connected")
            for edge in pipeline.incoming(node.id):
                if interface.input(edge.dst_port) is None:
                    fault(node, f"{node.name}: edge into {edge.dst_port!r}, which is no longer an input")
            for edge in pipeline.outgoing(node.id):
                if interface.output(edge.src_port) is None:
                    fault(node, f"{node.name}: edge from {edge.src_port!r}, which is no longer an output")
            for ref in interface.references:
                if ref.name not in node.references:
                    fault(node, f"{node.name}: reference {ref.name!r} is not set")
                    continue
                try:
                    check_reference(self.project, node.references[ref.name])
                except UnresolvedReference as exc:
                    fault(node, f"{node.name}: reference {ref.name!r}: {exc}")
            for key, value in (overrides or {}).get(node.name, {}).items():
                attribute = interface.attribute(key)
                if attribute is None:
                    fault(node, f"{node.name}: no attribute {key!r} to set")
                else:
                    try:
                        coerce(attribute, value, node.name)
                    except PipelineError as exc:
                        fault(node, str(exc))
        unknown = set(overrides or {}) - {n.name for n in pipeline.nodes.values()}
        problems.extend(f"--set names no node {name!r}" for name in sorted(unknown))
        if problems:
            raise PipelineError(f"pipeline {pipeline.name!r} cannot run:\n  - " + "\n  - ".join(problems), place=place)
        return pipeline
