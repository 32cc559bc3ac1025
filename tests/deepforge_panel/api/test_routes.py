"""Every route of the OpenAPI document, against the running server: valid input answers what the document
says (the body checked against the route's schema), invalid input a 4xx with a clear message and nothing
changed, no token a 401; and no route of the document goes untested (the table below must cover it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest

from deepforge_panel.client import Client
from tests.conftest import wait_until
from tests.deepforge_panel.api.conftest import call
from tests.deepforge_panel.api.models import ODD, TINY
from tests.servers import Server


@dataclass
class Req:
    method: str
    path: str
    body: Any = None
    status: int = 200
    says: str = ""
    """A fragment the refusal's message must hold."""
    raw: bytes | None = None
    """An upload's body (instead of ``body`` as JSON)."""


@dataclass
class Ctx:
    server: Server
    client: Client
    project: str
    done: list[str] = field(default_factory=list)

    def ran(self) -> str:
        """An ended execution of ``chain`` in this project (run once)."""
        if not self.done:
            execution = self.client.run(self.project, "chain")
            self.done.append(self.client.wait(self.project, execution["id"], timeout=120)["id"])
        return self.done[0]

    def artifact(self) -> str:
        self.ran()
        return self.client.artifacts(self.project)[-1]["id"]

    def digits(self) -> str:
        """A fork of the digits example (it has architectures)."""
        self.client.fork_project("digits", self.project + "-digits")
        return self.project + "-digits"

    def node(self, pipeline: str, name: str) -> str:
        return next(n["id"] for n in self.client.pipeline(self.project, pipeline)["nodes"] if n["name"] == name)


Case = Callable[[Ctx], tuple[Req, list[Req]]]
CASES: dict[tuple[str, str], Case] = {}


def case(method: str, path: str) -> Callable[[Case], Case]:
    def declare(func: Case) -> Case:
        CASES[(method, "/api/v1" + path)] = func
        return func

    return declare


P = "/projects/{project}"


