"""History in Chromium: undo/redo from the keyboard, old versions read-only with their diff, branches."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from deepforge_panel.components.project_settings import JOB_LOG_LEVEL_LABELS
from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT, open_project
from tests.conftest import wait_until

pytestmark = pytest.mark.browser


def add_node(page: Any, operation: str, count: int) -> None:
    """Add a node of ``operation`` and wait until the graph has ``count`` nodes."""
    page.locator("select").nth(1).select_option(operation)
    page.get_by_role("button", name="Add node").click()
    expect(page.locator(".react-flow__node")).to_have_count(count, timeout=TIMEOUT)


def test_ctrl_z_undoes_the_graph_edit_but_stays_the_code_editors_own(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    page = open_project(new_tab(), server, project)
    add_node(page, "LoadDataset", EXAMPLE_NODES + 1)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    page.keyboard.press("Control+Shift+z")
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    page.keyboard.press("Control+y")
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)

    page.locator(".ace_text-input").wait_for(state="attached", timeout=TIMEOUT)
    page.locator(".ace_content").first.click()
    page.keyboard.press("Control+End")
    page.keyboard.insert_text("\n# typed here")
    expect(page.locator(".ace_content").first).to_contain_text("# typed here", timeout=TIMEOUT)
    page.keyboard.press("Control+z")  # the editor's own undo: the typed line goes, the graph stays
    expect(page.locator(".ace_content").first).not_to_contain_text("# typed here", timeout=TIMEOUT)
    page.screenshot(path=screenshots / "undo-in-editor.png")
    # Messages reach the server in order: had Ctrl+Z gone there, this node would replace the one it removed.
    page.get_by_role("button", name="Add node").click()
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 2, timeout=TIMEOUT)


def commit(page: Any, message: str) -> None:
    page.keyboard.press("Control+s")
    page.get_by_placeholder("what changed?").fill(message)
    page.get_by_role("button", name="Commit", exact=True).first.click()


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_an_old_version_opens_read_only_with_its_diff(
    server: Any, project: str, new_tab: Any, screenshots: Path, theme: str
) -> None:
    page = open_project(new_tab(), server, project, theme)
    add_node(page, "LoadDataset", EXAMPLE_NODES + 1)
    commit(page, "one more loader")
    page.locator(".bk-tab", has_text="History").click()
    page.locator(".tabulator-row", has_text="one more loader").wait_for(timeout=TIMEOUT)
    page.locator(".tabulator-row", has_text="Fork of digits").click()

    graph = page.locator(".df-version-graph .react-flow__node")
    expect(graph).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    diff = page.locator(".df-version-diff")
    expect(diff).to_contain_text("Pipeline train changed", timeout=TIMEOUT)
    expect(diff).to_contain_text("added node loaddataset (LoadDataset)")
    expect(page.locator(".df-version-code")).to_contain_text("class ")
    page.locator(".df-version-graph").scroll_into_view_if_needed()
    page.screenshot(path=screenshots / f"old-version-{theme}.png")
    diff.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / f"old-version-diff-{theme}.png")

    box = graph.first.bounding_box()  # read-only: a drag moves nothing in the document
    page.mouse.move(box["x"] + 20, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 150, steps=10)
    page.mouse.up()
    expect(diff).not_to_contain_text("position")


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_a_branch_is_opened_compared_and_merged(
    server: Any, project: str, new_tab: Any, screenshots: Path, theme: str
) -> None:
    page = open_project(new_tab(), server, project, theme)
    page.locator(".bk-tab", has_text="History").click()
    page.get_by_placeholder("new branch name").fill("exp")
    page.get_by_role("button", name="Create branch").click()
    page.locator(".df-open-branch a", has_text="Open exp").click()

    expect(page).to_have_url(re.compile(r"branch=exp"), timeout=TIMEOUT)
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    expect(page.get_by_text("branch exp").first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("button", name="▶ Run")).to_be_enabled()  # a branch runs on its own orchestrator
    add_node(page, "LoadDataset", EXAMPLE_NODES + 1)
    page.screenshot(path=screenshots / f"branch-page-{theme}.png")
    commit(page, "a loader on exp")
    page.locator(".bk-tab", has_text="History").click()
    page.locator(".tabulator-row", has_text="a loader on exp").wait_for(timeout=TIMEOUT)
    page.locator(".df-open-branch a", has_text="Open main").click()

    expect(page).not_to_have_url(re.compile(r"branch="), timeout=TIMEOUT)
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    page.locator(".bk-tab", has_text="History").click()
    page.get_by_role("button", name="Compare").click()
    result = page.locator(".df-branch-diff")
    expect(result).to_contain_text("From main to exp", timeout=TIMEOUT)
    expect(result).to_contain_text("added node loaddataset (LoadDataset)")
    page.get_by_role("button", name="Merge into main").click()
    expect(result).to_contain_text("Merging exp into main changes", timeout=TIMEOUT)
    result.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / f"merge-preview-{theme}.png")
    page.get_by_role("button", name="Confirm merge").click()
    page.locator(".tabulator-row", has_text="Merge exp into main").wait_for(timeout=TIMEOUT)
    page.locator(".bk-tab", has_text="Pipelines").click()
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)


QUIET, VERBOSE = JOB_LOG_LEVEL_LABELS  # Bokeh's select carries the labels as its values


def _job_log_level(server: Any, project: str) -> str:
    from deepforge_panel.crdt import Home
    from deepforge_panel.project import Project

    store = Home(server.home).open(project)
    try:
        return Project.open(store).job_log_level
    finally:
        store.close()


def test_the_job_console_setting_is_the_documents(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="History").click()
    level = page.locator(".df-job-log-level select")
    expect(level).to_have_value(QUIET, timeout=TIMEOUT)
    level.select_option(VERBOSE)
    wait_until(lambda: _job_log_level(server, project) == "verbose", timeout=TIMEOUT / 1000, interval=0.2)
    level.scroll_into_view_if_needed()
    page.screenshot(path=screenshots / "project-settings.png")

    other = open_project(new_tab(), server, project)  # a second tab shows the document's value
    other.locator(".bk-tab", has_text="History").click()
    expect(other.locator(".df-job-log-level select")).to_have_value(VERBOSE, timeout=TIMEOUT)
    level.select_option(QUIET)  # and follows a change made in the first tab
    expect(other.locator(".df-job-log-level select")).to_have_value(QUIET, timeout=TIMEOUT)
    assert _job_log_level(server, project) == "quiet"
