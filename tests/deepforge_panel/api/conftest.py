"""The REST API against the real server (``deepforge-panel serve`` on loopback) and its Python client."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from deepforge_panel.client import Client
from tests.deepforge_panel.api.models import SLOW
from tests.deepforge_panel.helpers import ADD, SOURCE
from tests.servers import Server

_forks = itertools.count()

BASE = "api-base"
"""A project with operations Source, Add and Slow and pipeline ``chain`` (source -> add), committed."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("api") / "home")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return Client(server.url, server.token, timeout=60)


@pytest.fixture(scope="module")
def base(client: Client) -> str:
    client.create_project(BASE)
    for code in (SOURCE, ADD, SLOW):
        client.create_operation(BASE, code)
    client.create_pipeline(BASE, "chain")
    client.add_node(BASE, "chain", "Source", name="source", attributes={"value": 2})
    client.add_node(BASE, "chain", "Add", name="add", x=200)
    client.connect(BASE, "chain", "source", "data", "add", "data")
    client.commit(BASE, "operations and the chain pipeline")
    return BASE


@pytest.fixture
def project(client: Client, base: str, request: pytest.FixtureRequest) -> str:
    """A fresh fork of the base project for one test."""
    name = f"t{next(_forks)}-" + "".join(ch if ch.isalnum() else "-" for ch in request.node.name)[:50]
    client.fork_project(base, name)
    return name


def call(
    server: Server, method: str, path: str, body: Any = None, *, token: str | None = "server", raw: bytes | None = None
) -> tuple[int, str, Any]:
    """A request to ``/api/v1`` + ``path`` with a JSON ``body`` or ``raw`` bytes: (status, content type, the
    response's body as JSON, or bytes when not JSON)."""
    request = urllib.request.Request(
        server.url.rstrip("/") + "/api/v1" + path,
        data=raw if raw is not None else None if body is None else json.dumps(body).encode(),
        method=method,
    )
    if token is not None:
        request.add_header("Authorization", f"token {server.token if token == 'server' else token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, kind, raw = response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        status, kind, raw = error.code, error.headers.get("Content-Type", ""), error.read()
    return status, kind, json.loads(raw) if kind.startswith("application/json") else raw
