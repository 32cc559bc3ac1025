"""The Keras architecture as a graph: layers as nodes showing their output shapes, a searchable catalog, typed arguments.

Like the pipeline editor it is a projection of the document: gestures become
``ArchitecturesView`` calls and the graph is redrawn from the document. Output shapes come
from the shape worker (``deepforge_panel.libraries.keras.shapes``) asynchronously, so an edit never waits on
TensorFlow; the server itself never imports it.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import panel as pn
import param
from panel_reactflow import NodeType

from deepforge_panel.components.base import ProjectComponent
from deepforge_panel.components.flow import FollowedSelection, ReactFlow, deleted_ids
from deepforge_panel.components.layer_arguments import arg_row, arg_widget, display_value, parse_value
from deepforge_panel.components.markup import md_text
from deepforge_panel.components.presence import mark_html, mark_style, marks, on_marks_change
from deepforge_panel.components.session import Session
from deepforge_panel.errors import USER_ERRORS
from deepforge_panel.libraries.keras.architectures import (
    Architecture,
    ArchitecturesView,
    Layer,
    function_choices,
)
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.import_worker import import_in_worker
from deepforge_panel.libraries.keras.shapes import (
    Result,
    ShapeChecker,
    ShapeCheckError,
    format_shape,
    shared_checker,
    to_payload,
)
from deepforge_panel.presence import Member

MODEL_FILES = (".keras", ".h5", ".hdf5", ".json")
"""What the editor imports: a saved model, a legacy HDF5 model, or ``model.to_json()``."""
TAB = "Architectures"
"""The workbench tab this editor lives in."""
NEW_FUNCTION = "New function…"
SHAPES_FAILED = "Shapes could not be checked"
FUNCTION_TEMPLATE = "def {name}(x):\n    return keras.ops.relu(x) - 0.1 * keras.ops.relu(-x)\n"

_NODE_CSS = """
.df-layer { font-size: 11px; min-width: 140px; max-width: 260px; white-space: normal; }
.df-type { color: var(--df-muted, #555); }
.df-shape { font-family: monospace; margin-top: 3px; }
.df-error { color: var(--df-error, #c62828); margin-top: 3px; overflow-wrap: anywhere; }
.df-blocked { color: var(--df-blocked, #8d6e63); margin-top: 3px; font-style: italic; }
.df-pending { color: var(--df-faint, #999); margin-top: 3px; }
.df-readonly { color: var(--df-muted, #555); font-style: italic; margin-top: 2px; }
"""
READ_ONLY_STYLE = {"borderStyle": "dashed"}
"""A node the editor cannot change (a nested model, a kept config, a shared layer's later call) has a dashed border."""

NODE_TYPES = {
    "layer": NodeType(
        type="layer", label="Layer", inputs=[{"id": "in", "label": "input"}], outputs=[{"id": "out", "label": "output"}]
    ),
    "input": NodeType(type="input", label="Input", inputs=[], outputs=[{"id": "out", "label": "output"}]),
}


def read_only_note(arch: Architecture, layer: Layer) -> str | None:
    """Why the editor cannot change the layer's arguments, in a few words; None where it can."""
    if layer.shares is not None:
        return f"shared: calls {arch.owner(layer).name} again"
    if layer.config is None:
        return None
    if layer.type in ("Functional", "Sequential", "Model"):
        return "read-only: a nested model"
    return "read-only: kept as Keras saved it"


def layer_body(layer: Layer, result: Result | None, note: str | None = None) -> str:
    """The node body: the layer's type (and why it is read-only), then its output shape or, in red, what is wrong."""
    parts = [f"<div class='df-layer'><div class='df-type'>{html.escape(layer.type)}</div>"]
    if note:
        parts.append(f"<div class='df-readonly'>{html.escape(note)}</div>")
    if result is None:
        parts.append("<div class='df-pending'>shape …</div>")
    elif "shape" in result:
        parts.append(f"<div class='df-shape'>{html.escape(format_shape(result['shape']))}</div>")
    elif result.get("blocked_by"):
        parts.append(f"<div class='df-blocked'>{html.escape(result['error'])}</div>")
    else:
        parts.append(f"<div class='df-error'>⚠ {html.escape(result['error'])}</div>")
    return "".join(parts) + "</div>"


def search_catalog(text: str) -> dict[str, str]:
    """Layer types whose name (first) or documentation matches ``text``, as {"Type — doc": type}."""
    layers = load_catalog()["layers"]
    needle = text.strip().lower()
    named = sorted((t for t in layers if needle in t.lower()), key=lambda t: (not t.lower().startswith(needle), t))
    documented = sorted(
        t for t in layers if t not in named and needle and needle in (layers[t].get("doc") or "").lower()
    )
    return {_option_label(t, layers[t].get("doc") or ""): t for t in named + documented}


def _option_label(layer_type: str, doc: str) -> str:
    first = doc.strip().splitlines()[0] if doc.strip() else ""
    return f"{layer_type} — {first[:70]}" if first else layer_type


class ArchitectureEditor(ProjectComponent):
    """Edit Keras architectures: pick layers from the catalog, connect them, set arguments, see shapes."""

    session = param.ClassSelector(class_=Session, doc="This browser tab's session (author, tabs).")
    architecture = param.String(default=None, allow_None=True, doc="Id of the architecture shown.")
    layer = param.String(default=None, allow_None=True, doc="Id of the selected layer.")
    checker = param.ClassSelector(
        class_=ShapeChecker, default=None, allow_None=True, doc="Shape checker (default: the server's shared one)."
    )
    roots = ("architectures",)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.view = ArchitecturesView(self.project)
        if self.checker is None:
            self.checker = shared_checker()
        self._views: dict[str, pn.pane.HTML] = {}
        self._peers: dict[str, list[Member]] = {}
        """Layers other people have selected, by id (presence), marked in their colors."""
        self._unsubscribe_presence: Callable[[], None] | None = None
        self._drawn: str | None = None
        """The architecture the graph shows, to fit the view when it changes."""
        self._fit_after_shapes = False
        """Whether the next shapes shown follow an added layer, whose node they widen."""
        self._shapes: dict[str, Result] = {}
        self._shapes_for: str | None = None
        self._generation = 0
        self._checked: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._arg_signature: tuple[Any, ...] = ()
        self._arg_specs: list[dict[str, Any]] = []
        self.arg_widgets: dict[str, pn.widgets.Widget] = {}
        """The selected layer's argument widgets by argument name."""
        self._loaded_code = ""

        self.flow = ReactFlow(
            nodes=[],
            edges=[],
            node_types=NODE_TYPES,
            sizing_mode="stretch_both",
            min_height=480,
            show_minimap=False,
        )
        for event, handler in (
            ("edge_added", self._edge_added),
            ("edge_deleted", self._edge_deleted),
            ("node_deleted", self._node_deleted),
            ("node_moved", self._node_moved),
        ):
            self.flow.on(event, handler)
        self.selection = FollowedSelection(
            self.flow, lambda: self.layer, lambda layer_id: setattr(self, "layer", layer_id)
        )
        """Which layer the side panel shows, following the browser's selection."""

        self.architecture_select = pn.widgets.Select(label="Architecture", options={}, width=220)
        self.architecture_select.param.watch(self._pick_architecture, "value")
        self.new_name = pn.widgets.TextInput(label="New architecture", placeholder="new architecture name", width=200)
        self.create_button = pn.widgets.Button(label="Create", color="default", width=80, align="end")
        self.create_button.on_click(self._create)
        self.new_name.param.watch(self._create, "enter_pressed")
        self.upload = pn.widgets.FileInput(accept=",".join(MODEL_FILES), multiple=False, width=220)
        self.import_button = pn.widgets.Button(label="Import model", color="default", width=110, align="end")
        self.import_button.on_click(self._import_clicked)
        self.notes = pn.pane.Alert("", alert_type="warning", visible=False, sizing_mode="stretch_width")
        """What the last import keeps only approximately or read-only."""
        self.message = pn.pane.Alert("", alert_type="danger", visible=False, sizing_mode="stretch_width")
        self.empty = pn.pane.Markdown("", visible=False)

        self.search = pn.widgets.TextInput(label="Layer catalog", placeholder="search layers, e.g. conv")
        self.search.param.watch(self._filter, "value_input")
        self.catalog = pn.widgets.Select(options=search_catalog(""), size=14, sizing_mode="stretch_width")
        self.catalog.param.watch(lambda _e: self._show_type_doc(), "value")
        self.type_doc = pn.pane.Markdown("", styles={"font-size": "12px"}, sizing_mode="stretch_width")
        self.add_button = pn.widgets.Button(label="Add layer", color="primary")
        self.add_button.on_click(lambda _e: self.add_layer(self.catalog.value) if self.catalog.value else None)

        self.layer_title = pn.pane.Markdown("", renderer_options={"html": False})
        self.layer_name = pn.widgets.TextInput(label="Layer name", visible=False)
        self.layer_name.param.watch(self._rename, "value")
        self.args = pn.Column(sizing_mode="stretch_width")
        self.delete_button = pn.widgets.Button(label="Delete layer", color="danger", visible=False)
        self.delete_button.on_click(lambda _e: self._remove(self.layer))

        self.function_select = pn.widgets.Select(label="Custom activation", options=[NEW_FUNCTION], width=200)
        self.function_select.param.watch(lambda _e: self._load_function(), "value")
        self.function_name = pn.widgets.TextInput(label="Function name", value="leaky", width=200)
        self.function_code = pn.widgets.CodeEditor(
            value=FUNCTION_TEMPLATE.format(name="leaky"),
            language="python",
            height=150,
            sizing_mode="stretch_width",
        )
        self.save_function = pn.widgets.Button(label="Save function", color="default")
        self.save_function.on_click(lambda _e: self._save_function())
        self._loaded_code = self.function_code.value

        self._layout: pn.Column | None = None
        self.param.watch(lambda _e: self.refresh(), ["architecture", "layer"])
        if self.session is not None:
            self.session.param.watch(self._shown, "tab")
            self.session.param.watch(self._focus, "focus")
            session = self.session
            self.param.watch(
                lambda event: setattr(session, "selection", ("layer", event.new) if event.new else None), "layer"
            )
            self._unsubscribe_presence = on_marks_change(session, "layer", lambda: self._changed("presence"))
        self._show_type_doc()
        self.refresh()

    # -- projection -----------------------------------------------------------------------
    def _arch(self) -> Architecture | None:
        ids = self.view.ids()
        if self.architecture not in ids:
            first = self.view.all()[0].id if ids else None
            if first != self.architecture:
                with param.parameterized.discard_events(self):
                    self.architecture = first
        return self.view.get(self.architecture) if self.architecture else None

    def refresh(self) -> None:
        arch = self._arch()
        self.architecture_select.options = {a.name: a.id for a in self.view.all()}
        self.architecture_select.value = arch.id if arch else None
        self.empty.visible = arch is None
        self.empty.object = (
            "### No architectures yet\nName one above and press *Create*, then add layers from the catalog."
        )
        if arch is None:
            self.flow.param.update(nodes=[], edges=[])
            self._views.clear()
            self._show_layer(None, None)
            return
        if self._shapes_for != arch.id:
            self._shapes, self._shapes_for = {}, arch.id
        self._peers = marks(self.session, "layer") if self.session is not None else {}
        nodes = [
            {
                "id": layer.id,
                "type": "input" if layer.type == "InputLayer" else "layer",
                "label": layer.name,
                "position": {"x": layer.x, "y": layer.y},
                "data": {},
                "selected": layer.id == self.layer,
                "style": {**(READ_ONLY_STYLE if layer.read_only else {}), **mark_style(self._peers.get(layer.id, []))},
                "view": self._node_view(layer, arch),
            }
            for layer in arch.layers.values()
        ]
        self._views = {lid: view for lid, view in self._views.items() if lid in arch.layers}
        edges = []
        for connection in arch.connections.values():
            many = arch.arity(arch.layers[connection.dst]) == "many" and len(arch.inputs_of(connection.dst)) > 1
            position = [c.id for c in arch.inputs_of(connection.dst)].index(connection.id) + 1
            label = [str(position)] if many else []
            if connection.output is not None:
                label.insert(0, f"out {connection.output}")
            edges.append(
                {
                    "id": connection.id,
                    "source": connection.src,
                    "target": connection.dst,
                    "sourceHandle": "out",
                    "targetHandle": "in",
                    "label": " → ".join(label) or None,
                }
            )
        self.flow.param.update(nodes=nodes, edges=edges)
        if arch.id != self._drawn:  # another architecture (picked, created): show all of it
            self._drawn = arch.id
            self.flow.fit_view()
        if self.layer is not None and self.layer not in arch.layers:
            with param.parameterized.discard_events(self):
                self.layer = None
        self._show_layer(arch, arch.layers.get(self.layer) if self.layer else None)
        self._refresh_functions(arch)
        self._schedule_check(arch)

    def _node_view(self, layer: Layer, arch: Architecture) -> pn.pane.HTML:
        """The layer's body pane: one per layer, its text updated in place (a new pane is a new browser model)."""
        note = read_only_note(arch, layer)
        body = mark_html(self._peers.get(layer.id, [])) + layer_body(layer, self._shapes.get(layer.id), note)
        view = self._views.get(layer.id)
        if view is None:
            view = self._views[layer.id] = pn.pane.HTML(body, margin=0, stylesheets=[_NODE_CSS])
        elif view.object != body:
            view.object = body
        return view

    def _show_layer(self, arch: Architecture | None, layer: Layer | None) -> None:
        visible = layer is not None
        self.layer_name.visible = self.delete_button.visible = visible
        if arch is None or layer is None:
            self.layer_title.object = "*Select a layer to set its arguments.*"
            self.args.objects, self._arg_signature, self._arg_specs, self.arg_widgets = [], (), [], {}
            return
        spec = load_catalog()["layers"].get(layer.type, {"doc": "", "args": []})
        doc = (spec.get("doc") or "").strip()[:600]
        self.layer_title.object = f"### {md_text(layer.name)} ({md_text(layer.type)})\n{doc}"
        if self.layer_name.value != layer.name:
            self.layer_name.value = layer.name
        if layer.read_only:
            self._show_read_only(arch, layer)
            return
        signature = (arch.id, layer.id, layer.type, json.dumps(sorted(arch.functions)))
        if signature != self._arg_signature:
            self._arg_specs = list(spec["args"])
            self.arg_widgets = {}
            for arg in self._arg_specs:
                names = function_choices().get(arg["type"].partition(":")[2], []) + sorted(arch.functions)
                widget = arg_widget(arg, layer.args, names)
                widget.param.watch(lambda e, a=arg: self._set_arg(a, e.new), "value")
                self.arg_widgets[arg["name"]] = widget
            rows = [arg_row(self.arg_widgets[a["name"]], a) for a in self._arg_specs]
            self.args.objects = rows or [pn.pane.Markdown("*This layer takes no arguments.*")]
            self._arg_signature = signature
        else:
            for arg in self._arg_specs:
                widget = self.arg_widgets[arg["name"]]
                shown = display_value(arg, layer.args)
                if widget.value != shown:
                    widget.value = shown

    def _show_read_only(self, arch: Architecture, layer: Layer) -> None:
        """What the editor cannot change: a shared layer's later call points at its first; a kept config is shown as is."""
        signature = (arch.id, layer.id, "read-only", json.dumps(layer.config, sort_keys=True), layer.shares)
        if signature == self._arg_signature:
            return
        self._arg_specs, self.arg_widgets, self._arg_signature = [], {}, signature
        if layer.shares is not None:
            owner = arch.owner(layer).name
            text = f"*A shared layer: this node calls **{md_text(owner)}** again, with the same weights. Its arguments are set on {md_text(owner)}.*"
            self.args.objects = [pn.pane.Markdown(text)]
            return
        what = "a nested model" if layer.type in ("Functional", "Sequential", "Model") else f"a {layer.type} layer"
        text = (
            f"*Read-only: {md_text(what)} the catalog cannot edit, kept as Keras saved it and rebuilt from this "
            "config. Change it in Keras and import the model again.*"
        )
        self.args.objects = [
            pn.pane.Markdown(text),
            pn.pane.JSON(layer.config or {}, depth=2, sizing_mode="stretch_width", max_height=400),
        ]

    def _refresh_functions(self, arch: Architecture) -> None:
        self.function_select.options = [NEW_FUNCTION, *sorted(arch.functions)]
        name = self.function_select.value
        if name in arch.functions and self.function_code.value == self._loaded_code != arch.functions[name]:
            self.function_code.value = self._loaded_code = arch.functions[name]

    def _show_type_doc(self) -> None:
        spec = load_catalog()["layers"].get(self.catalog.value or "", None)
        self.type_doc.object = (spec.get("doc") or "").strip()[:400] if spec else ""

    def _filter(self, event: param.parameterized.Event) -> None:
        options = search_catalog(event.new or "")
        self.catalog.options = options
        if self.catalog.value not in options.values():
            self.catalog.value = next(iter(options.values()), None)

    # -- shapes ---------------------------------------------------------------------------
    async def check_shapes(self) -> dict[str, Result] | None:
        """Ask the shape checker about the architecture shown and put the answer on the nodes (stale answers are dropped)."""
        arch = self._arch()
        if arch is None:
            return None
        self._generation += 1
        generation = self._generation
        try:
            results = await self.checker.check(to_payload(arch), key=f"{self.project.name}/{arch.id}")
        except ShapeCheckError as exc:
            if generation == self._generation:
                self._checked = None
                self._show_message(f"{SHAPES_FAILED}: {exc}")
            return None
        if generation != self._generation or self.architecture != arch.id:
            return None
        if self.message.object.startswith(SHAPES_FAILED):
            self._show_message("")
        self._shapes, self._shapes_for = results, arch.id
        current = self.view.get(arch.id)
        for layer in current.layers.values():
            self._node_view(layer, current)
        if self._fit_after_shapes:  # the added layer's shape widened it: fit it in again
            self._fit_after_shapes = False
            self.flow.fit_view()
        return results

    def _schedule_check(self, arch: Architecture) -> None:
        """Start a check in the background when what decides the shapes changed (a move changes none)."""
        signature = json.dumps(to_payload(arch), sort_keys=True, default=repr)
        if signature == self._checked:
            return
        if not self.in_front:
            return  # checked when the tab comes to the front
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no event loop (tests): await check_shapes() explicitly
        self._checked = signature
        task = loop.create_task(self._check_in_background())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _check_in_background(self) -> None:
        try:
            await self.check_shapes()
        except Exception as exc:
            logging.getLogger(__name__).exception("shape check failed")
            self._show_message(f"{SHAPES_FAILED}: {exc}")

    # -- gestures -> project view ---------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.message.object = md_text(text)
        self.message.visible = bool(text)

    def _guard(self, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a view call; a refusal is shown and the projection redrawn (a refused edge disappears)."""
        try:
            result = action(*args, **kwargs)
        except USER_ERRORS as exc:
            self._show_message(str(exc))
            self.refresh()
            return None
        self._show_message("")
        return result

    def _create(self, _event: Any = None) -> None:
        name = self.new_name.value.strip()
        if not name:
            self._show_message("give the new architecture a name")
            return
        architecture_id = self._guard(self.view.create, name)
        if architecture_id:
            self.new_name.value = ""
            self.param.update(architecture=architecture_id, layer=None)

    async def _import_clicked(self, _event: Any) -> None:
        await self.import_upload()

    async def import_upload(self) -> str | None:
        """Import the uploaded model as a new architecture (named by the "New architecture" field, else by the model).

        Planned in a worker process (Keras stays out of the server), then written in one transaction;
        what is kept only approximately or read-only is listed above the graph.
        """
        data, filename = self.upload.value, self.upload.filename or ""
        if not data:
            self._show_message("choose a .keras, .h5 or model JSON file to import first")
            return None
        safe = re.sub(r"[^\w.-]", "_", Path(filename).name).lstrip(".") or "model"
        if Path(safe).suffix.lower() not in MODEL_FILES:
            safe += ".json"
        self.import_button.loading = True
        self.notes.visible = False
        try:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / safe  # errors name the file as the user knows it
                path.write_bytes(data)
                arch_id, notes = await import_in_worker(self.project, path, self.new_name.value.strip() or None)
        except USER_ERRORS as exc:
            self._show_message(str(exc))
            return None
        finally:
            self.import_button.loading = False
        self._show_message("")
        self.notes.object = md_text(f"Imported {filename}; " + "; ".join(notes)) if notes else ""
        self.notes.visible = bool(notes)
        self.new_name.value = ""
        self.param.update(architecture=arch_id, layer=None)
        return arch_id

    def _pick_architecture(self, event: param.parameterized.Event) -> None:
        if event.new and event.new != self.architecture:
            self.param.update(architecture=event.new, layer=None)

    def add_layer(self, layer_type: str, args: dict[str, Any] | None = None) -> str | None:
        """Add a ``layer_type`` layer right of the selected one (or on a grid) and select it; returns its id."""
        arch = self._arch()
        if arch is None:
            self._show_message("create an architecture first")
            return None
        anchor = arch.layers.get(self.layer) if self.layer else None
        count = len(arch.layers)
        x, y = (anchor.x + 240, anchor.y) if anchor else (40 + 240 * (count % 3), 40 + 110 * (count // 3))
        while any(abs(layer.x - x) < 200 and abs(layer.y - y) < 100 for layer in arch.layers.values()):
            y += 110
        layer_id = self._guard(self.view.add_layer, arch.id, layer_type, args or {}, x=x, y=y)
        if layer_id:
            self.selection.select(layer_id)
            self.layer = layer_id
            self.flow.fit_view([layer_id])  # the new layer may land right of the view: bring it (and the rest) in
            self._fit_after_shapes = True
        return layer_id

    def _edge_added(self, event: dict[str, Any]) -> None:
        edge = event.get("edge") or {}
        arch = self._arch()
        if arch is not None and edge.get("id") not in arch.connections:
            self._guard(self.view.connect, arch.id, edge.get("source") or "", edge.get("target") or "")
        self.refresh()

    def _edge_deleted(self, event: dict[str, Any]) -> None:
        arch = self._arch()
        for connection_id in deleted_ids(event, "edge"):
            if arch is not None and connection_id in self.view.get(arch.id).connections:
                self._guard(self.view.disconnect, arch.id, connection_id)
        self.refresh()

    def _node_deleted(self, event: dict[str, Any]) -> None:
        for layer_id in deleted_ids(event, "node"):
            self._remove(layer_id)
        self.refresh()

    def _remove(self, layer_id: str | None) -> None:
        arch = self._arch()
        if arch is not None and layer_id in self.view.get(arch.id).layers:
            self._guard(self.view.remove_layer, arch.id, layer_id)
        if self.layer == layer_id:
            self.layer = None

    def _node_moved(self, event: dict[str, Any]) -> None:
        arch = self._arch()
        position = event.get("position") or {}
        if arch is not None and event.get("node_id") in arch.layers:
            self._guard(self.view.move_layer, arch.id, event["node_id"], position.get("x", 0), position.get("y", 0))

    def _rename(self, event: param.parameterized.Event) -> None:
        arch = self._arch()
        if arch is None or self.layer not in arch.layers:
            return
        if event.new and event.new != arch.layers[self.layer].name:
            self._guard(self.view.rename_layer, arch.id, self.layer, event.new)

    def _set_arg(self, spec: dict[str, Any], shown: Any) -> None:
        arch = self._arch()
        if arch is None or self.layer not in arch.layers:
            return
        layer = arch.layers[self.layer]
        if spec["name"] not in {a["name"] for a in load_catalog()["layers"].get(layer.type, {}).get("args", [])}:
            return
        try:
            value = parse_value(spec, shown)
        except ValueError as exc:
            self._show_message(f"{layer.name}.{exc}")
            return
        if value == layer.args.get(spec["name"], spec.get("default")):
            return
        self._guard(self.view.set_args, arch.id, layer.id, {spec["name"]: value})

    def _load_function(self) -> None:
        arch = self._arch()
        name = self.function_select.value
        if arch is not None and name in arch.functions:
            self.function_name.value = name
            self.function_code.value = self._loaded_code = arch.functions[name]

    def _save_function(self) -> None:
        arch = self._arch()
        if arch is None:
            self._show_message("create an architecture first")
            return
        name, code = self.function_name.value.strip(), self.function_code.value
        self._guard(self.view.set_function, arch.id, name, code)
        if not self.message.visible:
            self._loaded_code = code
            self.function_select.value = name

    @property
    def in_front(self) -> bool:
        """Whether this editor's workbench tab is the one shown (always, outside the workbench)."""
        return self.session is None or self.session.tab == TAB

    def dispose(self) -> None:
        super().dispose()
        if self._unsubscribe_presence is not None:
            self._unsubscribe_presence()
            self._unsubscribe_presence = None

    def _focus(self, event: param.parameterized.Event) -> None:
        """Show the architecture and select the layer a refused run's link points at (by id, or by name)."""
        place = event.new
        if place is None or place.root != self.view.root or place.resource not in self.view.ids():
            return
        layers = self.view.get(place.resource).layers
        layer = place.element if place.element in layers else None
        layer = layer or next((lid for lid, item in layers.items() if item.name == place.element), None)
        if layer is not None:
            self.selection.select(layer)
        self.param.update(architecture=place.resource, layer=layer)
        self.flow.fit_view([layer] if layer else [])

    def _shown(self, _event: Any = None) -> None:
        """Lay the editor out the first time its tab comes to the front, and check shapes from then on."""
        if not self.in_front:
            return
        if self._layout is not None and not self._layout.objects:
            self._layout.objects = [self._content()]
        self.refresh()

    def _content(self) -> pn.viewable.Viewable:
        toolbar = pn.Row(
            self.architecture_select,
            pn.layout.HSpacer(),
            self.new_name,
            self.create_button,
            self.upload,
            self.import_button,
            sizing_mode="stretch_width",
        )
        catalog = pn.Column(self.search, self.catalog, self.add_button, self.type_doc, width=300)
        side = pn.Column(
            self.layer_title,
            self.layer_name,
            self.args,
            self.delete_button,
            pn.layout.Divider(),
            self.function_select,
            self.function_name,
            self.function_code,
            self.save_function,
            width=380,
            scroll=True,
        )
        return pn.Column(
            toolbar,
            self.message,
            self.notes,
            self.empty,
            pn.Row(catalog, self.flow, side, sizing_mode="stretch_both", min_height=560),
            sizing_mode="stretch_both",
        )

    def __panel__(self) -> pn.viewable.Viewable:
        """Empty until the tab is first shown: a hidden graph and code editor cost the page for nothing."""
        if self._layout is None:
            self._layout = pn.Column(sizing_mode="stretch_both")
            if self.in_front:
                self._layout.objects = [self._content()]
        return self._layout
