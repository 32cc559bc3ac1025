"""Keras models in and out of a project: import ``.keras`` / JSON / legacy ``.h5`` files; export code, JSON and trained models.

An import reads the model's config (a ``.keras`` file is a zip whose ``config.json`` is what
``keras.saving.load_model`` deserializes, an ``.h5`` file keeps it in its ``model_config``
attribute; reading it directly needs neither the model's custom objects nor its weights), plans
every layer (:mod:`deepforge_panel.libraries.keras.importer`), rebuilds each in Keras to check
nothing is lost, and only then writes the architecture in one transaction: a model that does not
fit leaves the document unchanged. What is kept only approximately, or read-only, is reported as a
:class:`ModelImportWarning`.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.artifacts import read_artifact
from deepforge_panel.crdt import Id
from deepforge_panel.errors import ProjectError
from deepforge_panel.libraries.keras.architectures import Architecture, ArchitectureError, ArchitecturesView
from deepforge_panel.libraries.keras.codegen import build_model, generate_code
from deepforge_panel.libraries.keras.importer import LayerPlan, plan_architecture, plan_model
from deepforge_panel.names import check_name

if TYPE_CHECKING:
    from deepforge_panel.adapters.storage import StorageAdapter
    from deepforge_panel.project import Project

__all__ = [
    "LayerPlan",
    "ModelImportWarning",
    "export_json",
    "export_model_artifact",
    "export_python",
    "import_model",
    "plan_model",
    "read_model_config",
    "save_model",
]

_HDF5 = b"\x89HDF\r\n\x1a\n"


class ModelImportWarning(UserWarning):
    """Something in an imported model that the architecture keeps only approximately, read-only, or not at all."""


def read_model_config(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The serialized model (``{"class_name": "Functional" | "Sequential", "config": ...}``) from a file, JSON or dict."""
    if isinstance(source, dict):
        config = source
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        try:
            config = json.loads(source)
        except json.JSONDecodeError as exc:
            raise ArchitectureError(f"the text is not a model's JSON ({exc})") from None
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no model file {str(path)!r}")
        config = _read_model_file(path)
    if not isinstance(config, dict) or "class_name" not in config or not isinstance(config.get("config"), dict):
        raise ArchitectureError("not a serialized Keras model: expected {'class_name': ..., 'config': {...}}")
    return config


def _read_model_file(path: Path) -> Any:
    """The JSON in a ``.keras`` archive or a JSON file; what is neither is refused as such, never as a codec error."""
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                if "config.json" not in archive.namelist():
                    raise ArchitectureError(f"{path.name} is a zip file but not a .keras model (no config.json)")
                return json.loads(archive.read("config.json"))
        except (zipfile.BadZipFile, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ArchitectureError(
                f"{path.name} is not a .keras file: its config.json is unreadable ({exc})"
            ) from None
    with path.open("rb") as f:
        magic = f.read(8)
    if path.suffix in (".h5", ".hdf5") or magic == _HDF5:
        return _read_h5(path)
    if path.suffix == ".keras":
        raise ArchitectureError(f"{path.name} is not a .keras file: a .keras model is a zip archive (truncated?)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ArchitectureError(f"{path.name} is not a .keras file or a model's JSON: it is binary") from None
    except json.JSONDecodeError as exc:
        raise ArchitectureError(f"{path.name} is not a .keras file or a model's JSON ({exc})") from None


def _read_h5(path: Path) -> Any:
    """The ``model_config`` attribute of a legacy HDF5 model (``model.save("m.h5")``, Keras 2 or 3)."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            text = h5.attrs.get("model_config")
    except OSError as exc:
        raise ArchitectureError(f"{path.name} is not a readable HDF5 file ({exc})") from None
    if text is None:
        raise ArchitectureError(f"{path.name} holds no model_config: it has weights only (save_weights), not a model")
    try:
        return json.loads(text.decode("utf-8") if isinstance(text, bytes) else str(text))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchitectureError(f"{path.name}: its model_config is not JSON ({exc})") from None


def import_model(
    project: Project,
    source: str | Path | dict[str, Any],
    name: str | None = None,
    functions: dict[str, str] | None = None,
) -> Id:
    """A new architecture from a Keras model (Functional or Sequential); returns its id.

    ``functions`` holds the code the model's file does not: custom activations
    (``{"swish2": "def swish2(x): ..."}``), custom layer classes (``{"MyLayer": "class MyLayer(keras.layers.Layer): ..."}``)
    and the source of a ``Lambda``'s function, by the Lambda layer's name.
    """
    functions = functions or {}
    config = read_model_config(source)
    arch_name = name or config["config"].get("name") or "model"
    check_name("architecture", arch_name, ArchitectureError)
    view = ArchitecturesView(project)
    if any(a.name == arch_name for a in view.all()):
        raise ArchitectureError(f"an architecture named {arch_name!r} already exists; pass another name")
    notes: list[str] = []
    arch_id = view.insert(plan_architecture(config, arch_name, functions, notes))
    if notes:
        warnings.warn(f"architecture {arch_name!r} differs from the model: " + "; ".join(notes), ModelImportWarning, 2)
    return arch_id


def export_python(arch: Architecture) -> str:
    """The architecture as a Python module defining ``build_model()``."""
    return generate_code(arch)


def export_json(arch: Architecture) -> str:
    """The architecture as Keras' ``model.to_json()``, built through the generated code."""
    return build_model(arch).to_json()


def export_model_artifact(project: Project, artifact_id: str, path: str | Path, storage: StorageAdapter) -> Path:
    """Write a trained model artifact as a ``.keras`` file (its custom functions restored first)."""
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"{str(path)!r}: a Keras model file must end in .keras")
    if not path.parent.is_dir():
        raise ProjectError(f"{str(path)!r}: no folder {str(path.parent)!r} to write into; create it first")
    artifact = project.artifacts.get(artifact_id)
    if not artifact.type.startswith("keras."):
        raise _not_a_model(artifact.name, artifact.type, artifact.id)
    return save_model(read_artifact(artifact, storage), path, artifact.name, artifact.id)


def save_model(data: bytes, path: Path, name: str = "", artifact_id: str = "") -> Path:
    """Write the model stored as ``data`` (artifact ``name``) to the ``.keras`` file ``path``; imports Keras."""
    from deepforge_panel.jobruntime.deepforge import serialization
    from deepforge_panel.libraries.keras.library import install_serializer

    install_serializer(serialization)
    model = serialization.loads(data)
    import keras

    if not isinstance(model, keras.Model):
        raise _not_a_model(name, type(model).__name__, artifact_id)
    model.save(path)
    return path


def _not_a_model(name: str, kind: str, artifact_id: str) -> ProjectError:
    what = f"artifact {name!r}" if name else "the artifact"
    return ProjectError(
        f"{what} holds a {kind}, not a Keras model: only trained models export as .keras files",
        artifact_id,
    )
