"""The Notebooks tab in Chromium: write cells, run them in a real session, see outputs, stale marks and auto-run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import TIMEOUT, open_project

pytestmark = pytest.mark.browser
RUN_TIMEOUT = 120_000
"""A first run starts the session (an interpreter importing matplotlib)."""


def cell(page: Any, index: int) -> Any:
    return page.locator(".df-cell").nth(index)


def write(page: Any, index: int, code: str) -> None:
    """Replace the code of cell ``index`` as a user would: click into it, select all, type."""
    editor = cell(page, index).locator(".ace_content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(code)
    first_line = code.splitlines()[-1]
    expect(cell(page, index).locator(".ace_content")).to_contain_text(first_line, timeout=TIMEOUT)


def result(page: Any, index: int) -> Any:
    return cell(page, index).locator("pre.df-result")


def test_write_run_and_react(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    tab = new_tab()
    page = open_project(tab, server, project)
    page.locator(".bk-tab", has_text="Notebooks").click()
    page.get_by_placeholder("new notebook name").fill("scratch")
    page.get_by_role("button", name="New notebook").click()
    expect(page.locator(".df-cell")).to_have_count(1, timeout=TIMEOUT)
    write(page, 0, "import matplotlib.pyplot as plt\nn = 3")
    page.locator("button", has_text=re.compile(r"^\+ code$")).last.click()
    expect(page.locator(".df-cell")).to_have_count(2, timeout=TIMEOUT)
    write(page, 1, "print('n is', n)\nplt.plot(range(n)); n * 2")

    page.get_by_role("button", name="▶▶ Run all").click()
    expect(cell(page, 1).locator("pre.df-stdout")).to_contain_text("n is 3", timeout=RUN_TIMEOUT)
    expect(result(page, 1)).to_have_text("6", timeout=TIMEOUT)
    expect(cell(page, 1).locator("canvas").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".df-session-status")).to_contain_text("idle", timeout=TIMEOUT)
    expect(cell(page, 1).locator(".df-stale")).to_have_count(0)
    page.screenshot(path=screenshots / "notebook-default.png")

    # Upstream edit, run in place with Ctrl+Enter: the dependent goes stale, its old result stays.
    write(page, 0, "import matplotlib.pyplot as plt\nn = 5")
    page.keyboard.press("Control+Enter")
    expect(cell(page, 0).locator(".df-count")).to_have_text("[3]", timeout=RUN_TIMEOUT)
    expect(cell(page, 1).locator(".df-stale")).to_be_visible(timeout=TIMEOUT)
    expect(result(page, 1)).to_have_text("6")
    page.screenshot(path=screenshots / "notebook-stale-default.png")

    # With auto-run, running the upstream cell re-runs the dependent without touching it.
    auto_run = page.locator(".df-auto-run input[type=checkbox]")
    auto_run.check()
    expect(auto_run).to_be_checked()
    write(page, 0, "import matplotlib.pyplot as plt\nn = 7")
    cell(page, 0).get_by_role("button", name="▶ Run").click()
    expect(result(page, 1)).to_have_text("14", timeout=RUN_TIMEOUT)
    expect(cell(page, 1).locator(".df-stale")).to_have_count(0, timeout=TIMEOUT)

    # Shift+Enter in the last cell runs it and moves on to a new cell.
    cell(page, 1).locator(".ace_content").click()
    page.keyboard.press("Shift+Enter")
    expect(page.locator(".df-cell")).to_have_count(3, timeout=TIMEOUT)
    expect(result(page, 1)).to_have_text("14", timeout=RUN_TIMEOUT)
    page.keyboard.insert_text("n + 1")
    expect(cell(page, 2).locator(".ace_content")).to_contain_text("n + 1", timeout=TIMEOUT)
    expect(cell(page, 1).locator(".ace_content")).not_to_contain_text("n + 1")
    write(page, 2, "n / 0")
    page.keyboard.press("Control+Enter")
    expect(cell(page, 2).locator("pre.df-error")).to_contain_text("ZeroDivisionError", timeout=RUN_TIMEOUT)
    page.locator("button", has_text=re.compile(r"^\+ markdown$")).last.click()
    expect(page.locator(".df-cell")).to_have_count(4, timeout=TIMEOUT)
    write(page, 3, "## Notes <b>bold?</b>\n\nThe *line* grows with `n`.")
    expect(cell(page, 3).locator("h2")).to_have_text("Notes <b>bold?</b>", timeout=TIMEOUT)

    page.goto(page.url + "&theme=dark")
    page.locator(".bk-tab", has_text="Notebooks").click()
    page.locator("select", has=page.locator("option", has_text="scratch")).select_option(label="scratch")
    expect(result(page, 1)).to_have_text("14", timeout=TIMEOUT)
    expect(cell(page, 1).locator("canvas").first).to_be_visible(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "notebook-dark.png")
    cell(page, 3).scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "notebook-dark-end.png")
