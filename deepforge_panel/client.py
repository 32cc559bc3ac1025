"""A small client of the workbench's REST API (``/api/v1``), on the standard library only.

>>> from deepforge_panel.client import Client
>>> wb = Client("http://127.0.0.1:5006/", token)          # the token: <home>/token, or the ?token= of the URL
>>> run = wb.run("digits", "train-cnn", overrides={"train": {"epochs": 1}})
>>> for event in wb.events("digits", run["id"]):           # server-sent events, until the run ends
...     print(event.kind, event.data)

Every method returns the API's JSON (dicts and lists, as ``/api/v1/openapi.json`` describes);
a refusal raises :class:`ApiError` with the server's message and HTTP status.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

__all__ = ["ApiError", "Client", "Event"]

FINAL = frozenset({"succeeded", "cached", "failed", "cancelled", "skipped"})


class ApiError(Exception):
    """The server refused a request: ``status`` is the HTTP status, the message the server's reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Event:
    """One server-sent event of an execution: ``kind`` (execution, job, console, end) and its ``data``."""

    kind: str
    data: dict[str, Any]


def _part(value: str) -> str:
    return quote(str(value), safe="")


class Client:
    """Drives a workbench over its REST API: ``Client(url, token)``; ``url`` may be the printed ``?token=`` link."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
        self.token = token or query.get("token", "")
        if not self.token:
            raise ValueError("give the workbench's token (its <home>/token file, or the ?token= of its URL)")
        self.base = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/api/v1", "", ""))
        self.timeout = timeout

    # -- transport ------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        response = self._open(method, path, body, query)
        with response:
            data = response.read()
        return json.loads(data) if data else None

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, Any] | None = None,
        timeout: float | None = None,
        upload: BinaryIO | bytes | None = None,
    ) -> Any:
        url = self.base + path
        given = {k: v for k, v in (query or {}).items() if v is not None}
        if given:
            url += "?" + urlencode(given)
        data: Any = None if body is None else json.dumps(body).encode()
        if upload is not None:
            data = upload
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        if upload is not None:  # a file goes in blocks, never read whole
            size = len(upload) if isinstance(upload, bytes) else os.fstat(upload.fileno()).st_size - upload.tell()
            request.add_header("Content-Type", "application/octet-stream")
            request.add_header("Content-Length", str(size))
        elif data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            return urllib.request.urlopen(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                message = json.loads(raw)["error"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace") or str(error.reason)
            raise ApiError(error.code, message) from None

    def openapi(self) -> dict[str, Any]:
        """The API's OpenAPI document."""
        return self._request("GET", "/openapi.json")

    # -- projects -------------------------------------------------------------------------
    def projects(self) -> list[dict[str, Any]]:
        return self._request("GET", "/projects")

    def project(self, project: str) -> dict[str, Any]:
        return self._request("GET", f"/projects/{_part(project)}")

    def create_project(self, name: str) -> dict[str, Any]:
        return self._request("POST", "/projects", {"name": name})

    def fork_project(self, project: str, name: str) -> dict[str, Any]:
        return self._request("POST", f"/projects/{_part(project)}/fork", {"name": name})

    def delete_project(self, project: str) -> dict[str, Any]:
        return self._request("DELETE", f"/projects/{_part(project)}")

    # -- operations -----------------------------------------------------------------------
    def operations(self, project: str) -> list[dict[str, Any]]:
        return self._request("GET", f"/projects/{_part(project)}/operations")

    def operation(self, project: str, operation: str) -> dict[str, Any]:
        return self._request("GET", f"/projects/{_part(project)}/operations/{_part(operation)}")

    def create_operation(
        self, project: str, code: str | None = None, *, name: str | None = None, references: list[str] | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"code": code, "name": name, "references": references}.items() if v is not None}
        return self._request("POST", f"/projects/{_part(project)}/operations", body)

    def update_operation(
        self, project: str, operation: str, *, code: str | None = None, references: list[str] | None = None
    ) -> dict[str, Any]:
        body = {k: v for k, v in {"code": code, "references": references}.items() if v is not None}
        return self._request("PATCH", f"/projects/{_part(project)}/operations/{_part(operation)}", body)

    def delete_operation(self, project: str, operation: str) -> dict[str, Any]:
        return self._request("DELETE", f"/projects/{_part(project)}/operations/{_part(operation)}")

    # -- pipelines ------------------------------------------------------------------------
    def _pipeline(self, project: str, pipeline: str) -> str:
        return f"/projects/{_part(project)}/pipelines/{_part(pipeline)}"

    def pipelines(self, project: str) -> list[dict[str, Any]]:
        return self._request("GET", f"/projects/{_part(project)}/pipelines")

    def pipeline(self, project: str, pipeline: str) -> dict[str, Any]:
        return self._request("GET", self._pipeline(project, pipeline))

    def create_pipeline(self, project: str, name: str) -> dict[str, Any]:
        return self._request("POST", f"/projects/{_part(project)}/pipelines", {"name": name})

    def rename_pipeline(self, project: str, pipeline: str, name: str) -> dict[str, Any]:
        return self._request("PATCH", self._pipeline(project, pipeline), {"name": name})

    def delete_pipeline(self, project: str, pipeline: str) -> dict[str, Any]:
        return self._request("DELETE", self._pipeline(project, pipeline))

    def add_node(
        self,
        project: str,
        pipeline: str,
        operation: str,
        *,
        name: str | None = None,
        attributes: dict[str, Any] | None = None,
        x: float = 0.0,
        y: float = 0.0,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"operation": operation, "x": x, "y": y}
        if name is not None:
            body["name"] = name
        if attributes:
            body["attributes"] = attributes
        return self._request("POST", self._pipeline(project, pipeline) + "/nodes", body)

    def update_node(self, project: str, pipeline: str, node: str, **changes: Any) -> dict[str, Any]:
        """Change a node: ``attributes={...}``, ``references={...}``, ``name=``, ``x=``, ``y=``, ``limits={...}``."""
        return self._request("PATCH", self._pipeline(project, pipeline) + f"/nodes/{_part(node)}", changes)

    def set_attributes(self, project: str, pipeline: str, node: str, **values: Any) -> dict[str, Any]:
        return self.update_node(project, pipeline, node, attributes=values)

    def remove_node(self, project: str, pipeline: str, node: str) -> dict[str, Any]:
        return self._request("DELETE", self._pipeline(project, pipeline) + f"/nodes/{_part(node)}")

    def connect(self, project: str, pipeline: str, src: str, src_port: str, dst: str, dst_port: str) -> dict[str, Any]:
        """Connect output ``src.src_port`` to input ``dst.dst_port`` (nodes by name or id)."""
        body = {"src": src, "src_port": src_port, "dst": dst, "dst_port": dst_port}
        return self._request("POST", self._pipeline(project, pipeline) + "/connections", body)

    def disconnect(self, project: str, pipeline: str, connection: str) -> dict[str, Any]:
        return self._request("DELETE", self._pipeline(project, pipeline) + f"/connections/{_part(connection)}")

    # -- executions -----------------------------------------------------------------------
    def run(
        self,
        project: str,
        pipeline: str,
        overrides: dict[str, dict[str, Any]] | None = None,
        *,
        cache: bool = True,
        compute: str | None = None,
        author: str | None = None,
    ) -> dict[str, Any]:
        """Start ``pipeline``, attributes overridden by node name (``{"train": {"epochs": 2}}``); returns at once."""
        body: dict[str, Any] = {"cache": cache}
        for key, value in {"overrides": overrides, "compute": compute, "author": author}.items():
            if value is not None:
                body[key] = value
        return self._request("POST", self._pipeline(project, pipeline) + "/executions", body)

    def executions(self, project: str, pipeline: str | None = None) -> list[dict[str, Any]]:
        return self._request("GET", f"/projects/{_part(project)}/executions", query={"pipeline": pipeline})

    def execution(self, project: str, execution: str) -> dict[str, Any]:
        return self._request("GET", f"/projects/{_part(project)}/executions/{_part(execution)}")

    def cancel(self, project: str, execution: str) -> dict[str, Any]:
        return self._request("POST", f"/projects/{_part(project)}/executions/{_part(execution)}/cancel")

    def events(self, project: str, execution: str, *, timeout: float | None = None) -> Iterator[Event]:
        """The execution's events as they happen (what happened so far first), ending with its ``end`` event.
        ``timeout`` bounds the wait for each read (default: the client's)."""
        path = f"/projects/{_part(project)}/executions/{_part(execution)}/events"
        with self._open("GET", path, timeout=timeout) as response:
            kind, data = "message", []
            for raw in response:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith(":"):
                    continue
                if line:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        kind = value
                    elif field == "data":
                        data.append(value)
                    continue
                if data:
                    yield Event(kind, json.loads("\n".join(data)))
                kind, data = "message", []

    def wait(self, project: str, execution: str, timeout: float = 600.0) -> dict[str, Any]:
        """Wait for the execution to end; its final record. TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.execution(project, execution)
            if record["status"] in FINAL:
                return record
            for event in self.events(project, execution, timeout=max(1.0, deadline - time.monotonic())):
                if event.kind == "end":
                    break
        raise TimeoutError(f"execution {execution} did not end within {timeout} s")

    # -- artifacts ------------------------------------------------------------------------
    def artifacts(self, project: str, name: str | None = None) -> list[dict[str, Any]]:
        return self._request("GET", f"/projects/{_part(project)}/artifacts", query={"name": name})

    def artifact(self, project: str, artifact: str) -> dict[str, Any]:
        """An artifact by id, or the newest of that name, with its provenance."""
        return self._request("GET", f"/projects/{_part(project)}/artifacts/{_part(artifact)}")

    def download(self, project: str, artifact: str) -> bytes:
        """The artifact's stored bytes."""
        with self._open("GET", self._content(project, artifact)) as response:
            return response.read()

    def download_to(self, project: str, artifact: str, path: str | Path) -> Path:
        """The artifact's stored bytes written to ``path`` as they arrive (an artifact of any size)."""
        with self._open("GET", self._content(project, artifact)) as response, open(path, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
        return Path(path)

    @staticmethod
    def _content(project: str, artifact: str) -> str:
        return f"/projects/{_part(project)}/artifacts/{_part(artifact)}/content"

    def upload(self, project: str, name: str, source: str | Path | bytes, *, type: str | None = None) -> dict[str, Any]:
        """A file (a path, streamed) or bytes as a new artifact ``name``; an operation given it receives its bytes.
        What :meth:`download` gave is stored as it was (the same artifact content)."""
        path = f"/projects/{_part(project)}/artifacts"
        if isinstance(source, bytes):
            return self._upload(path, source, {"name": name, "type": type})
        with open(source, "rb") as file:
            return self._upload(path, file, {"name": name, "type": type, "filename": Path(source).name})

    def _upload(self, path: str, data: BinaryIO | bytes, query: dict[str, Any]) -> Any:
        with self._open("POST", path, query=query, upload=data) as response:
            return json.loads(response.read())

    # -- architectures ----------------------------------------------------------------------
    def architectures(self, project: str) -> list[dict[str, Any]]:
        return self._request("GET", f"/projects/{_part(project)}/architectures")

    def architecture(self, project: str, architecture: str) -> dict[str, Any]:
        return self._request("GET", f"/projects/{_part(project)}/architectures/{_part(architecture)}")

    def import_architecture(
        self,
        project: str,
        source: str | Path | bytes,
        name: str | None = None,
        *,
        filename: str | None = None,
        functions: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Keras model (a ``.keras``, ``.h5`` or JSON file, or its bytes) as a new architecture; ``functions``
        gives the code the file lacks (``{"Scale": "class Scale(keras.layers.Layer): ..."}``). Returns
        ``{"architecture": ..., "notes": [...]}`` (what is kept only approximately or read-only)."""
        path = f"/projects/{_part(project)}/architectures"
        query = {"name": name, "functions": json.dumps(functions) if functions else None}
        if isinstance(source, bytes):
            return self._upload(path, source, {**query, "filename": filename})
        with open(source, "rb") as file:
            return self._upload(path, file, {**query, "filename": filename or Path(source).name})

    def export_python(self, project: str, architecture: str) -> str:
        """The architecture as a Python module defining ``build_model()``."""
        path = f"/projects/{_part(project)}/architectures/{_part(architecture)}/python"
        with self._open("GET", path) as response:
            return response.read().decode("utf-8")

    def export_json(self, project: str, architecture: str) -> dict[str, Any]:
        """The architecture as Keras' ``model.to_json()`` (``keras.models.model_from_json(json.dumps(...))``)."""
        return self._request("GET", f"/projects/{_part(project)}/architectures/{_part(architecture)}/json")

    # -- history --------------------------------------------------------------------------
    def log(self, project: str) -> list[dict[str, Any]]:
        return self._request("GET", f"/projects/{_part(project)}/commits")

    def commit(self, project: str, message: str, author: str | None = None) -> dict[str, Any]:
        body = {"message": message, **({"author": author} if author else {})}
        return self._request("POST", f"/projects/{_part(project)}/commits", body)

    def restore(self, project: str, commit: str, author: str | None = None) -> dict[str, Any]:
        body = {"commit": commit, **({"author": author} if author else {})}
        return self._request("POST", f"/projects/{_part(project)}/restore", body)
