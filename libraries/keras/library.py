"""DeepForge-Keras: the catalog, the architectures root, the code generator and the init code as one Library."""

from __future__ import annotations

import argparse
import logging
import types
from typing import TYPE_CHECKING, Any

from deepforge_panel.errors import Place, ProjectError
from deepforge_panel.libraries.base import Library
from deepforge_panel.libraries.keras.architectures import ArchitecturesView
from deepforge_panel.libraries.keras.catalog import load_catalog
from deepforge_panel.libraries.keras.codegen import generate_code

if TYPE_CHECKING:
    from deepforge_panel.downloads import Converter
    from deepforge_panel.project import Project
    from deepforge_panel.webgme import WebGMEProject

logger = logging.getLogger(__name__)

INIT_CODE = '''"""DeepForge-Keras init: models are stored as .keras files, canonically (the same model, the same bytes).

A model built from an architecture with custom activations is stored as the functions' source
plus the .keras file; loading runs the sources (registering "deepforge>NAME" with Keras)
before Keras reads the model.
"""

import json
import os
import sys
import tempfile


def _custom_sources(model):
    """Source of every DeepForge custom function the model's layers hold, and of its custom layer classes, by name."""
    found = {}
    for layer in model._flatten_layers(include_self=False):
        source = getattr(type(layer), "deepforge_source", None)
        if isinstance(source, str):
            found[type(layer).__name__] = source
        for value in vars(layer).values():
            source = getattr(value, "deepforge_source", None)
            if isinstance(source, str):
                found[value.__name__] = source
    return found


def _is_model(obj):
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model)


def _accepts(obj):
    return _is_model(obj) and bool(_custom_sources(obj))


def _renumbered(config):
    """Keras names objects shared between layers by their memory address: number them in order of appearance."""
    numbers = {}

    def walk(value):
        if isinstance(value, dict):
            return {
                key: numbers.setdefault(item, len(numbers) + 1) if key == "shared_object_id" else walk(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(config)


def canonical_keras(data):
    """The .keras file ``data`` with nothing incidental in it (no save date, no memory addresses, no file times),
    so the same model is always the same bytes, and the same content hash."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "metadata.json":
                metadata = json.loads(content)
                metadata.pop("date_saved", None)
                content = json.dumps(metadata, sort_keys=True).encode()
            elif info.filename == "config.json":
                content = json.dumps(_renumbered(json.loads(content))).encode()
            entry = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            target.writestr(entry, content)
    return out.getvalue()


def _saved(model):
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as f:
            return canonical_keras(f.read())


def _dump(model):
    header = json.dumps({"functions": _custom_sources(model)}).encode()
    return header + b"\\n" + _saved(model)


def _load_saved(data):
    import keras

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as f:
            f.write(data)
        return keras.saving.load_model(path)


def _load(payload):
    import keras

    header, _, data = payload.partition(b"\\n")
    for name, source in json.loads(header)["functions"].items():
        namespace = {"keras": keras, "__name__": "deepforge_function_" + name}
        exec(compile(source, "<function " + name + ">", "exec"), namespace)
        function = namespace[name]
        function.deepforge_source = source
        keras.saving.register_keras_serializable(package="deepforge")(function)
    return _load_saved(data)


def install(serialization):
    serialization.register("keras", _is_model, _saved, _load_saved)  # every model, as a canonical .keras file
    serialization.register("keras-deepforge", _accepts, _dump, _load)  # newer wins: models with custom code


try:
    from deepforge import serialization as _serialization
except ImportError:  # outside a job: the workbench calls install() itself
    _serialization = None
if _serialization is not None:
    install(_serialization)
'''


class KerasLibrary(Library):
    """Keras architectures: layers from a catalog generated from Keras, code for the functional API."""

    name = "keras"
    root = "architectures"
    tab = "Architectures"

    def catalog(self) -> dict[str, Any]:
        return load_catalog()

    def resources(self, project: Project) -> ArchitecturesView:
        return ArchitecturesView(project)

    def generate(self, project: Project, resource_id: str) -> str:
        return generate_code(ArchitecturesView(project).get(resource_id))

    def runtime_requirements(self) -> tuple[str, ...]:
        """Keras and its backend, TensorFlow, at this workbench's versions (the generated code is Keras 3)."""
        from deepforge_panel.environments import pinned

        return (pinned("keras"), pinned("tensorflow"))

    def init_code(self) -> str:
        """Registers the two-step serializer for models with custom functions (see ``INIT_CODE``)."""
        return INIT_CODE

    async def check(self, project: Project, resource_id: str) -> list[ProjectError]:
        """Layers whose shapes do not fit, asked of the shape worker (an answer cached for an unchanged
        architecture comes at once); blocked layers are left out, their cause is reported."""
        from deepforge_panel.libraries.keras.shapes import ShapeCheckError, shared_checker, to_payload

        arch = self.resources(project).get(resource_id)
        try:
            results = await shared_checker().check(to_payload(arch), key=f"{project.name}/{arch.id}")
        except ShapeCheckError as exc:  # the job will build it and say what is wrong
            logger.warning("shapes of %r not checked before the run: %s", arch.name, exc)
            return []
        return [
            ProjectError(
                f"architecture {arch.name!r}, layer {layer.name} ({layer.type}): {result['error']}",
                layer.id,
                Place(self.root, arch.id, layer.id, f"layer {layer.name} of {arch.name}"),
            )
            for layer in arch.layers.values()
            if (result := results.get(layer.id, {})).get("error") and not result.get("blocked_by")
        ]

    def editor(self, project: Project, session: Any) -> Any:
        from deepforge_panel.components.architecture_editor import ArchitectureEditor

        return ArchitectureEditor(project=project, session=session)

    def download_converter(self) -> Converter:
        """Trained models download as ``.keras`` files (see :mod:`deepforge_panel.libraries.keras.downloads`)."""
        from deepforge_panel.libraries.keras.downloads import KerasConverter

        return KerasConverter()

    def import_deepforge(self, project: Project, source: WebGMEProject, node: str, notes: list[str]) -> str | None:
        """A DeepForge (deepforge-keras) architecture as an architecture here; see :mod:`.deepforge_architectures`."""
        from deepforge_panel.libraries.keras.deepforge_architectures import import_architecture

        return import_architecture(project, source, node, notes)

    def add_commands(self, subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
        """``architecture import|export`` and ``artifact export`` (see :mod:`deepforge_panel.libraries.keras.cli`)."""
        from deepforge_panel.libraries.keras.cli import add_commands

        add_commands(subparsers, common)


_installed: set[str] = set()


def install_serializer(serialization: types.ModuleType) -> None:
    """Run the library's init code against ``serialization`` in this process, once."""
    if serialization.__name__ in _installed:
        return
    namespace: dict[str, Any] = {"__name__": "deepforge_keras_init"}
    exec(compile(INIT_CODE, "<keras library init>", "exec"), namespace)
    namespace["install"](serialization)
    _installed.add(serialization.__name__)
