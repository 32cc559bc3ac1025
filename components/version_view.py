"""An old version of a project, read-only as it looked, and design diffs rendered for reading.

The version is a detached checkout (``Project.checkout``): nothing here writes to it, and the
graph has no handlers, so a gesture on it changes nothing. Every name, value and line of code
shown comes from users and is escaped (``markup``).
"""

from __future__ import annotations

import json
from typing import Any

import panel as pn
from panel_reactflow import NodeType

from deepforge_panel.components.flow import ReactFlow
from deepforge_panel.components.markup import md_block, md_code, md_text
from deepforge_panel.components.pipeline_editor import _NODE_CSS, _port_view
from deepforge_panel.crdt import ROOTS, to_py
from deepforge_panel.diff import MISSING, DesignDiff, ValueChange, code_diff, noun
from deepforge_panel.project import Project

__all__ = ["VersionView", "diff_markdown", "flow_graph"]


def _value(value: Any) -> str:
    if value is MISSING:
        return "_none_"
    return md_code(value if isinstance(value, str) else json.dumps(value, default=str))


def _change(change: ValueChange) -> str:
    multiline = any(isinstance(v, str) and "\n" in v for v in (change.old, change.new))
    if multiline:
        old = change.old if isinstance(change.old, str) else ""
        new = change.new if isinstance(change.new, str) else ""
        return f"{md_text(change.what)}:\n\n{md_block(chr(10).join(code_diff(old, new)), 'diff')}\n"
    return f"{md_text(change.what)}: {_value(change.old)} → {_value(change.new)}"


def diff_markdown(diff: DesignDiff, nothing: str = "_The designs are the same._") -> str:
    """``diff`` as Markdown: pipelines (nodes, attributes, edges), operations (code as a diff block), other entries."""
    if not diff:
        return nothing
    parts: list[str] = []
    for pipeline in diff.pipelines:
        renamed = f" (renamed from {md_code(pipeline.renamed_from)})" if pipeline.renamed_from else ""
        lines = [f"**Pipeline {md_code(pipeline.name)}** {pipeline.status}{renamed}"]
        for node in pipeline.nodes:
            what = f"- {node.status} node **{md_text(node.name)}** ({md_text(node.operation)})"
            simple = [c for c in node.changes if not any(isinstance(v, str) and "\n" in v for v in (c.old, c.new))]
            lines.append(what + (": " + "; ".join(_change(c) for c in simple) if simple else ""))
        lines += [f"- added edge {md_text(edge)}" for edge in pipeline.edges_added]
        lines += [f"- removed edge {md_text(edge)}" for edge in pipeline.edges_removed]
        parts.append("\n".join(lines))
    for operation in diff.operations:
        renamed = f" (renamed from {md_code(operation.renamed_from)})" if operation.renamed_from else ""
        block = f"\n\n{md_block(chr(10).join(operation.code), 'diff')}" if operation.code else ""
        listed = "".join(f"\n- {_change(c)}" for c in operation.changes)
        parts.append(f"**Operation {md_code(operation.name)}** {operation.status}{renamed}{listed}{block}")
    for entry in diff.entries:
        head = f"**{noun(entry.root, 1).capitalize()} {md_code(entry.name)}** {entry.status}"
        changes = [_change(c) for c in entry.changes] if entry.status == "changed" else []
        parts.append("\n".join([head, *(f"- {c}" for c in changes)]))
    return "\n\n".join(parts)


