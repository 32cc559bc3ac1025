"""Directed-graph helpers shared by pipelines and library resources (architectures)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

N = TypeVar("N", bound=str)


def descendants(start: str, edges: Iterable[tuple[N, N]]) -> set[N]:
    """Every node reachable from ``start`` along ``(src, dst)`` edges."""
    children: dict[str, list[N]] = {}
    for src, dst in edges:
        children.setdefault(src, []).append(dst)
    seen: set[N] = set()
    stack: list[str] = [start]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return seen


def topological_order(
    nodes: Iterable[N], edges: Iterable[tuple[N, N]], key: Callable[[N], str]
) -> tuple[list[N], list[N]]:
    """Nodes so every edge points forward, ties broken by ``key``; and the nodes left on a cycle (empty if none)."""
    nodes = list(nodes)
    indegree = {n: 0 for n in nodes}
    children: dict[N, list[N]] = {}
    for src, dst in edges:
        indegree[dst] += 1
        children.setdefault(src, []).append(dst)
    ready = sorted((n for n, d in indegree.items() if d == 0), key=key)
    order: list[N] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in sorted(children.get(node, ()), key=key):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    placed = set(order)
    return order, [n for n in nodes if n not in placed]
