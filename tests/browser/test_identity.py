"""Issue 10, point 3: a browser is asked its name and color once, remembers them, and signs commits with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("theme", ["", "&theme=dark"])
def test_a_new_browser_is_asked_once_and_signs_its_commits(
    server: Any, project: str, browser: Any, screenshots: Path, theme: str
) -> None:
    context = browser.new_context(viewport={"width": 1500, "height": 950})
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}?project={project}&token={server.token}{theme}")  # a first visit, as printed
        expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
        asked = page.get_by_text("Who are you?")
        expect(asked).to_be_visible()
        page.screenshot(path=screenshots / f"identity-asked{theme.replace('&theme=', '-')}.png")
        page.get_by_placeholder("shown to collaborators").fill("Ada <b>Lovelace</b>")
        page.get_by_role("button", name="Save").click()
        expect(asked).to_be_hidden(timeout=TIMEOUT)
        expect(page.get_by_role("button", name="● Ada <b>Lovelace</b>")).to_be_visible()

        page.goto(f"{server.url}?project={project}{theme}")  # the cookies now sign in and say who this is
        expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
        expect(page.get_by_role("button", name="● Ada <b>Lovelace</b>")).to_be_visible(timeout=TIMEOUT)
        expect(page.get_by_text("Who are you?")).to_be_hidden()
        page.keyboard.press("Control+s")
        page.get_by_placeholder("what changed?").fill("signed by Ada")
        page.get_by_role("button", name="Commit", exact=True).first.click()
        page.locator(".bk-tab", has_text="History").click()
        row = page.locator(".tabulator-row", has_text="signed by Ada")
        expect(row).to_contain_text("Ada <b>Lovelace</b>", timeout=TIMEOUT)
        page.screenshot(path=screenshots / f"identity-history{theme.replace('&theme=', '-')}.png")
        assert errors == []
    finally:
        context.close()
