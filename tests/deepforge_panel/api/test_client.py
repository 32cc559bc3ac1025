"""A pipeline built, run and inspected entirely through the Python client, against the running server."""

from __future__ import annotations

import pickle

import pytest

from deepforge_panel.client import ApiError, Client
from tests.deepforge_panel.helpers import ADD, PAIR, SOURCE
from tests.servers import Server


def test_a_pipeline_built_and_run_through_the_client(client: Client) -> None:
    client.create_project("by-client")
    first = client.log("by-client")[0]["id"]
    for code in (SOURCE, ADD, PAIR):
        assert client.create_operation("by-client", code)["error"] is None
    client.create_pipeline("by-client", "sum")
    client.add_node("by-client", "sum", "Source", name="one", attributes={"value": 1})
    client.add_node("by-client", "sum", "Source", name="two")
    client.add_node("by-client", "sum", "Add", name="plus", attributes={"amount": 10})
    client.add_node("by-client", "sum", "Pair", name="pair")
    client.connect("by-client", "sum", "one", "data", "plus", "data")
    client.connect("by-client", "sum", "plus", "result", "pair", "left")
    client.connect("by-client", "sum", "two", "data", "pair", "right")
    client.set_attributes("by-client", "sum", "two", value=5)
    pipeline = client.pipeline("by-client", "sum")
    assert len(pipeline["nodes"]) == 4 and len(pipeline["connections"]) == 3

    with pytest.raises(ApiError) as cycle:
        client.connect("by-client", "sum", "pair", "total", "plus", "data")
    assert cycle.value.status == 400 and "would make a cycle" in cycle.value.message
    assert client.pipeline("by-client", "sum") == pipeline

    started = client.run("by-client", "sum", overrides={"plus": {"amount": 100}}, author="notebook")
    assert started["author"] == "notebook" and {j["name"] for j in started["jobs"]} == {"one", "two", "plus", "pair"}
    done = client.wait("by-client", started["id"], timeout=120)
    assert done["status"] == "succeeded", done
    assert all(job["status"] == "succeeded" for job in done["jobs"])
    assert client.executions("by-client", pipeline="sum")[-1]["id"] == started["id"]

    (total,) = client.artifacts("by-client", name="pair.total")
    assert total["provenance"]["execution"] == started["id"]
    data = client.download("by-client", total["id"])
    header, _, payload = data.partition(b"\n")
    assert header == b"deepforge:pickle" and pickle.loads(payload) == (1 + 100) + 5

    client.commit("by-client", "the sum pipeline", author="notebook")
    assert client.log("by-client")[0]["message"] == "the sum pipeline"
    client.restore("by-client", first)
    assert client.pipelines("by-client") == []
    assert client.artifacts("by-client", name="pair.total") == [total], "records are kept across a restore"


def test_the_client_takes_the_printed_link_and_says_why_a_request_is_refused(server: Server) -> None:
    linked = Client(f"{server.url}?token={server.token}")
    assert any(p["name"] == "digits" for p in linked.projects())
    with pytest.raises(ApiError) as missing:
        linked.pipeline("digits", "nope")
    assert missing.value.status == 404 and "no pipeline 'nope'" in missing.value.message
    with pytest.raises(ApiError) as refused:
        Client(server.url, "wrong").projects()
    assert refused.value.status == 401
    with pytest.raises(ValueError, match="token"):
        Client(server.url)
