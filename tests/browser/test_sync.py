"""Yjs clients and workbench pages on one document: a Node client's edit shows in every page, and back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT, node, open_project
from tests.sync.node import NodeClient, require_node_modules

pytestmark = pytest.mark.browser


def train_pipeline(doc: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return next((pid, record) for pid, record in doc["pipelines"].items() if record["name"] == "train")


def test_node_clients_and_a_page_converge(server: Any, project: str, new_tab: Any) -> None:
    require_node_modules()
    page = open_project(new_tab(), server, project)
    other = open_project(new_tab(), server, project)
    url = f"ws://127.0.0.1:{server.port}/sync"
    first, second = NodeClient(url, project, server.token), NodeClient(url, project, server.token)
    try:
        first.synced()
        second.synced()
        pipeline_id, pipeline = train_pipeline(first.dump("pipelines"))
        node_id = next(nid for nid, record in pipeline["nodes"].items() if record["name"] == "train")

        first.call("set", root="pipelines", path=[pipeline_id, "nodes", node_id], key="name", value="fit")
        for each in (page, other):
            expect(node(each, "fit")).to_have_count(1, timeout=TIMEOUT)
        second.wait_for(lambda doc: train_pipeline(doc)[1]["nodes"][node_id]["name"] == "fit", "pipelines")

        page.get_by_role("button", name="Add node").click()
        expect(other.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)
        for client in (first, second):
            client.wait_for(lambda doc: len(train_pipeline(doc)[1]["nodes"]) == EXAMPLE_NODES + 1, "pipelines")
        assert first.dump("pipelines") == second.dump("pipelines")
    finally:
        first.close()
        second.close()
