"""``/projects/{project}/architectures``: the Keras library's architectures: list, read, import, export.

An import is planned in the library's worker process (the server never imports TensorFlow), as the
architecture editor's *Import model* does, and refused with its message, nothing written, when the
model does not fit. Exporting as Python is the library's code generator; as JSON it builds the model
in a worker process (Keras' ``model.to_json()``), which takes as long as importing TensorFlow.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.api.declare import ApiError, Call, route
from deepforge_panel.api.edits import live
from deepforge_panel.api.schemas import ANY_OBJECT, NAME, NUMBER, STRING, STRINGS, array, obj

if TYPE_CHECKING:
    from deepforge_panel.libraries.keras.architectures import Architecture, ArchitecturesView
    from deepforge_panel.project import Project

TAG = "architectures"
ALL = "/projects/{project}/architectures"
ONE = ALL + "/{architecture}"
EXPORT_TIMEOUT = 300.0
"""Seconds building a model for its JSON may take (importing TensorFlow is most of it)."""
MODEL_FILES = (".keras", ".h5", ".hdf5", ".json")

LAYER = obj(
    {
        "id": STRING,
        "name": STRING,
        "type": STRING,
        "args": ANY_OBJECT,
        "x": NUMBER,
        "y": NUMBER,
        "shares": {"type": ["string", "null"]},
        "config": {"type": ["object", "null"]},
        "call": {"type": ["string", "null"]},
    }
)
LAYER_CONNECTION = obj(
    {"id": STRING, "src": STRING, "dst": STRING, "index": {"type": "integer"}, "output": {"type": ["integer", "null"]}}
)
ARCHITECTURE = obj(
    {
        "id": STRING,
        "name": STRING,
        "layers": array(LAYER),
        "connections": array(LAYER_CONNECTION),
        "functions": {"type": "object", "additionalProperties": STRING},
        "inputs": {"type": ["array", "null"], "items": STRING},
        "outputs": {"type": ["array", "null"], "items": array({"type": ["string", "integer", "null"]})},
    }
)
SUMMARY = obj({"id": STRING, "name": STRING, "layers": {"type": "integer"}})


def _view(project: Project) -> ArchitecturesView:
    from deepforge_panel.libraries.keras.architectures import ArchitecturesView

    return ArchitecturesView(project)


def _find(call: Call) -> Architecture:
    return _view(live(call)).find(call.params["architecture"])


def architecture_json(arch: Architecture) -> dict[str, Any]:
    from deepforge_panel.api.schemas import clean

    return {
        "id": arch.id,
        "name": arch.name,
        "layers": [
            {
                "id": layer.id,
                "name": layer.name,
                "type": layer.type,
                "args": clean(layer.args),
                "x": layer.x,
                "y": layer.y,
                "shares": layer.shares,
                "config": clean(layer.config),
                "call": layer.call,
            }
            for layer in sorted(arch.layers.values(), key=lambda layer: layer.name)
        ],
        "connections": [
            {"id": c.id, "src": c.src, "dst": c.dst, "index": c.index, "output": c.output}
            for c in arch.connections.values()
        ],
        "functions": dict(arch.functions),
        "inputs": None if arch.inputs is None else list(arch.inputs),
        "outputs": None if arch.outputs is None else [list(ref) for ref in arch.outputs],
    }


@route("GET", ALL, "Every architecture", tag=TAG, response=array(SUMMARY), errors=(404,))
def list_architectures(call: Call) -> list[dict[str, Any]]:
    return [{"id": a.id, "name": a.name, "layers": len(a.layers)} for a in _view(live(call)).all()]


@route(
    "GET",
    ONE,
    "One architecture (by name or id): its layers, connections and functions",
    tag=TAG,
    response=ARCHITECTURE,
)
def get_architecture(call: Call) -> dict[str, Any]:
    return architecture_json(_find(call))


@route(
    "POST",
    ALL,
    "Import a Keras model (the body: a .keras, .h5 or model JSON file) as a new architecture, named ``name`` "
    "or as the model is; ``functions``, a JSON object, gives the code the file lacks (custom activations and "
    "layers by name, a Lambda's function by the layer's name); what it keeps only approximately or read-only is "
    "listed in ``notes``",
    tag=TAG,
    response=obj({"architecture": ARCHITECTURE, "notes": STRINGS}),
    status=201,
    query={"name": NAME, "filename": NAME, "functions": STRING},
    upload=True,
)
async def import_architecture(call: Call) -> dict[str, Any]:
    from deepforge_panel.libraries.keras.import_worker import import_in_worker

    project = live(call)
    spool = call.upload
    assert spool is not None
    filename = call.query.get("filename") or "model"
    safe = re.sub(r"[^\w.-]", "_", Path(filename).name).lstrip(".") or "model"
    if Path(safe).suffix.lower() not in MODEL_FILES:
        safe += ".json"
    with tempfile.TemporaryDirectory(prefix="deepforge-import-") as folder:
        path = Path(folder) / safe  # the worker's messages name the file as the caller knows it
        os.replace(spool.path, path)
        spool.path = path
        arch_id, notes = await import_in_worker(project, path, call.query.get("name"), _functions(call))
    return {"architecture": architecture_json(_view(project).get(arch_id)), "notes": notes}


def _functions(call: Call) -> dict[str, str]:
    """The ``functions`` query parameter: ``{"name": "code"}``."""
    given = call.query.get("functions")
    if not given:
        return {}
    try:
        functions = json.loads(given)
    except ValueError:
        raise ApiError(400, "query parameter functions: not JSON") from None
    if not isinstance(functions, dict) or not all(isinstance(v, str) for v in functions.values()):
        raise ApiError(400, 'query parameter functions: expected {"name": "code", ...}')
    return functions


@route(
    "GET",
    ONE + "/python",
    "The architecture as a Python module defining build_model() (the code jobs run)",
    tag=TAG,
    response=None,
    produces="text/x-python",
)
def export_python(call: Call) -> None:
    from deepforge_panel.libraries.keras.io import export_python as generate

    call.handler.set_header("Content-Type", "text/x-python; charset=utf-8")
    call.handler.finish(generate(_find(call)))


@route(
    "GET",
    ONE + "/json",
    "The architecture as Keras' model.to_json() (built in a worker process: seconds, TensorFlow loads there)",
    tag=TAG,
    response=ANY_OBJECT,
)
async def export_json(call: Call) -> dict[str, Any]:
    from deepforge_panel.libraries.keras.io import export_python as generate

    arch = _find(call)
    return await _model_json(generate(arch), arch.name)


BUILD = (
    "import json, sys\n"
    "from deepforge_panel.libraries.keras.codegen import load_generated\n"
    "model = load_generated(sys.stdin.read(), sys.argv[1]).build_model()\n"
    "print('\\n' + json.dumps({'model': json.loads(model.to_json())}))\n"
)


async def _model_json(code: str, name: str) -> dict[str, Any]:
    """What ``model.to_json()`` gives for the model ``code`` builds, run in a process of its own."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        BUILD,
        name,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(code.encode()), EXPORT_TIMEOUT)
    except (TimeoutError, asyncio.CancelledError):
        process.kill()
        await process.wait()
        raise
    lines = stdout.decode(errors="replace").strip().splitlines()
    try:
        return json.loads(lines[-1])["model"]
    except (IndexError, ValueError, KeyError, TypeError):
        tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-5:])
        raise ApiError(400, f"architecture {name!r} does not build: {tail}") from None
