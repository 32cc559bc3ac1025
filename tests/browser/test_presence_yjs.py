"""Issue 10, points 4 and 5 with a real Yjs client: presence both ways, and undo that takes back only your own edit."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_sync import train_pipeline
from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT, node, open_project
from tests.sync.node import NodeClient, require_node_modules

pytestmark = pytest.mark.browser


def test_a_yjs_client_and_a_page_see_each_other(server: Any, project: str, new_tab: Any) -> None:
    require_node_modules()
    page = open_project(new_tab(), server, project)
    client = NodeClient(f"ws://127.0.0.1:{server.port}/sync", project, server.token)
    try:
        client.synced()
        _, pipeline = train_pipeline(client.dump("pipelines"))
        train = next(nid for nid, record in pipeline["nodes"].items() if record["name"] == "train")
        state = {"user": {"name": "node-bot", "color": "#9467bd"}, "selection": {"kind": "node", "id": train}}
        client.call("awareness", state=state)
        expect(page.locator(".df-member[data-name='node-bot']")).to_be_visible(timeout=TIMEOUT)
        expect(node(page, "train").locator(".df-peer")).to_have_text("● node-bot", timeout=TIMEOUT)

        node(page, "split").click()  # the page's user, as the Yjs client sees it

        def page_user(states: dict[str, Any]) -> Any:
            return next((s for s in states.values() if (s or {}).get("user", {}).get("name") == "tester"), None)

        seen = None
        for _ in range(150):
            seen = page_user(client.call("peers")["states"])
            if seen and seen.get("selection"):
                break
            page.wait_for_timeout(100)
        assert seen is not None and seen["user"]["color"] == "#2ca02c", seen
        split = next(nid for nid, record in pipeline["nodes"].items() if record["name"] == "split")
        assert seen["selection"] == {"kind": "node", "id": split}
    finally:
        client.close()
    expect(page.locator(".df-member[data-name='node-bot']")).to_have_count(0, timeout=TIMEOUT)


def test_undo_takes_back_only_my_edit_when_a_yjs_client_edited_in_between(
    server: Any, project: str, new_tab: Any
) -> None:
    require_node_modules()
    page = open_project(new_tab(), server, project)
    client = NodeClient(f"ws://127.0.0.1:{server.port}/sync", project, server.token)
    try:
        client.synced()
        page.locator("select").nth(1).select_option("ScoreClassifier")
        page.get_by_role("button", name="Add node").click()
        expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)
        pipeline_id, pipeline = train_pipeline(client.dump("pipelines"))
        client.wait_for(lambda doc: len(train_pipeline(doc)[1]["nodes"]) == EXAMPLE_NODES + 1, "pipelines")
        load = next(nid for nid, record in pipeline["nodes"].items() if record["name"] == "load")
        client.call("set", root="pipelines", path=[pipeline_id, "nodes", load], key="name", value="loader")
        expect(node(page, "loader")).to_have_count(1, timeout=TIMEOUT)

        page.locator(".react-flow__pane").first.click()  # the page, not a text field, has the focus
        page.keyboard.press("Control+z")
        expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
        expect(node(page, "loader")).to_have_count(1), "the Yjs client's rename stays"
        client.wait_for(lambda doc: len(train_pipeline(doc)[1]["nodes"]) == EXAMPLE_NODES, "pipelines")
        assert train_pipeline(client.dump("pipelines"))[1]["nodes"][load]["name"] == "loader"
        page.keyboard.press("Control+Shift+z")
        expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)
    finally:
        client.close()
