"""The workbench in Chromium: open the example, edit the pipeline and code, run, two tabs, history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
TIMEOUT = 30_000


def open_project(tab: Any, server: Any, name: str = "digits") -> Any:
    page = tab.page
    page.goto(f"{server.url}?project={name}")
    page.wait_for_selector(".react-flow__node", timeout=TIMEOUT)
    return page


def node(page: Any, label: str) -> Any:
    """The graph node whose label is exactly ``label``."""
    return page.locator(".react-flow__node").filter(
        has=page.locator(".rf-node-label", has_text=re.compile(f"^{re.escape(label)}$"))
    )


def drag(page: Any, source: Any, target: Any) -> None:
    """Press on ``source``, move in steps (React Flow tracks the pointer), release on ``target``."""
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=20)
    page.mouse.up()


def test_start_page_lists_the_example(server: Any, new_tab: Any, screenshots: Path) -> None:
    page = new_tab().page
    page.goto(server.url)
    page.wait_for_selector("a.df-open", timeout=TIMEOUT)
    assert page.locator("a.df-open", has_text="digits").count() == 1
    page.screenshot(path=screenshots / "start.png")


def test_open_example_add_a_node_and_connect_it(server: Any, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server)
    assert page.locator(".react-flow__node").count() == 5
    page.screenshot(path=screenshots / "pipeline.png")
    select = page.locator("select").nth(1)
    select.select_option("ScoreClassifier")
    page.get_by_role("button", name="Add node").click()
    new = node(page, "scoreclassifier")
    new.wait_for(timeout=TIMEOUT)
    source = node(page, "train").locator(".react-flow__handle.source[data-handleid='model']")
    target = new.locator(".react-flow__handle.target[data-handleid='model']")
    edges_before = page.locator(".react-flow__edge").count()
    drag(page, source, target)
    expect(page.locator(".react-flow__edge")).to_have_count(edges_before + 1, timeout=TIMEOUT)
    page.screenshot(path=screenshots / "connected.png")


def test_editing_code_changes_the_ports(server: Any, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server)
    node(page, "score").click()
    editor = page.locator(".ace_text-input")
    editor.wait_for(state="attached", timeout=TIMEOUT)
    page.locator(".ace_content").first.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(
        "class ScoreClassifier:\n"
        "    def execute(self, model, test, weights=None):\n"
        "        accuracy = 1.0\n"
        "        return accuracy\n"
    )
    node(page, "score").filter(has_text="weights").wait_for(timeout=TIMEOUT)
    page.keyboard.press("End")
    page.keyboard.insert_text("class :")
    page.get_by_text("the last good interface is kept").wait_for(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "code-error.png")
    page.locator(".ace_gutter-cell.ace_error").first.wait_for(state="attached", timeout=TIMEOUT)
    assert node(page, "score").filter(has_text="weights").count() == 1
    page.screenshot(path=screenshots / "code-error.png")


def test_two_tabs_see_each_others_edits(server: Any, new_tab: Any) -> None:
    first = open_project(new_tab(), server)
    second = open_project(new_tab(), server)
    count = second.locator(".react-flow__node").count()
    first.locator("select").nth(1).select_option("TrainTestSplit")
    first.get_by_role("button", name="Add node").click()
    expect(second.locator(".react-flow__node")).to_have_count(count + 1, timeout=5000)
