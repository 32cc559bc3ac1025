"""Import a DeepForge project export (``.webgmex``) as a new project.

What DeepForge keeps, and where it lands here:

* operations (``MyOperations``): code, references (the operation's pointer rules), environment
  (``condaEnv``, converted to pip requirements); inputs, outputs and attributes are read from the code by
  the same rules DeepForge uses (:mod:`deepforge_panel.interface`);
* artifacts (``MyArtifacts``) whose data the export holds (DeepForge's ``gme`` storage): stored in the
  project's storage, with "imported from" provenance;
* pipelines (``MyPipelines``): nodes with their attribute values, references and layout; DeepForge's
  Input and Output operations as this project's Input and Output nodes; connections;
* resources (architectures), through the library that knows them (:meth:`Library.import_deepforge`);
* utility modules (the root's ``*Utilities`` container) and init code (the root's Code nodes).

Everything else (past executions, artifacts kept outside the export, a resource no library here reads,
a connection that no longer fits) is listed in the :class:`ImportReport`, never dropped unsaid. A file
that is not a DeepForge export, an operation whose code does not parse or a pipeline node of a type this
importer does not know stops the import with an :class:`ImportFailed` naming the element; the
half-made project is then deleted, so nothing half-imported is left behind.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.errors import ProjectError
from deepforge_panel.io_nodes import ATTRIBUTE, NAME, input_operation, output_operation
from deepforge_panel.jobruntime.deepforge.storage import content_key
from deepforge_panel.names import check_name, numbered
from deepforge_panel.webgme import WebGMEError, WebGMEProject

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.operations import OperationId
    from deepforge_panel.pipelines import PipelineId
    from deepforge_panel.project import Project
    from deepforge_panel.workspace import Workspace

__all__ = ["ImportFailed", "ImportReport", "import_webgmex"]

_DEFAULT_POSITION = {"x": 100, "y": 100}
_ARCHIVE_HEADER = b"deepforge:"


class ImportFailed(ProjectError):
    """A DeepForge export that cannot be imported, naming the element at fault; nothing was left behind."""


@dataclass
class ImportReport:
    """What an import brought over, and everything it could not (or only approximately)."""

    project: str
    source: str
    operations: list[str] = field(default_factory=list)
    pipelines: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    utilities: list[str] = field(default_factory=list)
    init_code: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The report as lines a person reads (the CLI prints it; the project list shows it)."""
        counts = [
            f"{len(self.operations)} operations",
            f"{len(self.pipelines)} pipelines",
            f"{len(self.resources)} architectures",
            f"{len(self.artifacts)} artifacts",
            f"{len(self.utilities)} utility modules",
        ]
        lines = [f"imported {self.source} as project {self.project!r}: " + ", ".join(counts)]
        if self.init_code:
            lines.append("init code: imported")
        if self.notes:
            lines.append(f"not carried over, or changed ({len(self.notes)}):")
            lines += [f"  - {note}" for note in self.notes]
        else:
            lines.append("everything was carried over")
        return "\n".join(lines)


def import_webgmex(
    workspace: Workspace, path: str | Path, name: str | None = None, storage: StorageAdapter | None = None
) -> tuple[Project, ImportReport]:
    """A new project made from the DeepForge export at ``path``, and what the import did.

    ``name`` defaults to the exported project's name; ``storage`` (default: the project's own artifacts
    folder) receives the artifacts the export holds. On any error the new project is deleted.
    """
    path = Path(path)
    try:
        source = WebGMEProject.read(path)
        _check_deepforge(source, path.name)
    except WebGMEError as exc:
        raise ImportFailed(str(exc), exc.node) from None
    name = name or _project_name(source, path)
    check_name("project", name, ImportFailed)
    if workspace.home.exists(name):
        raise ImportFailed(f"a project named {name!r} already exists; choose another name (--name)", name)
    project = workspace.create(name)
    try:
        if storage is None:
            from deepforge_panel.adapters.storage import storage as make_storage

            storage = make_storage((workspace.project_dir(project) / "artifacts").resolve().as_uri())
        report = ImportReport(project=name, source=path.name)
        _Importer(source, project, storage, report).run()
        project.commit(f"Import {path.name} (DeepForge)", author="deepforge-panel import")
    except BaseException as exc:
        project.close()
        workspace.home.delete(name)
        if isinstance(exc, WebGMEError):
            raise ImportFailed(str(exc), exc.node) from None
        raise
    return project, report


