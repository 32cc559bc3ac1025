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


def lasso(page: Any, canvas: Any) -> None:
    """Draw a lasso over the middle of ``canvas`` (the explorer's drag tool is the lasso)."""
    box = canvas.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    rx, ry = box["width"] * 0.3, box["height"] * 0.3
    page.mouse.move(cx - rx, cy - ry)
    page.mouse.down()
    for x, y in ((cx + rx, cy - ry), (cx + rx, cy + ry), (cx - rx, cy + ry), (cx - rx, cy - ry + 1)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def test_the_example_notebook_explores_saves_a_lasso_selection_and_reacts(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="Notebooks").click()
    expect(page.locator(".df-cell")).to_have_count(6, timeout=TIMEOUT)  # the example's "explore"
    explorer = cell(page, 4)

    page.get_by_role("button", name="▶▶ Run all").click()
    expect(cell(page, 3).locator("pre.df-stdout")).to_contain_text("digits mistaken", timeout=RUN_TIMEOUT)
    expect(explorer).to_contain_text("600 points, t-SNE embedding", timeout=RUN_TIMEOUT)
    expect(cell(page, 5).locator("pre.df-result")).to_have_text(re.compile(r"^\d+$"), timeout=RUN_TIMEOUT)
    expect(explorer.locator("select")).to_have_value("label")  # colored by digit
    canvas = explorer.locator("canvas").first
    expect(canvas).to_be_visible(timeout=TIMEOUT)
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "notebook-explorer-default.png")

    lasso(page, canvas)
    expect(explorer).to_contain_text(re.compile(r"\d+ points? selected"), timeout=TIMEOUT)
    explorer.get_by_placeholder("name of the selection").fill("lassoed")
    explorer.get_by_role("button", name="Save selection").click()
    expect(explorer.locator(".df-note")).to_contain_text("saved artifact 'lassoed'", timeout=RUN_TIMEOUT)
    page.locator(".bk-tab", has_text="Artifacts").click()
    expect(page.locator(".tabulator-cell", has_text=re.compile(r"^lassoed$"))).to_be_visible(timeout=TIMEOUT)

    # Edit the cell that loads the data: everything that uses it goes stale; with auto-run, it runs again.
    page.locator(".bk-tab", has_text="Notebooks").click()
    write(page, 1, "from sklearn.datasets import load_digits\n\ndigits = load_digits()\n"
          "images, labels = digits.data[:400], digits.target[:400]\nimages.shape")  # fmt: skip
    page.keyboard.press("Control+Enter")
    expect(cell(page, 1).locator("pre.df-result")).to_have_text("(400, 64)", timeout=RUN_TIMEOUT)
    for dependent in (2, 3, 4, 5):
        expect(cell(page, dependent).locator(".df-stale")).to_be_visible(timeout=TIMEOUT)
    page.locator(".df-auto-run input[type=checkbox]").check()
    cell(page, 1).get_by_role("button", name="▶ Run").click()
    expect(explorer).to_contain_text("400 points, t-SNE embedding", timeout=RUN_TIMEOUT)
    for dependent in (2, 3, 4, 5):
        expect(cell(page, dependent).locator(".df-stale")).to_have_count(0, timeout=RUN_TIMEOUT)

    page.goto(page.url + "&theme=dark")
    page.locator(".bk-tab", has_text="Notebooks").click()
    expect(cell(page, 4)).to_contain_text("400 points, t-SNE embedding", timeout=TIMEOUT)
    cell(page, 4).scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "notebook-explorer-dark.png")
