"""DeepForge project exports (``.webgmex``) built the way WebGME stores them, for the import tests.

:class:`WebGMEBuilder` writes raw WebGME storage: one object per node, children by relid, every pointer
(``base`` included) in the ``ovr`` of the lowest common ancestor of its ends, set members as pointers named
``member``, the META as the root's ``MetaAspectSet``, objects keyed by the SHA-1 of their content, and
assets as ``<hash>.metadata`` / ``<hash>.content`` pairs. :class:`DeepForgeExport` lays out what a DeepForge
project holds on top of it: the ``pipeline`` library's META (Operation with its Inputs and Outputs, Data,
Input, Output, Transporter, Pipeline, Code), the ``keras`` library's layers, and the root containers
(MyOperations, MyPipelines, MyArtifacts, MyResources, MyUtilities, MyExecutions). Operations are META
nodes based on Operation; a pipeline node is an instance of its operation (its ports inherited).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

_ALPHABET = "0123456789qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM"

DEFAULT_CONDA_ENV = (
    "# Conda environment to use when executing the given operation.\n"
    "# For more information, check out https://docs.conda.io/\n"
)


class WebGMEBuilder:
    """Nodes by path, written as a WebGME project export."""

    def __init__(self, project_id: str = "guest+Imported") -> None:
        self.project_id = project_id
        self.nodes: dict[str, dict[str, Any]] = {"": {"atr": {"name": "ROOT"}}}
        self.children: dict[str, list[str]] = {"": []}
        self.pointers: list[tuple[str, str, str | None]] = []
        self.assets: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._ids = itertools.count(1)

    def _relid(self) -> str:
        n, out = next(self._ids), ""
        while n:
            n, digit = divmod(n, len(_ALPHABET))
            out = _ALPHABET[digit] + out
        return out

    def node(
        self,
        parent: str,
        name: str | None = None,
        base: str | None = None,
        *,
        relid: str | None = None,
        atr: dict[str, Any] | None = None,
        reg: dict[str, Any] | None = None,
        meta: bool = False,
        meta_atr: dict[str, Any] | None = None,
        meta_pointers: tuple[str, ...] = (),
    ) -> str:
        """A node under ``parent``; ``base`` None for a node inheriting by relid (or FCO itself)."""
        relid = relid or self._relid()
        path = f"{parent}/{relid}"
        data: dict[str, Any] = {"atr": {"_relguid": hashlib.md5(path.encode()).hexdigest()}}
        if name is not None:
            data["atr"]["name"] = name
        data["atr"].update(atr or {})
        if reg:
            data["reg"] = dict(reg)
        if meta_atr or meta_pointers:
            data["_meta"] = {"atr": dict(meta_atr or {})}
            for pointer in meta_pointers:
                data["_meta"][f"_p_{pointer}"] = {"atr": {"min": 1, "max": 1}, "reg": {"_sets_": 4}}
        self.nodes[path] = data
        self.children[path] = []
        self.children[parent].append(relid)
        if base is not None:
            self.pointer(path, "base", base)
        if meta:
            self.member("", "MetaAspectSet", path)
        return path

    def inherited(self, parent: str, relid: str) -> str:
        """The stored record of a child ``parent`` inherits from its base (to give it children of its own)."""
        path = f"{parent}/{relid}"
        if path not in self.nodes:
            self.nodes[path] = {}
            self.children[path] = []
            self.children[parent].append(relid)
        return path

    def pointer(self, source: str, name: str, target: str | None) -> None:
        self.pointers.append((source, name, target))

    def member(self, owner: str, set_name: str, member: str, atr: dict[str, Any] | None = None) -> None:
        relid = self._relid()
        entries = self.nodes[owner].setdefault("_sets", {}).setdefault(set_name, {})
        entries[relid] = {"atr": dict(atr)} if atr else {"reg": {"_": "_"}}
        self.pointer(f"{owner}/_sets/{set_name}/{relid}", "member", member)

    def asset(self, name: str, content: bytes) -> str:
        """Store ``content`` as a blob; its metadata hash, as DeepForge's ``gme`` storage names it."""
        metadata = {
            "name": name,
            "size": len(content),
            "mime": "application/octet-stream",
            "content": hashlib.sha1(content).hexdigest(),
            "contentType": "object",
        }
        digest = hashlib.sha1(json.dumps(metadata, sort_keys=True).encode()).hexdigest()
        self.assets[digest] = (metadata, content)
        return digest

    def document(self) -> dict[str, Any]:
        overlays: dict[str, dict[str, dict[str, str]]] = {}
        for source, name, target in self.pointers:
            holder = _common_node(source, target or "", self.nodes)
            target_rel = "/_nullptr" if target is None else target[len(holder) :]
            overlays.setdefault(holder, {}).setdefault(source[len(holder) :], {})[name] = target_rel
        objects: list[dict[str, Any]] = []

        def encode(path: str) -> str:
            data = json.loads(json.dumps(self.nodes[path]))
            if path in overlays:
                data["ovr"] = overlays[path]
            for relid in self.children[path]:
                data[relid] = encode(f"{path}/{relid}")
            data["__v"] = "1.2.0"
            digest = "#" + hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()
            data["_id"] = digest
            objects.append(data)
            return digest

        root = encode("")
        return {
            "rootHash": root,
            "projectId": self.project_id,
            "branchName": "master",
            "commitHash": "#" + "0" * 40,
            "kind": "deepforge",
            "hashes": {"objects": [o["_id"] for o in objects], "assets": list(self.assets)},
            "objects": objects,
        }

    def write(self, path: Path) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("project.json", json.dumps(self.document()))
            for digest, (metadata, content) in self.assets.items():
                archive.writestr(f"{digest}.metadata", json.dumps(metadata))
                archive.writestr(f"{digest}.content", content)
        return path


