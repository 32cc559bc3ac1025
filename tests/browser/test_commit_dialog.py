"""The commit dialog Ctrl+S opens: its message field has the focus, so one types the message and presses Enter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT, open_project

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_ctrl_s_focuses_the_commit_message(
    server: Any, project: str, new_tab: Any, screenshots: Path, theme: str
) -> None:
    page = open_project(new_tab(), server, project, theme)
    page.keyboard.press("Control+s")
    message = page.get_by_placeholder("what changed?")
    expect(message).to_be_focused(timeout=TIMEOUT)
    page.screenshot(path=screenshots / f"commit-dialog-{theme}.png")
    page.keyboard.type("typed at once")
    page.keyboard.press("Enter")
    expect(message).to_be_hidden(timeout=TIMEOUT)
    page.locator(".bk-tab", has_text="History").click()
    page.locator(".tabulator-row", has_text="typed at once").wait_for(timeout=TIMEOUT)
