"""Two workbenches in Chromium: A shares a project from its page, B opens it from its start page, and
edits made on either page reach the other's; both list the other as a peer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Tab
from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT, node, open_project
from tests.servers import Server

pytestmark = pytest.mark.browser

LINK_MS = 60_000
"""Deadline for an edit to cross the link (within a second or two when all is well; shared CI machines are slow)."""


def _share_address(page: Any, screenshots: Path, theme: str) -> str:
    page.get_by_role("button", name="Share").click()
    field = page.locator("input.df-share-address")
    expect(field).to_be_visible(timeout=TIMEOUT)
    expect(page.locator("#pn-Modal")).to_have_css("opacity", "1", timeout=TIMEOUT)  # faded in
    page.screenshot(path=screenshots / f"share-dialog-{theme}.png")
    address = str(field.input_value())
    page.locator("#pn-closeModal").click()
    expect(field).to_be_hidden(timeout=TIMEOUT)
    return address


def _add_node(page: Any, operation: str = "ScoreClassifier") -> None:
    page.locator("select").nth(1).select_option(operation)
    page.get_by_role("button", name="Add node").click()


def _peers_tab(page: Any) -> Any:
    page.locator(".bk-tab", has_text="History").click()
    return page.locator(".df-peer-row")


def test_share_open_shared_and_edit_both_ways(
    server: Server, new_tab: Any, browser: Any, screenshots: Path, tmp_path: Path
) -> None:
    a = open_project(new_tab(), server, "digits")
    address = _share_address(a, screenshots, "default")
    assert address.startswith(f"{server.url}?project=digits&token=")
    a.keyboard.press("Control+s")  # the same modal then shows the commit dialog again, its field focused
    expect(a.get_by_placeholder("what changed?")).to_be_focused(timeout=TIMEOUT)
    expect(a.locator("input.df-share-address")).to_be_hidden()
    a.locator("#pn-closeModal").click()
    expect(a.get_by_placeholder("what changed?")).to_be_hidden(timeout=TIMEOUT)
    dark = open_project(new_tab(), server, "digits", "dark")
    assert _share_address(dark, screenshots, "dark") == address
    dark.context.close()

    other = Server(tmp_path / "b" / "home")
    try:
        context = browser.new_context(viewport={"width": 1500, "height": 950})
        other.sign_in(context, name="Bea")
        tab = Tab(context.new_page())
        b = tab.page
        b.goto(other.url)
        b.get_by_placeholder("share address").fill(address)
        b.get_by_placeholder("as the peer names it").fill("shared")
        b.get_by_role("button", name="Open shared project").click()
        expect(b.locator("a.df-open", has_text="shared")).to_have_count(1, timeout=TIMEOUT)
        b.screenshot(path=screenshots / "open-shared.png")
        b.locator("a.df-open-cloned").click()
        expect(b.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
        for label in ("split", "train"):
            expect(node(b, label)).to_have_count(1)

        _add_node(a)  # on A: reaches B over B's link to A
        expect(node(a, "scoreclassifier")).to_have_count(1, timeout=TIMEOUT)
        expect(node(b, "scoreclassifier")).to_have_count(1, timeout=LINK_MS)
        _add_node(b, "ScoreClassifier")  # on B: reaches A the same way back
        expect(b.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 2, timeout=TIMEOUT)
        expect(a.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 2, timeout=LINK_MS)

        rows = _peers_tab(b)
        expect(rows.filter(has_text="linked to").filter(has_text="connected")).to_have_count(1, timeout=TIMEOUT)
        expect(rows.first).to_contain_text(f"{server.url}?project=")  # the peer's project by its id
        b.screenshot(path=screenshots / "peers-panel-b.png")
        rows = _peers_tab(a)
        expect(rows.filter(has_text="linked from")).to_have_count(1, timeout=TIMEOUT)
        a.screenshot(path=screenshots / "peers-panel-a.png")
        dark = new_tab().page
        dark.goto(f"{server.url}?project=digits&theme=dark")
        expect(_peers_tab(dark).filter(has_text="linked from")).to_have_count(1, timeout=TIMEOUT)
        dark.screenshot(path=screenshots / "peers-panel-a-dark.png")
        context.close()
        assert tab.errors == [], f"JavaScript or console errors on B: {tab.errors}"
        assert tab.external == [], f"requests left loopback on B: {tab.external}"
    finally:
        other.stop()
