"""In Chromium: the example switched to a local Dask cluster from its settings runs there; an edited attribute
then marks the nodes below it stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT, node, open_project, run_train

pytestmark = pytest.mark.browser


def test_switch_to_dask_run_then_an_edit_marks_the_nodes_below_stale(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="History").click()
    card = page.locator(".df-run-settings")
    card.locator("select").first.select_option(label="On a Dask cluster")
    workers = card.locator(".bk-input-group", has=page.get_by_text("Local cluster workers", exact=True))
    workers.locator("input").fill("1")
    workers.locator("input").press("Enter")
    card.get_by_role("button", name="Apply").first.click()
    page.screenshot(path=screenshots / "run-settings-dask.png")

    from deepforge_panel.crdt import Home
    from deepforge_panel.project import Project
    from deepforge_panel.run_settings import ComputeSettings
    from tests.conftest import wait_until

    def saved() -> ComputeSettings:
        store = Home(server.home).open(project)
        try:
            return ComputeSettings.of(Project.open(store))
        finally:
            store.close()

    wait_until(lambda: saved() == ComputeSettings(adapter="dask", n_workers=1), timeout=30, message="saved")

    page.locator(".bk-tab", has_text="Pipelines").click()
    run_train(page, epochs=1)
    for job in ("load", "split", "train", "score", "confusion"):
        page.locator(f"g.df-job[data-name='{job}'][data-status='succeeded']").wait_for(timeout=180_000)

    page.locator(".bk-tab", has_text="Pipelines").click()
    expect(page.locator(".df-stale")).to_have_count(0, timeout=TIMEOUT)
    node(page, "train").click()
    field = page.locator(".bk-input-group", has=page.get_by_text("epochs", exact=True)).locator("input")
    field.fill("2")
    field.press("Enter")
    for below in ("train", "score", "confusion"):
        expect(node(page, below).locator(".df-stale")).to_have_count(1, timeout=TIMEOUT)
    for above in ("load", "split"):
        expect(node(page, above).locator(".df-stale")).to_have_count(0)
    page.screenshot(path=screenshots / "stale-nodes.png")
