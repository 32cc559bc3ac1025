"""A model import planned in a worker process, so the server that asks for it never imports TensorFlow.

    python -m deepforge_panel.libraries.keras.import_worker   # one JSON request on stdin

The request is ``{"path", "name", "functions"}``; the worker's one line of reply is
``{"architecture": payload, "notes": [...]}`` (the plan as :func:`shapes.to_payload` writes it, whole)
or ``{"error": str, "element": str | None}``. The caller writes the plan with
:meth:`ArchitecturesView.insert`, as :func:`io.import_model` does in process: planning and writing
are the same two steps either way.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepforge_panel.libraries.keras.architectures import Architecture, ArchitectureError, ArchitecturesView
from deepforge_panel.libraries.keras.shapes import from_payload, to_payload

if TYPE_CHECKING:
    from deepforge_panel.crdt import Id
    from deepforge_panel.project import Project

__all__ = ["import_in_worker", "plan_in_worker"]

WORKER = [sys.executable, "-m", "deepforge_panel.libraries.keras.import_worker"]
TIMEOUT = 300.0
"""Seconds a plan may take (Keras' own import is most of it; a 430-layer model plans in well under one)."""


async def plan_in_worker(
    path: str | Path, name: str | None = None, functions: dict[str, str] | None = None
) -> tuple[Architecture, list[str]]:
    """The architecture a model file describes, and what it keeps only approximately; ArchitectureError naming the misfit."""
    request = json.dumps({"path": str(path), "name": name, "functions": functions or {}}).encode()
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "CUDA_VISIBLE_DEVICES": "-1",
    }
    process = await asyncio.create_subprocess_exec(
        *WORKER, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(request), TIMEOUT)
    except (TimeoutError, asyncio.CancelledError) as exc:
        process.kill()
        await process.wait()
        if isinstance(exc, asyncio.CancelledError):
            raise
        raise ArchitectureError(f"importing {Path(path).name} took more than {TIMEOUT:.0f} s") from None
    lines = stdout.decode(errors="replace").strip().splitlines()
    try:
        reply = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-5:])
        raise ArchitectureError(f"the import worker failed (exit code {process.returncode}): {tail}") from None
    if "error" in reply:
        raise ArchitectureError(reply["error"], reply.get("element"))
    return from_payload(reply["architecture"]), list(reply.get("notes") or [])


async def import_in_worker(
    project: Project, path: str | Path, name: str | None = None, functions: dict[str, str] | None = None
) -> tuple[Id, list[str]]:
    """:func:`io.import_model` for the server: planned in a worker, written here; the new id and the notes."""
    arch, notes = await plan_in_worker(path, name, functions)
    return ArchitecturesView(project).insert(arch), notes


def _answer(request: dict[str, Any]) -> dict[str, Any]:
    from deepforge_panel.libraries.keras.importer import plan_architecture
    from deepforge_panel.libraries.keras.io import read_model_config
    from deepforge_panel.names import check_name

    try:
        config = read_model_config(Path(request["path"]))
        name = request.get("name") or config["config"].get("name") or "model"
        check_name("architecture", name, ArchitectureError)
        notes: list[str] = []
        arch = plan_architecture(config, name, dict(request.get("functions") or {}), notes)
    except (ArchitectureError, FileNotFoundError) as exc:
        return {"error": str(exc), "element": getattr(exc, "element", None)}
    return {"architecture": to_payload(arch, whole=True), "notes": notes}


def main() -> None:
    from deepforge_panel.libraries.keras.shape_worker import private_stdout

    out = private_stdout()
    try:
        request = json.loads(sys.stdin.read())
    except ValueError as exc:
        reply: dict[str, Any] = {"error": f"malformed request: {exc}"}
    else:
        reply = _answer(request) if isinstance(request, dict) else {"error": "expected an object"}
    out.write(json.dumps(reply) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