def flow_graph(project: Project, pipeline_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """React Flow's node types, nodes and edges for one pipeline of ``project``, drawn as the editor draws them."""
    pipeline = project.pipelines.get(pipeline_id)
    node_types: dict[str, Any] = {}
    nodes = []
    for node in pipeline.nodes.values():
        op = project.operations.get(node.operation) if node.operation in project.operations.ids() else None
        iface = op.interface if op else None
        op_name = op.name if op else f"missing {node.operation}"
        node_types[node.operation] = NodeType(
            type=node.operation,
            label=op_name,
            inputs=[{"id": p.name, "label": p.name, "type": p.type} for p in iface.inputs] if iface else [],
            outputs=[{"id": p.name, "label": p.name, "type": p.type} for p in iface.outputs] if iface else [],
        )
        body = _port_view(iface, op_name, op is None or op.error is not None)
        nodes.append(
            {
                "id": node.id,
                "type": node.operation,
                "label": node.name,
                "position": {"x": node.x, "y": node.y},
                "data": {},
                "draggable": False,
                "view": pn.pane.HTML(body, margin=0, stylesheets=[_NODE_CSS]),
            }
        )
    edges = [
        {"id": e.id, "source": e.src, "target": e.dst, "sourceHandle": e.src_port, "targetHandle": e.dst_port}
        for e in pipeline.edges.values()
    ]
    return node_types, nodes, edges


def architectures_markdown(version: Project) -> str:
    """Every other design root's entries (the architectures) as a read-only list: name, then its layers."""
    parts = []
    for root in ROOTS.design:
        if root in ("meta", "operations", "pipelines"):
            continue
        entries = to_py(version.map(root)) or {}
        for entry in sorted(entries.values(), key=lambda e: str(e.get("name", "")) if isinstance(e, dict) else ""):
            if not isinstance(entry, dict):
                continue
            found = entry.get("layers")
            layers: dict[str, Any] = found if isinstance(found, dict) else {}
            listed = ", ".join(
                f"{md_text(layer.get('name', ''))} ({md_text(layer.get('type', ''))})"
                for layer in layers.values()
                if isinstance(layer, dict)
            )
            parts.append(
                f"- {noun(root, 1)} **{md_text(entry.get('name', ''))}**"
                + (f": {len(layers)} layers: {listed}" if layers else "")
            )
    return "\n".join(parts) or "_No architectures in this version._"


class VersionView(pn.viewable.Viewer):
    """One checked-out version, read-only: a pipeline's graph and nodes, an operation's code, the architectures."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.version: Project | None = None
        self.pipeline_select = pn.widgets.Select(label="Pipeline", options={}, width=240)
        self.operation_select = pn.widgets.Select(label="Operation", options={}, width=240)
        self.flow = ReactFlow(
            nodes=[],
            edges=[],
            editable=False,
            enable_connect=False,
            enable_delete=False,
            display_side_bar=False,
            show_minimap=False,
            css_classes=["df-version-graph"],
            sizing_mode="stretch_width",
            height=380,
        )
        self.nodes = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["df-version-nodes"])
        self.code = pn.pane.Markdown("", sizing_mode="stretch_width", css_classes=["df-version-code"])
        self.architectures = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.pipeline_select.param.watch(lambda _e: self._show_pipeline(), "value")
        self.operation_select.param.watch(lambda _e: self._show_operation(), "value")
        self._layout = pn.Column(
            pn.Row(
                pn.Column(self.pipeline_select, self.flow, self.nodes, sizing_mode="stretch_width"),
                pn.Column(self.operation_select, self.code, width=520, max_height=640, scroll=True),
                sizing_mode="stretch_width",
            ),
            "##### Architectures",
            self.architectures,
            sizing_mode="stretch_width",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout

    def show(self, version: Project | None) -> None:
        """Show ``version`` (a read-only checkout), or nothing."""
        self.version = version
        pipelines = version.pipelines.all() if version else []
        operations = version.operations.all() if version else []
        shown = (self.pipeline_select.value, self.operation_select.value)
        self.pipeline_select.param.update(
            options={p.name: p.id for p in pipelines}, value=pipelines[0].id if pipelines else None
        )
        self.operation_select.param.update(
            options={o.name: o.id for o in operations}, value=operations[0].id if operations else None
        )
        if self.pipeline_select.value == shown[0]:  # else the select's watcher drew it already
            self._show_pipeline()
        if self.operation_select.value == shown[1]:
            self._show_operation()
        self.architectures.object = architectures_markdown(version) if version else ""

    def _show_pipeline(self) -> None:
        version, pipeline_id = self.version, self.pipeline_select.value
        if version is None or pipeline_id not in (version.pipelines.ids() if version else []):
            self.flow.param.update(nodes=[], edges=[], node_types={})
            self.nodes.object = ""
            return
        node_types, nodes, edges = flow_graph(version, pipeline_id)
        self.flow.param.update(node_types=node_types, nodes=nodes, edges=edges)
        names: dict[str, str] = {op.id: op.name for op in version.operations.all()}
        self.nodes.object = "\n".join(
            f"- **{md_text(n.name)}** ({md_text(names.get(n.operation, f'missing {n.operation}'))})"
            + (
                ": " + ", ".join(f"{md_text(k)} = {_value(v)}" for k, v in sorted(n.attributes.items()))
                if n.attributes
                else ""
            )
            for n in sorted(version.pipelines.get(pipeline_id).nodes.values(), key=lambda n: n.name)
        )

    def _show_operation(self) -> None:
        version, op_id = self.version, self.operation_select.value
        if version is None or op_id not in version.operations.ids():
            self.code.object = ""
            return
        self.code.object = md_block(version.operations.get(op_id).code, "python")