def _common_node(a: str, b: str, nodes: dict[str, Any]) -> str:
    """The lowest common ancestor of two paths that is a node (set entries are inside their owner)."""
    common: list[str] = []
    for x, y in zip(a.split("/")[1:], b.split("/")[1:], strict=False):
        if x != y:
            break
        common.append(x)
    path = "".join(f"/{part}" for part in common)
    while path not in nodes:
        path = path.rpartition("/")[0]
    return path


class DeepForgeExport(WebGMEBuilder):
    """A DeepForge project: the pipeline and keras libraries' META and the root containers."""

    def __init__(self, project_id: str = "guest+Imported") -> None:
        super().__init__(project_id)
        self.fco = self.node("", "FCO", relid="1", meta=True)
        self.ports: dict[str, dict[str, tuple[str, str]]] = {}  # operation -> port name -> (side relid, relid)
        self._pipeline_library()
        self._keras_library()
        self.operations = self.node("", "MyOperations", self._type("MyOperations"))
        self.pipelines = self.node("", "MyPipelines", self._type("MyPipelines"))
        self.artifacts = self.node("", "MyArtifacts", self._type("MyArtifacts"))
        self.resources = self.node("", "MyResources", self._type("MyResources"))
        self.utilities = self.node("", "MyUtilities", self._type("MyUtilities"))
        self.executions = self.node("", "MyExecutions", self._type("MyExecutions"))

    def _type(self, name: str) -> str:
        return self.node(self.language, name, self.fco, meta=True)

    def _pipeline_library(self) -> None:
        library = self.node("", "pipeline", atr={"_libraryInfo": {"projectId": "guest+pipeline"}})
        self.language = self.node(library, "Language", self.fco)
        self.data = self.node(self.language, "Data", self.fco, meta=True, atr={"data": "", "createdAt": 0, "type": ""})
        self.inputs = self.node(self.language, "Inputs", self.fco, meta=True)
        self.outputs = self.node(self.language, "Outputs", self.fco, meta=True)
        self.operation = self.node(
            self.language,
            "Operation",
            self.fco,
            meta=True,
            atr={"code": "", "lineOffset": "0", "displayColor": "#78909c", "condaEnv": DEFAULT_CONDA_ENV},
            meta_atr={"code": {"type": "string"}, "condaEnv": {"type": "string", "multiline": True}},
        )
        self.node(self.operation, "Inputs", self.inputs, relid="w")
        self.node(self.operation, "Outputs", self.outputs, relid="l")
        self.input = self.node(self.language, "Input", self.operation, meta=True, meta_pointers=("artifact",))
        self.node(self.inherited(self.input, "l"), "data", self.data, relid="O")
        self.output = self.node(
            self.language, "Output", self.operation, meta=True, atr={"saveName": ""}, meta_atr={"saveName": {}}
        )
        self.node(self.inherited(self.output, "w"), "saveData", self.data, relid="D")
        self.transporter = self.node(self.language, "Transporter", self.fco, meta=True, meta_pointers=("src", "dst"))
        self.pipeline_type = self.node(self.language, "Pipeline", self.fco, meta=True, atr={"thumbnail": ""})
        self.code = self.node(self.language, "Code", self.fco, meta=True, atr={"code": ""})
        self.library_code = self.node(self.language, "LibraryCode", self.code, meta=True, meta_pointers=("library",))
        self.execution = self.node(self.language, "Execution", self.fco, meta=True)

    def _keras_library(self) -> None:
        self.keras = self.node("", "keras", atr={"_libraryInfo": {"projectId": "guest+keras"}})
        language = self.node(self.keras, "Language", self.fco)
        self.architecture_type = self.node(language, "Architecture", self.fco, meta=True)
        layer = self.node(language, "Layer", self.fco, meta=True, atr={"ctor_arg_order": "", "docstring": ""})
        port = self.node(language, "LayerData", self.fco, meta=True)
        self.layer_input = self.node(language, "LayerInput", port, meta=True)
        self.layer_output = self.node(language, "LayerOutput", port, meta=True)
        function = self.node(language, "ActivationFunction", self.fco, meta=True)
        self.functions = {
            name: self.node(language, name, function, meta=True, atr=atr)
            for name, atr in (("relu", {"alpha": "0", "max_value": "None"}), ("softmax", {"axis": "-1"}))
        }
        initializer = self.node(language, "InitializerFunction", self.fco, meta=True)
        self.functions["GlorotUniform"] = self.node(
            language, "GlorotUniform", initializer, meta=True, atr={"seed": "None"}
        )
        self.layer_types: dict[str, str] = {}
        layer_input = self.node(language, "Input", layer, meta=True, atr={"shape": "None", "batch_size": "None"})
        self.node(layer_input, "output", self.layer_output, relid="T")
        self.layer_types["Input"] = layer_input
        for name, atr, pointers in (
            ("Dense", {"units": "None", "use_bias": "True"}, ("activation", "kernel_initializer")),
            ("Dropout", {"rate": "None"}, ()),
            ("Concatenate", {"axis": "-1"}, ()),
        ):
            meta = self.node(language, name, layer, meta=True, atr=atr, meta_pointers=pointers)
            self.node(meta, "inputs", self.layer_input, relid="a")
            self.node(meta, "output", self.layer_output, relid="b")
            if "kernel_initializer" in pointers:
                default = self.node(meta, "GlorotUniform", self.functions["GlorotUniform"], relid="Y")
                self.pointer(meta, "kernel_initializer", default)
            self.layer_types[name] = meta

    # --- what a project holds ---------------------------------------------------------------------------

    def operation_definition(
        self,
        name: str,
        code: str,
        inputs: tuple[str, ...] = (),
        outputs: tuple[str, ...] = (),
        attributes: dict[str, tuple[str, Any]] | None = None,
        references: tuple[str, ...] = (),
        conda_env: str | None = None,
    ) -> str:
        """An operation as DeepForge's editor saves it: a META node with its ports and attribute schemas."""
        values = {key: value for key, (_, value) in (attributes or {}).items()}
        schemas = {key: {"type": kind} for key, (kind, _) in (attributes or {}).items()}
        atr = {"code": code, **values}
        if conda_env is not None:
            atr["condaEnv"] = conda_env
        op = self.node(
            self.operations, name, self.operation, meta=True, atr=atr, meta_atr=schemas, meta_pointers=references
        )
        self.ports[op] = {}
        for side, names in (("w", inputs), ("l", outputs)):
            container = self.inherited(op, side)
            for port in names:
                self.ports[op][port] = (side, self.node(container, port, self.data).rpartition("/")[2])
        return op

    def artifact(self, name: str, value: Any, type_name: str = "", content: bytes | None = None) -> str:
        payload = pickle.dumps(value) if content is None else content
        digest = self.asset(f"guest+Imported/artifacts/{name}", payload)
        data = json.dumps({"backend": "gme", "data": digest})
        atr = {"data": data, "type": type_name, "createdAt": 1_600_000_000_000}
        return self.node(self.artifacts, name, self.data, atr=atr)

    def pipeline(self, name: str) -> str:
        return self.node(self.pipelines, name, self.pipeline_type)

    def instance(self, pipeline: str, definition: str, x: float = 100, y: float = 100, **values: Any) -> str:
        """A node of ``pipeline`` running ``definition``; ``values`` override attributes (DeepForge keeps text)."""
        return self.node(pipeline, None, definition, atr=values, reg={"position": {"x": x, "y": y}})

    def connect(self, pipeline: str, src: str, src_port: str, dst: str, dst_port: str) -> str:
        transporter = self.node(pipeline, None, self.transporter)
        for end, node, port in (("src", src, src_port), ("dst", dst, dst_port)):
            definition = self._definition_of(node)
            side, relid = self.ports[definition][port]
            self.pointer(transporter, end, f"{node}/{side}/{relid}")
        return transporter

    def _definition_of(self, node: str) -> str:
        for source, name, target in self.pointers:
            if source == node and name == "base" and target is not None:
                if target in self.ports:
                    return target
                if target in (self.input, self.output):
                    self.ports.setdefault(target, {"data": ("l", "O"), "saveData": ("w", "D")})
                    return target
        raise KeyError(node)

    def utility(self, file_name: str, code: str) -> str:
        return self.node(self.utilities, file_name, self.code, atr={"code": code})

    def init_code(self, code: str, name: str = "InitCode") -> str:
        return self.node("", name, self.code, atr={"code": code})

    def keras_architecture(self, name: str) -> str:
        return self.node(self.resources, name, self.architecture_type)

    def layer(self, architecture: str, kind: str, *sources: str, activation: str | None = None, **args: str) -> str:
        """A layer of ``kind`` fed by the outputs of ``sources`` (in order); arguments as DeepForge's text."""
        meta = self.layer_types[kind]
        layer = self.node(architecture, None, meta, atr=args, reg={"position": {"x": 100, "y": 100}})
        if activation is not None:
            function = self.node(layer, None, self.functions[activation])
            self.pointer(layer, "activation", function)
        if sources:
            port = self.inherited(layer, "a")
            self.nodes[port].setdefault("_sets", {}).setdefault("source", {})
            for index, source in enumerate(sources):
                output = "T" if self._base_of(source) == self.layer_types["Input"] else "b"
                self.member(port, "source", f"{source}/{output}", {"index": index})
        return layer

    def _base_of(self, node: str) -> str | None:
        return next((t for s, n, t in self.pointers if s == node and n == "base"), None)
