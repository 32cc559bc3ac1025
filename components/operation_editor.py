"""The operation's Python code beside its node: edits flow into the document, the interface follows."""

from __future__ import annotations

import io
from typing import Any

import panel as pn
import param

from deepforge_panel.components.artifact_browser import FormatDownload
from deepforge_panel.components.base import ProjectComponent
from deepforge_panel.components.markup import md_code, md_text
from deepforge_panel.environments import Environment, parse_requirements
from deepforge_panel.errors import USER_ERRORS, ProjectError
from deepforge_panel.interface import init_parameters


class OperationEditor(ProjectComponent):
    """A code editor bound to one operation; a syntax error is marked at its line, the last good interface kept."""

    operation = param.String(default=None, allow_None=True, doc="Id of the operation being edited.")
    roots = ("operations",)

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._showing = False
        self.editor = pn.widgets.CodeEditor(language="python", sizing_mode="stretch_width", height=360, label="code")
        self.title = pn.pane.Markdown("", margin=(0, 10))
        self.status = pn.pane.Alert("", alert_type="danger", visible=False, margin=(5, 10))
        self.ports = pn.pane.Markdown("", margin=(0, 10), styles={"font-size": "12px"})
        self.references = pn.widgets.MultiChoice(
            label="References",
            description="Which __init__ parameters without a default are set from a library's resources (such "
            "as an architecture) rather than typed in: the others are attributes",
            placeholder="none: every parameter is an attribute",
            options=[],
            sizing_mode="stretch_width",
            margin=(0, 10),
        )
        self.requirements = pn.widgets.TextAreaInput(
            label="Environment: pip requirements",
            description="What this operation needs, as requirements.txt lines: its jobs run in a virtual environment "
            "built once for exactly these (and reused); empty, they run in the workbench's own Python",
            placeholder="none: the workbench's own Python and packages",
            rows=3,
            sizing_mode="stretch_width",
            margin=(0, 10),
        )
        self.python = pn.widgets.TextInput(
            label="Environment: Python version",
            description="Such as 3.11; empty: the Python that runs the job",
            placeholder="the job's own",
            width=160,
            margin=(0, 10),
        )
        self.environment_error = pn.pane.Alert("", alert_type="danger", visible=False, margin=(5, 10))
        self.download = FormatDownload(
            label="Export .py",
            callback=self.export,
            filename="operation.py",
            description="This operation as a Python file that runs on its own: python FILE.py --input PORT=PATH",
            variant="outline",
            width=110,
            visible=False,
        )
        self.references.param.watch(self._references_chosen, "value")
        self.requirements.param.watch(self._environment_edited, "value")
        self.python.param.watch(self._environment_edited, "value")
        self.editor.param.watch(self._edited, "value")
        self.refresh()

    @param.depends("operation", watch=True)
    def refresh(self) -> None:
        if not self.operation or self.operation not in self.project.operations.ids():
            self.title.object = "*Select a node to edit its operation's code.*"
            self.editor.visible = False
            self.status.visible = False
            self.ports.object = ""
            self.references.visible = False
            self.requirements.visible = self.python.visible = self.environment_error.visible = False
            self.download.visible = False
            return
        op = self.project.operations.get(self.operation)
        self.editor.visible = True
        self.download.param.update(visible=True, filename=f"{op.name}.py")
        self.title.object = f"#### Operation {md_code(op.name)}"
        if self.editor.value != op.code:
            self.editor.value = op.code
        if op.error is not None:
            self.status.object = (
                f"**Line {op.error.line}, column {op.error.column}:** {md_text(op.error.message)} "
                "(the last good interface is kept)"
            )
            self.status.visible = True
            self.editor.annotations = [
                {
                    "row": max(op.error.line - 1, 0),
                    "column": max(op.error.column - 1, 0),
                    "text": op.error.message,
                    "type": "error",
                }
            ]
        else:
            self.status.visible = False
            self.editor.annotations = []
        parameters = init_parameters(op.code, without_default=True)  # a reference has no default to type in
        declared = self.project.operations.references_of(op.id)
        self.references.param.update(
            options=list(dict.fromkeys([*parameters, *declared])), value=declared, visible=bool(parameters or declared)
        )
        self._show_environment(op.environment)
        iface = op.interface
        if iface is not None:
            parts = [
                "inputs: " + (", ".join(p.name for p in iface.inputs) or "none"),
                "outputs: " + (", ".join(p.name for p in iface.outputs) or "none"),
                "attributes: " + (", ".join(a.name for a in iface.attributes) or "none"),
            ]
            if iface.references:
                parts.append("references: " + ", ".join(r.name for r in iface.references))
            self.ports.object = md_text(" · ".join(parts))

    def _references_chosen(self, event: param.parameterized.Event) -> None:
        if not self.operation or list(event.new) == self.project.operations.references_of(self.operation):
            return
        try:
            self.project.operations.set_references(self.operation, list(event.new))
        except ProjectError as exc:
            self.status.param.update(object=md_text(str(exc)), visible=True)

    def _show_environment(self, environment: Environment | None) -> None:
        """The document's environment in the two fields, unless what they hold already says the same (comments and
        spacing kept while one types)."""
        self.requirements.visible = self.python.visible = True
        if self._typed_environment() == environment:
            return
        self.environment_error.visible = False
        self._showing = True  # both fields follow the document: neither is an edit to write back
        try:
            self.requirements.value = "\n".join(environment.requirements) if environment else ""
            self.python.value = (environment.python or "") if environment else ""
        finally:
            self._showing = False

    def _typed_environment(self) -> Environment | str | None:
        """What the fields say: an Environment, None when both are empty, or why they do not parse."""
        try:
            requirements = parse_requirements(self.requirements.value or "", "Environment")
        except ProjectError as exc:
            return str(exc)
        python = (self.python.value or "").strip() or None
        if not requirements and python is None:
            return None
        return Environment(requirements, python)

    def _environment_edited(self, event: param.parameterized.Event) -> None:
        if not self.operation or self._showing:
            return
        typed = self._typed_environment()
        if isinstance(typed, str):
            self.environment_error.param.update(object=md_text(typed), visible=True)
            return
        if typed == self.project.operations.environment_of(self.operation):
            self.environment_error.visible = False
            return
        try:
            self.project.operations.set_environment(self.operation, typed)
        except ProjectError as exc:
            self.environment_error.param.update(object=md_text(str(exc)), visible=True)
            return
        self.environment_error.visible = False

    def export(self) -> io.BytesIO | None:
        """The operation as a runnable ``.py`` file; None (the status says why) when it cannot be exported."""
        from deepforge_panel.exports import operation_download

        if not self.operation:
            return None
        try:
            filename, data = operation_download(self.project, self.operation)
        except USER_ERRORS as exc:
            self.status.param.update(object=md_text(str(exc)), visible=True)
            return None
        self.download.filename = filename
        return io.BytesIO(data)

    def _edited(self, event: param.parameterized.Event) -> None:
        if not self.operation or event.new is None:
            return
        if event.new != self.project.operations.get(self.operation).code:
            self.project.operations.set_code(self.operation, event.new)

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            pn.Row(self.title, pn.layout.HSpacer(), self.download, sizing_mode="stretch_width"),
            self.ports,
            self.references,
            pn.Row(self.requirements, self.python, sizing_mode="stretch_width"),
            self.environment_error,
            self.status,
            self.editor,
            sizing_mode="stretch_width",
        )
