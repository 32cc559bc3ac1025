"""Issue 10, point 4: two people in one project see each other, and each other's selected node in their color."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT, node

pytestmark = pytest.mark.browser


def _page(server: Any, browser: Any, project: str, name: str, color: str, theme: str = "") -> Any:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    server.sign_in(context, name=name, color=color)
    page = context.new_page()
    page.goto(f"{server.url}?project={project}{theme}")
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    return page


def test_two_people_see_each_other_and_each_others_selection(
    server: Any, project: str, browser: Any, screenshots: Path
) -> None:
    ada = _page(server, browser, project, "Ada", "#d62728")
    grace = _page(server, browser, project, "Grace", "#2ca02c", "&theme=dark")
    try:
        expect(ada.locator(".df-member[data-name='Grace']")).to_be_visible(timeout=TIMEOUT)
        expect(grace.locator(".df-member[data-name='Ada']")).to_be_visible(timeout=TIMEOUT)

        node(grace, "train").click()
        marked = node(ada, "train")
        expect(marked.locator(".df-peer")).to_have_text("● Grace", timeout=TIMEOUT)
        assert "rgb(44, 160, 44)" in marked.evaluate("n => getComputedStyle(n).outlineColor")
        expect(node(ada, "split").locator(".df-peer")).to_have_count(0)
        node(ada, "split").click()
        expect(node(grace, "split").locator(".df-peer")).to_have_text("● Ada", timeout=TIMEOUT)
        expect(node(grace, "train").locator(".df-peer")).to_have_count(0)  # my own selection is not marked
        ada.screenshot(path=screenshots / "presence-ada.png")
        grace.screenshot(path=screenshots / "presence-grace-dark.png")

        grace.context.close()  # Grace leaves: gone once her session is, within Bokeh's unused-session check
        expect(ada.locator(".df-member[data-name='Grace']")).to_have_count(0, timeout=60_000)
        expect(node(ada, "train").locator(".df-peer")).to_have_count(0)
    finally:
        ada.context.close()
