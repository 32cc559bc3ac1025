"""One directed-graph type for pipelines and library resources (architectures): lookup, order, cycles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from deepforge_panel.errors import ProjectError

__all__ = ["DAG", "GraphError", "descendants", "topological_order"]

K = TypeVar("K", bound=str)
K_co = TypeVar("K_co", bound=str, covariant=True)


class GraphError(ProjectError, ValueError):
    """A graph edit or run refused, naming the element at fault; nothing was changed."""


class _Vertex(Protocol[K_co]):
    @property
    def id(self) -> K_co: ...
    @property
    def name(self) -> str: ...


class _Arc(Protocol[K_co]):
    @property
    def src(self) -> K_co: ...
    @property
    def dst(self) -> K_co: ...


V = TypeVar("V", bound=_Vertex[Any])
A = TypeVar("A", bound=_Arc[Any])


def descendants(start: str, edges: Iterable[tuple[K, K]]) -> set[K]:
    """Every node reachable from ``start`` along ``(src, dst)`` edges."""
    children: dict[str, list[K]] = {}
    for src, dst in edges:
        children.setdefault(src, []).append(dst)
    seen: set[K] = set()
    stack: list[str] = [start]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def topological_order(
    nodes: Iterable[K], edges: Iterable[tuple[K, K]], key: Callable[[K], str]
) -> tuple[list[K], list[K]]:
    """Nodes so every edge points forward, ties broken by ``key``; and the nodes left on a cycle (empty if none)."""
    nodes = list(nodes)
    indegree = {n: 0 for n in nodes}
    children: dict[K, list[K]] = {}
    for src, dst in edges:
        indegree[dst] += 1
        children.setdefault(src, []).append(dst)
    ready = sorted((n for n, d in indegree.items() if d == 0), key=key)
    order: list[K] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in sorted(children.get(node, ()), key=key):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    placed = set(order)
    return order, [n for n in nodes if n not in placed]


class DAG(Generic[K, V, A]):
    """What pipelines and architectures share: vertices (``V``) by id (``K``) with unique names, arcs (``A``).

    A subclass (a frozen dataclass) says where its vertices and arcs are and what they are called
    in messages; lookups, neighbours, descendants, topological order and cycle checks live here once.
    """

    graph_kind: ClassVar[str] = "graph"
    vertex_kind: ClassVar[str] = "node"
    error: ClassVar[type[GraphError]] = GraphError
    name: str

    def _vertices(self) -> Mapping[K, V]:
        raise NotImplementedError

    def _arcs(self) -> Iterable[A]:
        raise NotImplementedError

    def find(self, name_or_id: str) -> V:
        """The vertex whose id or name is ``name_or_id``."""
        for vertex in self._vertices().values():
            if name_or_id in (vertex.id, vertex.name):
                return vertex
        known = ", ".join(sorted(v.name for v in self._vertices().values())) or "none"
        raise self.error(
            f"{self.graph_kind} {self.name!r} has no {self.vertex_kind} {name_or_id!r} ({self.vertex_kind}s: {known})",
            name_or_id,
        )

    def incoming(self, vertex_id: str) -> list[A]:
        return [a for a in self._arcs() if a.dst == vertex_id]

    def outgoing(self, vertex_id: str) -> list[A]:
        return [a for a in self._arcs() if a.src == vertex_id]

    def upstream(self, vertex_id: str) -> set[K]:
        return {a.src for a in self.incoming(vertex_id)}

    def descendants(self, vertex_id: str) -> set[K]:
        return descendants(vertex_id, ((a.src, a.dst) for a in self._arcs()))

    def would_cycle(self, src: str, dst: str) -> bool:
        """Whether an arc ``src -> dst`` would close a cycle."""
        return src == dst or src in self.descendants(dst)

    def topological_order(self) -> list[K]:
        """Vertex ids so that every arc points forward (ties by name); the graph's error on a cycle."""
        vertices = self._vertices()
        order, stuck = topological_order(
            vertices, ((a.src, a.dst) for a in self._arcs()), key=lambda v: vertices[v].name
        )
        if stuck:
            names = sorted(vertices[v].name for v in stuck)
            raise self.error(f"{self.graph_kind} {self.name!r} has a cycle through {names}")
        return order
