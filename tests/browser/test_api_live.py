"""A page open on a project shows what a script does through the REST API's client, live."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from deepforge_panel.client import ApiError, Client
from tests.browser.test_workbench import EXAMPLE_NODES, node, open_project
from tests.deepforge_panel.api.models import SLOW

pytestmark = pytest.mark.browser

LIVE_MS = 5000
"""How soon an API edit must show in an open page."""


def test_client_edits_show_in_an_open_page(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    client = Client(server.url, server.token)
    node(page, "train").click()
    epochs = page.locator(".bk-input-group", has=page.get_by_text("epochs", exact=True)).locator("input")
    expect(epochs).to_have_value("10")

    shown: dict[str, float] = {}
    started = time.monotonic()
    client.set_attributes(project, "train", "train", epochs=7)
    expect(epochs).to_have_value("7", timeout=LIVE_MS)
    shown["attribute"] = time.monotonic() - started

    started = time.monotonic()
    added = client.add_node(project, "train", "TrainTestSplit", name="split_api", x=240, y=300)
    expect(node(page, "split_api")).to_have_count(1, timeout=LIVE_MS)
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1)
    shown["node"] = time.monotonic() - started

    started = time.monotonic()
    client.connect(project, "train", "load", "dataset", "split_api", "dataset")
    edge = f".react-flow__edge[aria-label='Edge from {node(page, 'load').get_attribute('data-id')} to {added['id']}']"
    expect(page.locator(edge)).to_have_count(1, timeout=LIVE_MS)
    shown["connection"] = time.monotonic() - started

    with pytest.raises(ApiError, match=r"train\.epochs = 'many'"):
        client.set_attributes(project, "train", "train", epochs="many")
    client.remove_node(project, "train", "split_api")
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=LIVE_MS)
    expect(epochs).to_have_value("7")
    print("API edit shown in the page after (s):", {k: round(v, 2) for k, v in shown.items()})


def test_a_run_started_by_the_client_shows_running_in_the_page_while_its_events_stream(
    server: Any, project: str, new_tab: Any
) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="Executions").click()
    client = Client(server.url, server.token)
    client.create_operation(project, SLOW)
    client.create_pipeline(project, "quick")
    client.add_node(project, "quick", "LoadDataset", name="load", attributes={"name": "iris"})
    client.add_node(project, "quick", "TrainTestSplit", name="split", x=240)
    client.add_node(project, "quick", "Slow", name="slow", attributes={"lines": 8, "pause": 0.3}, x=480)
    client.connect(project, "quick", "load", "dataset", "split", "dataset")
    client.connect(project, "quick", "split", "train", "slow", "data")
    run = client.run(project, "quick", overrides={"split": {"test_fraction": 0.5}}, author="script")
    live: list[str] = []
    for event in client.events(project, run["id"], timeout=60):
        if event.kind == "console" and event.data == {"job": "slow", "stream": "stdout", "text": "line 1\n"}:
            page.locator("g.df-job[data-name='slow'][data-status='running']").wait_for(timeout=LIVE_MS)
            live.append(event.data["text"])
        if event.kind == "end":
            assert event.data["status"] == "succeeded", event.data
    assert live, "the stream told of no console line of the slow job"
    page.locator("g.df-job[data-name='slow'][data-status='succeeded']").wait_for(timeout=LIVE_MS)
    split = next(job for job in client.execution(project, run["id"])["jobs"] if job["name"] == "split")
    assert split["attributes"]["test_fraction"] == 0.5 and split["status"] == "succeeded"