@case("GET", "/openapi.json")
def _openapi(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", "/openapi.json"), [Req("GET", "/openapi.json?bogus=1", status=400, says="unknown query")]


@case("GET", "/projects")
def _projects(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", "/projects"), [Req("GET", "/projects?bogus=1", status=400, says="bogus")]


@case("GET", P)
def _project(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.project}"), [Req("GET", "/projects/nope", status=404, says="no project 'nope'")]


@case("POST", "/projects")
def _create(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("POST", "/projects", {"name": c.project + "-new"}, 201), [
        Req("POST", "/projects", {"name": ""}, 400, "must not be empty"),
        Req("POST", "/projects", {"name": "../up"}, 400, "invalid project name"),
        Req("POST", "/projects", {"name": c.project}, 400, "already exists"),
        Req("POST", "/projects", {}, 400, "'name' is required"),
        Req("POST", "/projects", {"name": "x", "extra": 1}, 400, "unknown field 'extra'"),
    ]


@case("POST", P + "/fork")
def _fork(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("POST", f"/projects/{c.project}/fork", {"name": c.project + "-fork"}, 201), [
        Req("POST", f"/projects/{c.project}/fork", {"name": c.project}, 400, "already exists"),
        Req("POST", "/projects/nope/fork", {"name": "other"}, 404, "no project"),
    ]


@case("DELETE", P)
def _delete(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("DELETE", f"/projects/{c.project}"), [Req("DELETE", "/projects/nope", status=404, says="no project")]


@case("GET", P + "/operations")
def _operations(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.project}/operations"), [Req("GET", "/projects/nope/operations", status=404)]


@case("GET", P + "/operations/{operation}")
def _operation(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.project}/operations/Add"), [
        Req("GET", f"/projects/{c.project}/operations/Nope", status=404, says="no operation 'Nope'")
    ]


NEW_OP = "class Double:\n    def execute(self, data):\n        result = data * 2\n        return result\n"


@case("POST", P + "/operations")
def _create_operation(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/operations"
    return Req("POST", path, {"code": NEW_OP}, 201), [
        Req("POST", path, {"code": 5}, 400, "body.code: expected string"),
        Req("POST", path, {"name": "has space"}, 400, "a new operation's name is a class name"),
        Req("POST", path, {"code": NEW_OP, "references": ["nope"]}, 400, "no __init__ parameter 'nope'"),
    ]


@case("PATCH", P + "/operations/{operation}")
def _update_operation(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/operations/Add"
    code = c.client.operation(c.project, "Add")["code"].replace("amount: int = 1", "amount: int = 7")
    return Req("PATCH", path, {"code": code}), [
        Req("PATCH", path, {"code": code, "references": ["nope"]}, 400, "no __init__ parameter 'nope'"),
        Req("PATCH", f"/projects/{c.project}/operations/Nope", {"code": code}, 404),
    ]


@case("DELETE", P + "/operations/{operation}")
def _delete_operation(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("DELETE", f"/projects/{c.project}/operations/Slow"), [
        Req("DELETE", f"/projects/{c.project}/operations/Source", status=400, says="is used by pipelines ['chain']")
    ]


@case("GET", P + "/pipelines")
def _pipelines(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.project}/pipelines"), [Req("GET", "/projects/nope/pipelines", status=404)]


@case("GET", P + "/pipelines/{pipeline}")
def _pipeline(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.project}/pipelines/chain"), [
        Req("GET", f"/projects/{c.project}/pipelines/nope", status=404, says="no pipeline 'nope'")
    ]


@case("POST", P + "/pipelines")
def _create_pipeline(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/pipelines"
    return Req("POST", path, {"name": "second"}, 201), [
        Req("POST", path, {"name": "chain"}, 400, "already exists"),
        Req("POST", path, {"name": "a/b\n"}, 400, "not allowed"),
    ]


@case("PATCH", P + "/pipelines/{pipeline}")
def _rename_pipeline(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/pipelines/chain"
    return Req("PATCH", path, {"name": "renamed"}), [Req("PATCH", path, {"name": 3}, 400, "expected string")]


@case("DELETE", P + "/pipelines/{pipeline}")
def _delete_pipeline(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("DELETE", f"/projects/{c.project}/pipelines/chain"), [
        Req("DELETE", f"/projects/{c.project}/pipelines/nope", status=404)
    ]


@case("POST", P + "/pipelines/{pipeline}/nodes")
def _add_node(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/pipelines/chain/nodes"
    return Req("POST", path, {"operation": "Add", "attributes": {"amount": 3}, "x": 10, "y": 20}, 201), [
        Req("POST", path, {"operation": "Add", "attributes": {"amount": "three"}}, 400, "add_2.amount = 'three'"),
        Req("POST", path, {"operation": "Add", "attributes": {"nope": 1}}, 400, "has no attribute 'nope'"),
        Req("POST", path, {"operation": "Nope"}, 404, "no operation 'Nope'"),
        Req("POST", path, {"operation": "Add", "name": "source"}, 400, "already has a node named 'source'"),
    ]


@case("PATCH", P + "/pipelines/{pipeline}/nodes/{node}")
def _update_node(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/pipelines/chain/nodes/add"
    return Req("PATCH", path, {"attributes": {"amount": 5}, "name": "plus", "x": 1.5}), [
        Req("PATCH", path, {"name": "plus", "attributes": {"amount": "bad"}}, 400, "add.amount = 'bad'"),
        Req("PATCH", path, {"name": "source"}, 400, "already has a node named 'source'"),
        Req("PATCH", path, {"limits": {"time_s": -1}}, 400, "must be above 0"),
        Req("PATCH", path, {"references": {"model": "keras:x"}}, 400, "has no reference 'model'"),
        Req("PATCH", f"/projects/{c.project}/pipelines/chain/nodes/nope", {"x": 1}, 400, "has no node 'nope'"),
    ]


@case("DELETE", P + "/pipelines/{pipeline}/nodes/{node}")
def _remove_node(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/pipelines/chain/nodes"
    return Req("DELETE", path + "/add"), [Req("DELETE", path + "/nope", status=400, says="has no node 'nope'")]


@case("POST", P + "/pipelines/{pipeline}/connections")
def _connect(c: Ctx) -> tuple[Req, list[Req]]:
    c.client.add_node(c.project, "chain", "Add", name="more")
    path = f"/projects/{c.project}/pipelines/chain/connections"
    edge = {"src": "add", "src_port": "result", "dst": "more", "dst_port": "data"}
    return Req("POST", path, edge, 201), [
        Req("POST", path, {**edge, "src": "more", "dst": "source"}, 400, "has no input 'data'"),
        Req("POST", path, {**edge, "src": "add", "dst": "add"}, 400, "would make a cycle"),
        Req("POST", path, {**edge, "src_port": "nope"}, 400, "add has no output 'nope' (outputs: ['result'])"),
        Req("POST", path, {**edge, "src": "source", "src_port": "data", "dst": "add"}, 400, "is already connected"),
        Req("POST", path, {"src": "add"}, 400, "'src_port' is required"),
    ]


@case("DELETE", P + "/pipelines/{pipeline}/connections/{connection}")
def _disconnect(c: Ctx) -> tuple[Req, list[Req]]:
    edge = c.client.pipeline(c.project, "chain")["connections"][0]["id"]
    path = f"/projects/{c.project}/pipelines/chain/connections"
    return Req("DELETE", f"{path}/{edge}"), [Req("DELETE", f"{path}/nope", status=404, says="no connection 'nope'")]


@case("POST", P + "/pipelines/{pipeline}/executions")
def _run(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/pipelines/chain/executions"
    return Req("POST", path, {"overrides": {"source": {"value": 5}}, "author": "script"}, 201), [
        Req("POST", path, {"overrides": {"nope": {"value": 1}}}, 400, "names no node 'nope'"),
        Req("POST", path, {"overrides": {"source": {"value": "x"}}}, 400, "source.value = 'x'"),
        Req("POST", path, {"compute": "slurm"}, 400, "must be one of"),
        Req("POST", f"/projects/{c.project}/pipelines/nope/executions", {}, 404),
    ]


@case("GET", P + "/executions")
def _executions(c: Ctx) -> tuple[Req, list[Req]]:
    c.ran()
    path = f"/projects/{c.project}/executions"
    return Req("GET", path + "?pipeline=chain"), [Req("GET", path + "?pipeline=nope", status=404)]


@case("GET", P + "/executions/{execution}")
def _execution(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/executions"
    return Req("GET", f"{path}/{c.ran()}"), [Req("GET", f"{path}/nope", status=404, says="no execution 'nope'")]


@case("POST", P + "/executions/{execution}/cancel")
def _cancel(c: Ctx) -> tuple[Req, list[Req]]:
    done = c.ran()
    c.client.add_node(c.project, "chain", "Slow", name="slow", attributes={"lines": 100, "pause": 0.5})
    c.client.connect(c.project, "chain", "add", "result", "slow", "data")
    running = c.client.run(c.project, "chain")["id"]
    wait_until(lambda: c.client.execution(c.project, running)["status"] == "running", timeout=30)
    path = f"/projects/{c.project}/executions"
    return Req("POST", f"{path}/{running}/cancel"), [
        Req("POST", f"{path}/{done}/cancel", status=409, says="has already ended"),
        Req("POST", f"{path}/nope/cancel", status=404),
    ]


@case("GET", P + "/executions/{execution}/events")
def _events(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/executions"
    return Req("GET", f"{path}/{c.ran()}/events"), [Req("GET", f"{path}/nope/events", status=404)]


@case("GET", P + "/artifacts")
def _artifacts(c: Ctx) -> tuple[Req, list[Req]]:
    c.ran()
    path = f"/projects/{c.project}/artifacts"
    return Req("GET", path + "?name=add.result"), [Req("GET", path + "?bogus=1", status=400)]


@case("GET", P + "/artifacts/{artifact}")
def _artifact(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/artifacts"
    return Req("GET", f"{path}/{c.artifact()}"), [Req("GET", f"{path}/nope", status=404, says="no artifact 'nope'")]


@case("GET", P + "/artifacts/{artifact}/content")
def _download(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/artifacts"
    return Req("GET", f"{path}/{c.artifact()}/content"), [Req("GET", f"{path}/nope/content", status=404)]


@case("POST", P + "/artifacts")
def _upload(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/artifacts"
    return Req("POST", path + "?name=notes&filename=notes.txt", status=201, raw=b"some notes"), [
        Req("POST", path, status=400, says="query parameter 'name' is required", raw=b"x"),
        Req("POST", path + "?name=a%2Fb", status=400, says="artifact name 'a/b' is not allowed", raw=b"x"),
        Req("POST", path + "?name=x&bogus=1", status=400, says="unknown query parameter 'bogus'", raw=b"x"),
        Req("POST", "/projects/nope/artifacts?name=x", status=404, raw=b"x"),
    ]


@case("GET", P + "/architectures")
def _architectures(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.digits()}/architectures"), [Req("GET", "/projects/nope/architectures", status=404)]


@case("GET", P + "/architectures/{architecture}")
def _architecture(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.digits()}/architectures"
    return Req("GET", f"{path}/digits-cnn"), [Req("GET", f"{path}/nope", status=404, says="no architecture 'nope'")]


@case("POST", P + "/architectures")
def _import(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/architectures"
    tiny, odd = json.dumps(TINY).encode(), json.dumps(ODD).encode()
    return Req("POST", path + "?filename=tiny.json", status=201, raw=tiny), [
        Req("POST", path + "?filename=odd.json", status=400, says="layer 'm': unknown layer type 'Mystery'", raw=odd),
        Req("POST", path, status=400, says="not a .keras file or a model's JSON", raw=b"\x00\x01binary"),
        Req("POST", path + "?functions=%5B1%5D", status=400, says='expected {"name": "code"', raw=tiny),
    ]


@case("GET", P + "/architectures/{architecture}/python")
def _python(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.digits()}/architectures"
    return Req("GET", f"{path}/digits-cnn/python"), [Req("GET", f"{path}/nope/python", status=404)]


@case("GET", P + "/architectures/{architecture}/json")
def _json(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.digits()}/architectures"
    return Req("GET", f"{path}/digits-cnn/json"), [Req("GET", f"{path}/nope/json", status=404)]


@case("GET", P + "/commits")
def _log(c: Ctx) -> tuple[Req, list[Req]]:
    return Req("GET", f"/projects/{c.project}/commits"), [Req("GET", "/projects/nope/commits", status=404)]


@case("POST", P + "/commits")
def _commit(c: Ctx) -> tuple[Req, list[Req]]:
    path = f"/projects/{c.project}/commits"
    return Req("POST", path, {"message": "by a script", "author": "bot"}, 201), [
        Req("POST", path, {"message": "   "}, 400, "a commit needs a message"),
        Req("POST", path, {"author": "bot"}, 400, "'message' is required"),
    ]


@case("POST", P + "/restore")
def _restore(c: Ctx) -> tuple[Req, list[Req]]:
    first = c.client.log(c.project)[-1]["id"]
    path = f"/projects/{c.project}/restore"
    return Req("POST", path, {"commit": first}, 201), [Req("POST", path, {"commit": "nope"}, 404, "no commit 'nope'")]


# -- the checks ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def document(server: Server) -> dict[str, Any]:
    status, _, body = call(server, "GET", "/openapi.json")
    assert status == 200
    return body


def _declared(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method.lower()]


def _snapshot(client: Client, project: str) -> Any:
    """The design and history of a project, and the home's projects: what a refused request must not change."""
    names = sorted(p["name"] for p in client.projects())
    if project not in names:
        return names
    pipelines = [client.pipeline(project, p["id"]) for p in client.pipelines(project)]
    return names, client.operations(project), pipelines, len(client.log(project))


def test_the_table_covers_every_route_of_the_document(document: dict[str, Any]) -> None:
    served = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert served == set(CASES), (served - set(CASES), set(CASES) - served)


def test_every_route_refuses_a_request_without_the_token_as_json(server: Server, document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method in item:
            concrete = path.removeprefix("/api/v1").replace("{", "").replace("}", "")
            status, kind, body = call(server, method.upper(), concrete, token=None)
            assert status == 401, (method, path, status)
            assert kind.startswith("application/json") and "token" in body["error"], body
            status, _, body = call(server, method.upper(), concrete, token="wrong")
            assert status == 401, (method, path, status)
            assert "401" in item[method]["responses"]


def test_a_project_s_share_token_opens_no_api_route(server: Server, base: str) -> None:
    from deepforge_panel.crdt import Home

    share = Home(server.home).share_token(base)
    for path in ("/projects", f"/projects/{base}/pipelines"):
        status, kind, body = call(server, "GET", path, token=share)
        assert (status, kind.split(";")[0]) == (403, "application/json"), (path, status)
        assert "sync and peer routes only" in body["error"]


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1].removeprefix('/api/v1')}")
def test_route(route: tuple[str, str], server: Server, client: Client, project: str, document: dict[str, Any]) -> None:
    method, template = route
    operation = _declared(document, method, template)
    valid, invalid = CASES[route](Ctx(server, client, project))
    for refused in invalid:
        assert str(refused.status) in operation["responses"], f"{method} {template} does not declare {refused.status}"
        before = _snapshot(client, project)
        status, kind, body = call(server, refused.method, refused.path, refused.body, raw=refused.raw)
        assert status == refused.status, (refused, status, body)
        assert kind.startswith("application/json"), kind
        jsonschema.validate(body, operation["responses"][str(status)]["content"]["application/json"]["schema"])
        assert refused.says in body["error"], (refused, body["error"])
        assert _snapshot(client, project) == before, f"{refused} changed the project"
    status, kind, body = call(server, valid.method, valid.path, valid.body, raw=valid.raw)
    success = next(code for code in operation["responses"] if code.startswith("2"))
    assert status == int(success), (valid, status, body)
    (produced,) = operation["responses"][success]["content"]
    assert kind.split(";")[0] == produced, (kind, produced)
    if produced == "application/json":
        jsonschema.validate(body, operation["responses"][success]["content"]["application/json"]["schema"])
    elif produced == "text/event-stream":
        blocks = body.decode().strip().split("\n\n")
        assert blocks[0].startswith("event: job") and blocks[-1].startswith("event: end"), blocks
    elif produced == "text/x-python":
        assert "def build_model(" in body.decode()
    else:
        assert body.startswith(b"deepforge:"), body[:40]


def test_a_method_a_path_does_not_declare_and_a_body_that_is_not_json_are_refused_as_json(server: Server) -> None:
    status, kind, body = call(server, "PUT", "/projects")
    assert (status, kind.split(";")[0]) == (405, "application/json") and "PUT is not allowed" in body["error"]
    status, _, body = call(server, "POST", "/projects", raw=b"{name: x")
    assert status == 400 and body["error"] == "the request body is not JSON"
    status, _, body = call(server, "GET", "/nowhere")
    assert status == 404 and body["error"].startswith("no API route /api/v1/nowhere")