def _check_deepforge(source: WebGMEProject, file_name: str) -> None:
    types = {source.name(node) for node in source.meta_nodes}
    missing = [t for t in ("Operation", "Pipeline", "Data") if t not in types]
    if missing:
        raise ImportFailed(
            f"{file_name} is a WebGME project but not a DeepForge one: its META has no {', '.join(missing)}"
        )


def _project_name(source: WebGMEProject, path: Path) -> str:
    """The exported project's name (WebGME ids are ``owner+name``), else the file's stem."""
    exported = source.project_id.rpartition("+")[2] or path.stem
    return re.sub(r"[^\w .-]+", "_", exported).strip() or "imported"


class _Importer:
    """One import: DeepForge nodes to project records, with the maps between them."""

    def __init__(self, source: WebGMEProject, project: Project, storage: StorageAdapter, report: ImportReport):
        self.src = source
        self.project = project
        self.storage = storage
        self.report = report
        self.operations: dict[str, OperationId] = {}  # DeepForge operation path -> operation id
        self.artifacts: dict[str, str] = {}  # DeepForge Data path -> artifact id
        self.resources: dict[str, str] = {}  # DeepForge resource path -> "library:resource-id"

    def note(self, text: str) -> None:
        self.report.notes.append(text)

    def run(self) -> None:
        containers: dict[str, list[str]] = {}
        for child in self.src.children(""):
            containers.setdefault(self.src.type_name(child), []).append(child)
        handled = {"FCO", "Code", "LibraryCode"}
        with self.project.transaction():
            self._init_code(containers.get("Code", []), containers.get("LibraryCode", []))
            for child in self.src.children(""):
                kind = self.src.type_name(child)
                if "Utilities" in self.src.name(child) and kind not in handled:
                    self._utilities(child)
                    handled.add(kind)
            for container in ("MyResources", "MyArchitectures"):
                for child in containers.get(container, []):
                    self._resources(child)
            for child in containers.get("MyArtifacts", []):
                self._artifacts(child)
            for child in containers.get("MyOperations", []):
                self._operations(child)
            for child in containers.get("MyPipelines", []):
                self._pipelines(child)
            for child in containers.get("MyExecutions", []):
                runs = len(self.src.children(child))
                if runs:
                    self.note(f"{runs} past executions (records of earlier runs) are not carried over")
        handled |= {"MyResources", "MyArchitectures", "MyArtifacts", "MyOperations", "MyPipelines", "MyExecutions"}
        for child in self.src.children(""):
            kind = self.src.type_name(child)
            if kind in handled or self.src.attribute(child, "_libraryInfo") is not None:
                continue
            if kind in ("MyDataTypes", "MyLayers") and not self.src.children(child):
                continue
            self.note(f"{self.src.name(child) or child!r} ({kind or 'no type'}, at {child}) is not carried over")

    # --- code every job gets ----------------------------------------------------------------------------

    def _init_code(self, code_nodes: list[str], library_nodes: list[str]) -> None:
        parts = []
        for node in library_nodes + code_nodes:  # library code first, as DeepForge's job generator has it
            code = str(self.src.attribute(node, "code") or "")
            library = self.src.pointer(node, "library")
            if library is not None and _library_here(self.src.name(library)):
                self.note(
                    f"the init code of DeepForge's {self.src.name(library)} library is not imported: "
                    "that library's own init code here does its work"
                )
                continue
            if _has_code(code):
                parts.append(f"# --- {self.src.name(node) or 'init code'} (imported from DeepForge)\n{code.strip()}\n")
        if parts:
            self.project.utilities.set_init_code("\n".join(parts))
            self.report.init_code = True

    def _utilities(self, container: str) -> None:
        for node in self.src.children(container):
            file_name = self.src.name(node)
            module = file_name[: -len(".py")] if file_name.endswith(".py") else file_name
            if not self.src.is_a(node, "Code"):
                self.note(f"{file_name!r} in {self.src.name(container)} is not a code file: not carried over")
                continue
            try:
                self.project.utilities.add(module, str(self.src.attribute(node, "code") or ""))
            except ProjectError as exc:
                raise ImportFailed(f"utility module {file_name!r}: {exc}", node) from None
            self.report.utilities.append(module)

    # --- resources and artifacts ------------------------------------------------------------------------

    def _resources(self, container: str) -> None:
        from deepforge_panel.libraries import loaded_libraries
        from deepforge_panel.references import make_reference

        for node in self.src.children(container):
            label = f"{self.src.type_name(node) or 'resource'} {self.src.name(node)!r}"
            for library in loaded_libraries():
                resource_id = library.import_deepforge(self.project, self.src, node, self.report.notes)
                if resource_id is not None:
                    self.resources[node] = make_reference(library.name, resource_id)
                    self.report.resources.append(self.src.name(node))
                    break
            else:
                origin = self.src.library_of(node)
                where = f" of DeepForge's {origin!r} library" if origin else ""
                self.note(f"{label}{where} is not carried over: no library here reads it")

    def _artifacts(self, container: str) -> None:
        for node in self.src.children(container):
            name = self.src.name(node) or "data"
            try:
                stored = json.loads(self.src.attribute(node, "data") or "null")
            except json.JSONDecodeError:
                stored = None
            if not isinstance(stored, dict):
                self.note(f"artifact {name!r} holds no data: not carried over")
                continue
            backend, digest = stored.get("backend"), stored.get("data")
            if backend != "gme" or not isinstance(digest, str):
                self.note(f"artifact {name!r} is kept in DeepForge's {backend!r} storage, not in the export")
                continue
            if digest not in self.src.assets:
                self.note(f"artifact {name!r}: the export lacks its data ({digest[:12]}); not carried over")
                continue
            kind = str(self.src.attribute(node, "type") or "")
            data = self.src.assets[digest][1]
            if kind and not kind.startswith("builtins."):
                data = _ARCHIVE_HEADER + kind.encode() + b"\n" + data  # loads with a serializer registered for it
            sha = hashlib.sha256(data).hexdigest()
            url = self.storage.put(content_key(sha), data)
            provenance = {
                "imported": {
                    "from": self.report.source,
                    "deepforge": node,
                    "created": (self.src.attribute(node, "createdAt") or 0) / 1000,
                }
            }
            type_name = kind.removeprefix("builtins.") or "object"
            try:
                check_name("artifact", name, ImportFailed)
            except ImportFailed:
                name = _clean(name) or "data"
            self.artifacts[node] = self.project.artifacts.add(name, type_name, url, sha, len(data), provenance)
            self.report.artifacts.append(name)

    # --- operations --------------------------------------------------------------------------------------

    def _operations(self, container: str) -> None:
        from deepforge_panel.environments import from_conda_env

        for node in self.src.children(container):
            if not self.src.is_a(node, "Operation"):
                self.note(f"{self.src.name(node)!r} in {self.src.name(container)} is not an operation: not carried")
                continue
            name = self.src.name(node)
            code = str(self.src.attribute(node, "code") or "")
            references = self.src.meta_pointers(node)
            op_id = self.project.operations.add(code, name=_operation_name(name), references=references)
            op = self.project.operations.get(op_id)
            if op.error is not None:
                raise ImportFailed(
                    f"operation {name!r}: its code does not parse here (line {op.error.line}: {op.error.message})",
                    node,
                )
            if op.name != name:
                self.note(f"operation {name!r} is named {op.name!r} here (its class name)")
            self.operations[node] = op_id
            self.report.operations.append(op.name)
            conda = str(self.src.attribute(node, "condaEnv") or "")
            if _has_code(conda, comment="#"):
                environment, notes = from_conda_env(conda)
                self.report.notes += [f"operation {op.name!r} environment: {n}" for n in notes]
                if environment is not None:
                    self.project.operations.set_environment(op_id, environment)

    # --- pipelines ---------------------------------------------------------------------------------------

    def _pipelines(self, container: str) -> None:
        taken: set[str] = set()
        for node in self.src.children(container):
            if not self.src.is_a(node, "Pipeline"):
                self.note(f"{self.src.name(node)!r} in {self.src.name(container)} is not a pipeline: not carried")
                continue
            name = self.src.name(node) or "pipeline"
            unique = numbered(name, taken)
            if unique != name:
                self.note(f"a second pipeline named {name!r} is named {unique!r}")
            taken.add(unique)
            self._pipeline(node, self.project.pipelines.create(unique), unique)
            self.report.pipelines.append(unique)

    def _pipeline(self, node: str, pipeline_id: PipelineId, name: str) -> None:
        nodes: dict[str, str] = {}
        transporters = []
        for child in self.src.children(node):
            kind = self.src.type_name(child)
            if kind == "Transporter":
                transporters.append(child)
                continue
            position = self.src.registry(child, "position") or _DEFAULT_POSITION
            x, y = float(position.get("x", 0)), float(position.get("y", 0))
            label = f"pipeline {name!r}: node {self.src.name(child)!r}"
            if self.src.is_a(child, "Input"):
                nodes[child] = self._input_node(child, pipeline_id, label, x, y)
            elif self.src.is_a(child, "Output"):
                save_name = str(self.src.attribute(child, "saveName") or "") or self.src.name(child) or "output"
                op_id = output_operation(self.project)
                nodes[child] = self.project.pipelines.add_node(
                    pipeline_id, op_id, attributes={NAME: save_name}, x=x, y=y
                )
            elif (definition := self._definition(child)) is not None:
                nodes[child] = self._operation_node(child, definition, pipeline_id, label, x, y)
            else:
                raise ImportFailed(
                    f"{label} at {child} is of type {kind or 'none'!r}, which this importer does not know "
                    "(an export from another DeepForge version?)",
                    child,
                )
        for transporter in transporters:
            self._connection(transporter, nodes, pipeline_id, name)
        self._spread(pipeline_id)

    def _spread(self, pipeline_id: PipelineId) -> None:
        """Lay the nodes out in columns by depth when DeepForge left several at one place (its default)."""
        pipeline = self.project.pipelines.get(pipeline_id)
        places = {(n.x, n.y) for n in pipeline.nodes.values()}
        if len(places) == len(pipeline.nodes):
            return
        depth: dict[str, int] = {}
        for node_id in pipeline.topological_order():
            parents = [e.src for e in pipeline.edges.values() if e.dst == node_id]
            depth[node_id] = 1 + max((depth[p] for p in parents), default=-1)
        rows: dict[int, int] = {}
        for node_id in pipeline.topological_order():
            row = rows[depth[node_id]] = rows.get(depth[node_id], -1) + 1
            self.project.pipelines.move_node(pipeline_id, node_id, depth[node_id] * 260.0, row * 140.0)

    def _definition(self, node: str) -> str | None:
        """The operation definition ``node`` is an instance of (its base in ``MyOperations``)."""
        return next((base for base in self.src.chain(node) if base in self.operations), None)

    def _input_node(self, node: str, pipeline_id: PipelineId, label: str, x: float, y: float) -> str:
        target = self.src.pointer(node, "artifact")
        artifact = self.artifacts.get(target or "")
        if artifact is None:
            what = f"artifact {self.src.name(target)!r}, which was not carried over" if target else "no artifact"
            self.note(f"{label} (an Input) points at {what}: choose one before running")
        return self.project.pipelines.add_node(
            pipeline_id, input_operation(self.project), attributes={ATTRIBUTE: artifact or ""}, x=x, y=y
        )

    def _operation_node(self, node: str, definition: str, pipeline_id: PipelineId, label: str, x: float, y: float):
        op_id = self.operations[definition]
        interface = self.project.operations.get(op_id).interface
        known = {a.name for a in interface.attributes} if interface else set()
        values = {}
        for key, value in self.src.own_attributes(node).items():
            if key in known:
                values[key] = value
        node_id = self.project.pipelines.add_node(pipeline_id, op_id, x=x, y=y)
        for key, value in values.items():
            try:
                self.project.pipelines.set_attributes(pipeline_id, node_id, {key: _value(value)})
            except ProjectError as exc:
                self.note(f"{label}: {key} = {value!r} is not kept ({exc})")
        for reference in interface.references if interface else ():
            target = self.src.pointer(node, reference.name)
            if target is None:
                continue
            resource = self.resources.get(target)
            if resource is None:
                self.note(f"{label}: reference {reference.name!r} points at {self.src.name(target)!r}, not carried")
                continue
            self.project.pipelines.set_reference(pipeline_id, node_id, reference.name, resource)
        return node_id

    def _connection(self, transporter: str, nodes: dict[str, str], pipeline_id: PipelineId, name: str) -> None:
        src, dst = self.src.pointer(transporter, "src"), self.src.pointer(transporter, "dst")
        ends = [(port, _port_owner(port)) for port in (src, dst)]
        if any(port is None or owner not in nodes for port, owner in ends):
            self.note(f"pipeline {name!r}: a connection ({transporter}) with a missing end is not carried over")
            return
        (src_port, src_node), (dst_port, dst_node) = ends
        pipeline = self.project.pipelines.get(pipeline_id)
        source, target = pipeline.nodes[nodes[src_node]], pipeline.nodes[nodes[dst_node]]  # type: ignore[index]
        out_port = self._port(source.operation, self.src.name(src_port or ""), "outputs")
        in_port = self._port(target.operation, self.src.name(dst_port or ""), "inputs")
        try:
            self.project.pipelines.add_edge(pipeline_id, source.id, out_port, target.id, in_port)
        except ProjectError as exc:
            self.note(f"pipeline {name!r}: connection {source.name}.{out_port} -> {target.name}.{in_port}: {exc}")

    def _port(self, op_id: str, name: str, side: str) -> str:
        """The port named ``name``; for a one-port side (Input's output, Output's input) that one port."""
        interface = self.project.operations.get(op_id).interface
        ports = [p.name for p in getattr(interface, side)] if interface else []
        return ports[0] if len(ports) == 1 and name not in ports else name


def _port_owner(port: str | None) -> str | None:
    """The pipeline node a DeepForge port belongs to: ``<node>/<Inputs|Outputs>/<port>``."""
    if port is None or port.count("/") < 2:
        return None
    return port.rsplit("/", 2)[0]


def _value(value: Any) -> Any:
    """A DeepForge attribute value: often the text of a literal ("20", "0.1", "True")."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _has_code(text: str, comment: str = "#") -> bool:
    """Whether ``text`` has a line other than blanks and comments."""
    return any(line.strip() and not line.strip().startswith(comment) for line in text.splitlines())


def _operation_name(name: str) -> str | None:
    """DeepForge's name for the operation, where it is a valid name here (else the class name is used)."""
    try:
        check_name("operation", name)
    except ProjectError:
        return None
    return name


def _clean(name: str) -> str:
    return re.sub(r"[^\w .-]+", "_", name).strip()


def _library_here(name: str) -> bool:
    from deepforge_panel.libraries import available_libraries

    return name in available_libraries()
