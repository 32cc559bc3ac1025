"""The pipeline as a graph: operations as nodes with ports, edges between ports, attributes at the side.

The graph widget (React Flow through panel-reactflow) is a projection of the document:
every user gesture becomes a project-view call, and the graph is redrawn from the
document afterwards, so a refused edge simply disappears with the reason shown.
"""

from __future__ import annotations

import asyncio
import html
import json
from typing import Any

import panel as pn
import param
from panel_reactflow import NodeType

from deepforge_panel.components.base import ProjectComponent
from deepforge_panel.components.flow import FollowedSelection, ReactFlow, deleted_ids
from deepforge_panel.components.markup import md_text
from deepforge_panel.components.operation_editor import OperationEditor
from deepforge_panel.components.pipeline_export import PipelineExport
from deepforge_panel.components.presence import mark_html, mark_style, marks, on_marks_change
from deepforge_panel.components.session import Session
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.interface import Attribute, Interface
from deepforge_panel.io_nodes import is_input
from deepforge_panel.job_cache import freshness
from deepforge_panel.libraries import loaded_libraries
from deepforge_panel.oplib import add_builtin, builtin_operations
from deepforge_panel.pipelines import Node, Pipeline, PipelineError
from deepforge_panel.references import make_reference

BLANK = "New blank operation"


NODE_WIDTH = 190.0
GAP = 20.0


_FRESHNESS = {
    "stale": "<span class='df-stale' title='changed since its last run: Run runs it again'>● stale</span>",
    "always": "<span class='df-always' title='its operation is not deterministic: it runs every time'>↻</span>",
}
"""What a node's header says of its last result (:func:`deepforge_panel.job_cache.freshness`)."""


def _port_view(interface: Interface | None, operation: str, error: bool, freshness: str = "new") -> str:
    """The node body: operation name and its ports, inputs left and outputs right; stale when it would run."""
    if interface is None:
        return f"<div class='df-node'><i>{html.escape(operation)}</i><br><span class='df-error'>does not parse</span></div>"
    rows = max(len(interface.inputs), len(interface.outputs), 1)
    ins = [p.name for p in interface.inputs] + [""] * rows
    outs = [p.name for p in interface.outputs] + [""] * rows
    body = "".join(
        f"<tr><td class='df-in'>{html.escape(ins[i])}</td><td class='df-out'>{html.escape(outs[i])}</td></tr>"
        for i in range(rows)
    )
    flag = " <span class='df-error'>⚠ code error</span>" if error else ""
    if freshness in _FRESHNESS:
        flag += " " + _FRESHNESS[freshness]
    return (
        f"<div class='df-node'><div class='df-op'>{html.escape(operation)}{flag}</div>"
        f"<table class='df-ports'>{body}</table></div>"
    )


_NODE_CSS = """
.df-node { font-size: 11px; min-width: 150px; }
.df-op { color: var(--df-muted, #555); margin-bottom: 4px; }
.df-ports { width: 100%; border-collapse: collapse; }
.df-in { text-align: left; padding: 2px 8px 2px 0; }
.df-out { text-align: right; padding: 2px 0 2px 8px; }
.df-error { color: var(--df-error, #c62828); }
.df-stale { color: #e6550d; font-weight: 600; }
.df-always { color: var(--df-muted, #555); }
.df-peers { font-size: 11px; font-weight: 600; margin-bottom: 2px; }
.df-peer { margin-right: 6px; }
"""


def attribute_widget(attribute: Attribute, value: Any, choices: list[str] | None = None) -> pn.widgets.Widget:
    """A widget fitting the attribute's type; ``choices`` (with the value kept among them) for a pick from a list."""
    name = attribute.name
    if choices is not None:
        options = (
            {c: c for c in choices} if value in choices else {value or "(choose one)": value, **{c: c for c in choices}}
        )
        return pn.widgets.Select(label=name, options=options, value=value)
    if attribute.choices is not None:
        return pn.widgets.Select(label=name, options=list(attribute.choices), value=value)
    if attribute.type == "bool":
        return pn.widgets.Checkbox(label=name, value=bool(value))
    if attribute.type == "int":
        return pn.widgets.IntInput(label=name, value=value)
    if attribute.type == "float":
        return pn.widgets.FloatInput(label=name, value=value)
    if attribute.type == "str":
        return pn.widgets.TextInput(label=name, value="" if value is None else str(value))
    return pn.widgets.TextInput(label=f"{name} (JSON)", value=json.dumps(value))


class PipelineEditor(ProjectComponent):
    """Edit a pipeline: add operations, drag, connect ports, delete, set attributes, edit code."""

    session = param.ClassSelector(class_=Session, doc="This browser tab's selection and actions.")
    roots = ("pipelines", "operations", "architectures", "artifacts", "results", "utilities", "meta")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.flow = ReactFlow(
            nodes=[],
            edges=[],
            sizing_mode="stretch_both",
            min_height=480,
            show_minimap=False,
        )
        self.flow.on("edge_added", self._edge_added)
        self.flow.on("edge_deleted", self._edge_deleted)
        self.flow.on("node_deleted", self._node_deleted)
        self.flow.on("node_moved", self._node_moved)
        self.selection = FollowedSelection(self.flow, lambda: self.session.node, self._show_selected)
        """Which node the side panel shows, following the browser's selection."""
        self.flow.add_connection_validator(self._connection_problem)

        self.pipeline_select = pn.widgets.Select(label="Pipeline", options={}, width=220)
        self.pipeline_select.param.watch(self._pick_pipeline, "value")
        self.new_pipeline_name = pn.widgets.TextInput(placeholder="new pipeline name", width=180, label="New pipeline")
        self.new_pipeline_button = pn.widgets.Button(label="Create", color="default", width=80, align="end")
        self.new_pipeline_button.on_click(self._create_pipeline)
        self.add_select = pn.widgets.Select(label="Add operation", options=[], width=220)
        self.add_button = pn.widgets.Button(label="Add node", color="primary", width=100, align="end")
        self.add_button.on_click(self._add_node)
        self.run_button = pn.widgets.Button(
            label="▶ Run",
            color="success",
            width=90,
            align="end",
            description="Run the jobs that are stale or new; the others take their last results",
        )
        self.run_button.on_click(lambda _e: self.run())
        self.run_all_button = pn.widgets.Button(
            label="Run all", width=90, align="end", description="Run every job, ignoring earlier results"
        )
        self.run_all_button.on_click(lambda _e: self.run(cache=False))
        self.run_on = pn.widgets.Select(
            label="Run on",
            options={"the project's setting": "", "local processes": "local", "a Dask cluster": "dask"},
            width=170,
            description="Where this run's jobs go; the project's setting is in History, Compute and storage",
        )
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.show_fault = pn.widgets.Button(label="", color="danger", variant="outline", visible=False)
        """Brings the element the message is about into view (a node here, a layer in its tab)."""
        self.show_fault.on_click(lambda _event: self.session.show_fault())
        self.empty = pn.pane.Markdown("", visible=False)

        self.node_title = pn.pane.Markdown("*Select a node to see its attributes.*", renderer_options={"html": False})
        """Its operation's docstring is Markdown by its author: formatting kept, raw HTML shown as text."""
        self.node_name = pn.widgets.TextInput(label="Node name", visible=False)
        self.node_name.param.watch(self._rename_node, "value")
        self.attributes = pn.Column(sizing_mode="stretch_width")
        self.references = pn.Column(sizing_mode="stretch_width")
        self._reference_signature: tuple[Any, ...] = ()
        self.time_limit = pn.widgets.FloatInput(
            label="Time limit (s)",
            value=None,
            start=0.1,
            width=140,
            description="This node's own; empty: the project's",
        )
        self.memory_limit = pn.widgets.FloatInput(
            label="Memory limit (MiB)",
            value=None,
            start=1,
            width=140,
            description="This node's own; empty: the project's",
        )
        self.limits = pn.Row(self.time_limit, self.memory_limit, visible=False, css_classes=["df-node-limits"])
        self._showing_limits = False
        for widget in (self.time_limit, self.memory_limit):
            widget.param.watch(self._set_limits, "value")
        self.delete_button = pn.widgets.Button(label="Delete node", color="danger", visible=False)
        self.delete_button.on_click(self._delete_selected)
        self.code = OperationEditor(project=self.project)
        self.export = PipelineExport(project=self.project, session=self.session)
        self._attribute_signature: tuple[Any, ...] = ()
        self._views: dict[str, tuple[str, pn.pane.HTML]] = {}
        self._drawn: str | None = None
        """The pipeline the graph shows, to fit the view when it changes."""
        # Coalesced with the document change that often comes with it (an added node is also selected).
        self.session.param.watch(lambda _e: self._changed("session"), ["pipeline", "node"])
        self.session.param.watch(self._show_message, "message")
        self.session.param.watch(self._show_fault, "fault")
        self.session.param.watch(
            lambda event: setattr(self.session, "selection", ("node", event.new) if event.new else None), "node"
        )
        # Others' selections are marked on the graph.
        self._unsubscribe_presence = on_marks_change(self.session, "node", lambda: self._changed("presence"))
        self._runs: set[asyncio.Task[Any]] = set()
        self.refresh()

    # -- projection -----------------------------------------------------------------------
    def _pipeline(self) -> Pipeline | None:
        ids = self.project.pipelines.ids()
        if self.session.pipeline not in ids:
            pipelines = self.project.pipelines.all()
            self.session.pipeline = pipelines[0].id if pipelines else None
        return self.project.pipelines.get(self.session.pipeline) if self.session.pipeline else None

    def refresh(self) -> None:
        pipelines = self.project.pipelines.all()
        self.pipeline_select.options = {p.name: p.id for p in pipelines}
        pipeline = self._pipeline()
        self.pipeline_select.value = pipeline.id if pipeline else None
        ops = self.project.operations.all()
        choices = [o.name for o in ops] + sorted(set(builtin_operations()) - {o.name for o in ops}) + [BLANK]
        self.add_select.options = choices
        if self.add_select.value not in choices:
            self.add_select.value = choices[0]
        self.empty.visible = pipeline is None
        self.empty.object = "### No pipelines yet\nCreate one above, then add operations to it."
        if pipeline is None:
            self.flow.param.update(nodes=[], edges=[], node_types={})
            self._show_node(None, None)
            return
        node_types: dict[str, Any] = {}
        nodes = []
        peers = marks(self.session, "node")
        states = freshness(self.project, pipeline)
        for node in pipeline.nodes.values():
            op = self.project.operations.get(node.operation)
            iface = op.interface
            node_types[op.id] = NodeType(
                type=op.id,
                label=op.name,
                inputs=[{"id": p.name, "label": p.name, "type": p.type} for p in iface.inputs] if iface else [],
                outputs=[{"id": p.name, "label": p.name, "type": p.type} for p in iface.outputs] if iface else [],
            )
            nodes.append(
                {
                    "id": node.id,
                    "type": op.id,
                    "label": node.name,
                    "position": {"x": node.x, "y": node.y},
                    "data": {},
                    "selected": node.id == self.session.node,
                    "style": mark_style(peers.get(node.id, [])),
                    "view": self._node_view(
                        node.id,
                        mark_html(peers.get(node.id, []))
                        + _port_view(iface, op.name, op.error is not None, states.get(node.id, "new")),
                    ),
                }
            )
        self._views = {nid: view for nid, view in self._views.items() if nid in pipeline.nodes}
        edges = [
            {"id": e.id, "source": e.src, "target": e.dst, "sourceHandle": e.src_port, "targetHandle": e.dst_port}
            for e in pipeline.edges.values()
        ]
        self.flow.param.update(node_types=node_types, nodes=nodes, edges=edges)
        if pipeline.id != self._drawn:  # another pipeline (picked, created, recreated): show all of it
            self._drawn = pipeline.id
            self.flow.fit_view()
        selected = pipeline.nodes.get(self.session.node) if self.session.node else None
        self._show_node(pipeline, selected)

    def _node_view(self, node_id: str, body: str) -> pn.pane.HTML:
        """The node's body pane, reused while its content is unchanged (a new pane is a new browser model)."""
        cached = self._views.get(node_id)
        if cached is None or cached[0] != body:
            cached = (body, pn.pane.HTML(body, margin=0, stylesheets=[_NODE_CSS]))
            self._views[node_id] = cached
        return cached[1]

    def _show_node(self, pipeline: Pipeline | None, node: Node | None) -> None:
        visible = pipeline is not None and node is not None
        self.node_name.visible = self.delete_button.visible = self.limits.visible = visible
        if pipeline is None or node is None:
            self.node_title.object = "*Select a node to see its attributes and its operation's code.*"
            self.attributes.objects = []
            self.references.objects = []
            self._attribute_signature = ()
            self._reference_signature = ()
            self.code.operation = None
            return
        op = self.project.operations.get(node.operation)
        self.node_title.object = f"### {md_text(node.name)}\n{op.interface.doc if op.interface else ''}"
        if self.node_name.value != node.name:
            self.node_name.value = node.name
        self.code.operation = op.id
        iface = op.interface
        values = self.project.pipelines.effective_attributes(node) if iface else {}
        picks = self._artifact_names() if is_input(iface) else None  # an Input picks one of the artifacts
        signature = (pipeline.id, node.id, iface.attributes if iface else (), picks)
        if signature != self._attribute_signature:
            widgets = []
            for attribute in iface.attributes if iface else ():
                widget = attribute_widget(attribute, values[attribute.name], None if picks is None else list(picks))
                widget.param.watch(lambda e, a=attribute: self._set_attribute(a, e.new), "value")
                widgets.append(widget)
            self.attributes.objects = widgets or [pn.pane.Markdown("*No attributes.*")]
            self._attribute_signature = signature
        else:
            for widget, attribute in zip(self.attributes.objects, iface.attributes if iface else (), strict=False):
                current = values[attribute.name]
                shown = json.dumps(current) if attribute.type == "json" else current
                if widget.value != shown:
                    widget.value = shown
        self._show_references(pipeline, node, iface)
        self._show_limits(node)

    def _show_limits(self, node: Node) -> None:
        """The node's own limits, the project's shown as the placeholder of those it does not set."""
        default = self.project.job_limits
        own = (node.limits.get("time_s"), node.limits.get("memory_mb"))
        self._showing_limits = True
        try:
            for widget, value, fallback in zip(
                (self.time_limit, self.memory_limit), own, (default.time_s, default.memory_mb), strict=True
            ):
                placeholder = f"project's: {fallback:g}" if fallback is not None else "no limit"
                if widget.value != value or widget.placeholder != placeholder:
                    widget.param.update(value=value, placeholder=placeholder)
        finally:
            self._showing_limits = False

    def _set_limits(self, _event: param.parameterized.Event) -> None:
        from deepforge_panel.adapters.compute import Limits

        if self._showing_limits or not self.session.pipeline or not self.session.node:
            return
        try:
            limits = Limits(self.time_limit.value or None, self.memory_limit.value or None)
        except ValueError as exc:
            self.session.message = str(exc)
            return
        self._guard(self.project.pipelines.set_limits, self.session.pipeline, self.session.node, limits)

    def _artifact_names(self) -> tuple[str, ...]:
        """The project's artifact names, newest first, each once: what an Input node may feed."""
        return tuple(self.project.artifacts.names())

    def _show_references(self, pipeline: Pipeline, node: Any, iface: Interface | None) -> None:
        """One selector per reference, listing every library's resources (e.g. Keras architectures)."""
        names = [r.name for r in iface.references] if iface else []
        options: dict[str, str | None] = {"— not set —": None}
        for lib in loaded_libraries():
            for resource in lib.resources(self.project).all():
                options[f"{resource.name} ({lib.name})"] = make_reference(lib.name, resource.id)
        signature = (pipeline.id, node.id, tuple(names), tuple(options.items()))
        if signature != self._reference_signature:
            widgets = []
            for name in names:
                widget = pn.widgets.Select(
                    label=f"{name} (reference)", options=options, value=node.references.get(name)
                )
                widget.param.watch(lambda e, n=name: self._set_reference(n, e.new), "value")
                widgets.append(widget)
            self.references.objects = widgets
            self._reference_signature = signature
        else:
            for widget, name in zip(self.references.objects, names, strict=True):
                if widget.value != node.references.get(name):
                    widget.value = node.references.get(name)

    def _set_reference(self, name: str, value: str | None) -> None:
        pipeline = self._pipeline()
        if pipeline is None or not value or self.session.node not in pipeline.nodes:
            return
        if pipeline.nodes[self.session.node].references.get(name) != value:
            self._guard(self.project.pipelines.set_reference, pipeline.id, self.session.node, name, value)

    # -- gestures -> project views ----------------------------------------------------------
    def _guard(self, action: Any, *args: Any) -> Any:
        try:
            result = action(*args)
        except USER_ERRORS as exc:
            self.session.message = str(exc)
            self.refresh()
            return None
        self.session.message = ""
        return result

    def _show_message(self, event: param.parameterized.Event) -> None:
        self.message.object = md_text(event.new)
        self.message.visible = bool(event.new)

    def _show_fault(self, event: param.parameterized.Event) -> None:
        place = event.new
        self.show_fault.param.update(label=f"Show {place.label}" if place else "", visible=place is not None)

    def _connection_problem(self, payload: dict[str, Any]) -> str | None:
        """Why the edge being drawn would be refused (the core's own check), or None if it is fine."""
        pipeline = self._pipeline()
        if pipeline is None:
            return "no pipeline"
        try:
            self.project.pipelines.check_edge(
                pipeline,
                str(payload.get("source") or ""),
                str(payload.get("sourceHandle") or ""),
                str(payload.get("target") or ""),
                str(payload.get("targetHandle") or ""),
            )
        except PipelineError as exc:
            return str(exc)
        return None

    def _edge_added(self, event: dict[str, Any]) -> None:
        edge = event.get("edge") or {}
        pipeline = self._pipeline()
        if pipeline is None:
            return
        if edge.get("id") in pipeline.edges:
            return
        self._guard(
            self.project.pipelines.add_edge,
            pipeline.id,
            edge.get("source"),
            edge.get("sourceHandle") or "",
            edge.get("target"),
            edge.get("targetHandle") or "",
        )
        self.refresh()

    def _edge_deleted(self, event: dict[str, Any]) -> None:
        pipeline = self._pipeline()
        ids = deleted_ids(event, "edge")
        for edge_id in ids:
            if pipeline is not None and edge_id in self.project.pipelines.get(pipeline.id).edges:
                self._guard(self.project.pipelines.remove_edge, pipeline.id, edge_id)
        self.refresh()

    def _node_deleted(self, event: dict[str, Any]) -> None:
        pipeline = self._pipeline()
        ids = deleted_ids(event, "node")
        for node_id in ids:
            if pipeline is not None and node_id in self.project.pipelines.get(pipeline.id).nodes:
                self._guard(self.project.pipelines.remove_node, pipeline.id, node_id)
        if self.session.node in ids:
            self.session.node = None
        self.refresh()

    def _node_moved(self, event: dict[str, Any]) -> None:
        pipeline = self._pipeline()
        position = event.get("position") or {}
        if pipeline is not None and event.get("node_id") in pipeline.nodes:
            self._guard(
                self.project.pipelines.move_node,
                pipeline.id,
                event["node_id"],
                position.get("x", 0),
                position.get("y", 0),
            )

    def _show_selected(self, node_id: str) -> None:
        self.session.node = node_id

    def _pick_pipeline(self, event: param.parameterized.Event) -> None:
        if event.new and event.new != self.session.pipeline:
            self.session.param.update(pipeline=event.new, node=None)

    def _create_pipeline(self, _event: Any = None) -> None:
        name = self.new_pipeline_name.value.strip()
        if not name:
            self.session.message = "give the new pipeline a name"
            return
        pipeline_id = self._guard(self.project.pipelines.create, name)
        if pipeline_id:
            self.new_pipeline_name.value = ""
            self.session.param.update(pipeline=pipeline_id, node=None)

    def add_operation(self, choice: str) -> str | None:
        """Add a node for ``choice`` (a project operation, a built-in one, or a blank one); returns its id."""
        pipeline = self._pipeline()
        if pipeline is None:
            self.session.message = "create a pipeline first"
            return None
        ops = {o.name: o.id for o in self.project.operations.all()}
        if choice == BLANK:
            op_id = self.project.operations.add(name=_free(ops, "NewOperation"))
        elif choice in ops:
            op_id = ops[choice]
        else:
            op_id = add_builtin(self.project, choice)
        boxes = [(n.x, n.y, *self._node_size(n.operation)) for n in pipeline.nodes.values()]
        x, y = free_spot(boxes, self._node_size(op_id))
        node_id = self._guard(lambda: self.project.pipelines.add_node(pipeline.id, op_id, x=x, y=y))
        if node_id:
            self.selection.select(node_id)
            self.session.node = node_id
            self.flow.fit_view([node_id])  # the free spot may be outside the view: bring the new node (and the rest) in
        return node_id

    def _node_size(self, op_id: str) -> tuple[float, float]:
        """Roughly how much room a node of ``op_id`` takes on the canvas (title, operation, one row per port)."""
        iface = self.project.operations.get(op_id).interface
        rows = max(len(iface.inputs), len(iface.outputs)) if iface else 0
        return NODE_WIDTH, 70.0 + 22.0 * rows

    def _add_node(self, _event: Any = None) -> None:
        if self.add_select.value:
            self.add_operation(self.add_select.value)

    def _rename_node(self, event: param.parameterized.Event) -> None:
        pipeline = self._pipeline()
        if pipeline is None or not self.session.node or self.session.node not in pipeline.nodes:
            return
        if event.new and event.new != pipeline.nodes[self.session.node].name:
            self._guard(self.project.pipelines.rename_node, pipeline.id, self.session.node, event.new)

    def _set_attribute(self, attribute: Attribute, value: Any) -> None:
        pipeline = self._pipeline()
        if pipeline is None or not self.session.node or self.session.node not in pipeline.nodes:
            return
        node = pipeline.nodes[self.session.node]
        if attribute.type == "json" and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                self.session.message = f"{node.name}.{attribute.name}: not valid JSON ({exc})"
                return
        if self.project.pipelines.effective_attributes(node).get(attribute.name) != value:
            self._guard(self.project.pipelines.set_attributes, pipeline.id, node.id, {attribute.name: value})

    def _delete_selected(self, _event: Any = None) -> None:
        pipeline = self._pipeline()
        if pipeline is not None and self.session.node in pipeline.nodes:
            self._guard(self.project.pipelines.remove_node, pipeline.id, self.session.node)
            self.session.node = None

    def dispose(self) -> None:
        super().dispose()
        if self._unsubscribe_presence is not None:
            self._unsubscribe_presence()
            self._unsubscribe_presence = None

    def run(self, cache: bool = True) -> None:
        """Run the pipeline shown (Ctrl+Enter), once the resources it references pass their deeper checks; with
        ``cache``, only its stale and new jobs run; on the adapter *Run on* names, else the project's."""
        compute = self.run_on.value or None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (tests): the checks that need none
            self.session.run(cache=cache, compute=compute)
            return
        task = loop.create_task(self.session.run_checked(cache=cache, compute=compute))
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def __panel__(self) -> pn.viewable.Viewable:
        toolbar = pn.Row(
            self.pipeline_select,
            self.add_select,
            self.add_button,
            self.run_button,
            self.run_all_button,
            self.run_on,
            pn.layout.HSpacer(),
            self.new_pipeline_name,
            self.new_pipeline_button,
            sizing_mode="stretch_width",
        )
        side = pn.Column(
            self.export,
            self.node_title,
            self.node_name,
            self.attributes,
            self.references,
            self.limits,
            self.delete_button,
            pn.layout.Divider(),
            self.code,
            width=460,
            scroll=True,
        )
        return pn.Column(
            toolbar,
            self.message,
            self.show_fault,
            self.empty,
            pn.Row(self.flow, side, sizing_mode="stretch_both", min_height=520),
            sizing_mode="stretch_both",
        )


def free_spot(boxes: list[tuple[float, float, float, float]], size: tuple[float, float]) -> tuple[float, float]:
    """Where a node of ``size`` overlaps none of ``boxes`` (x, y, width, height): the first free cell,
    row by row, of a grid laid over the graph and one row and column past it; (40, 40) on an empty canvas."""
    if not boxes:
        return 40.0, 40.0
    width, height = size
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)

    def free(x: float, y: float) -> bool:
        return all(
            x + width + GAP <= bx or bx + bw + GAP <= x or y + height + GAP <= by or by + bh + GAP <= y
            for bx, by, bw, bh in boxes
        )

    y = top
    while y <= bottom + GAP:
        x = left
        while x <= right + GAP:
            if free(x, y):
                return x, y
            x += width / 2
        y += height / 2
    return left, bottom + GAP


def _free(taken: dict[str, Any], base: str) -> str:
    name, i = base, 2
    while name in taken:
        name, i = f"{base}{i}", i + 1
    return name
