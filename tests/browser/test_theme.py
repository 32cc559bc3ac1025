"""Dark mode: the header's toggle switches without an error, the choice is remembered, and every part turns dark."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_workbench import EXAMPLE_NODES, TIMEOUT, node, open_project

pytestmark = pytest.mark.browser
TABS = {
    "Pipelines": ".ace_editor:visible .ace_line >> nth=3",
    "Architectures": ".df-layer:visible",
    "Executions": "text=No executions yet",
    "Artifacts": "text=No artifacts yet",
    "History": ".tabulator-footer:visible",
}
"""Each tab, and what shows once it is drawn."""

LUMINANCE = """(e) => {
  const [r, g, b] = getComputedStyle(e).backgroundColor.match(/[\\d.]+/g).map(Number)
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
}"""


def luminance(locator: Any) -> float:
    return float(locator.evaluate(LUMINANCE))


def test_toggle_switches_to_dark_and_the_choice_survives_navigation(
    server: Any, project: str, new_tab: Any, screenshots: Path
) -> None:
    page = new_tab().page
    page.goto(server.url)
    page.locator("a.df-theme").click()
    expect(page).to_have_url(re.compile(r"theme=dark"), timeout=TIMEOUT)
    expect(page.locator("a.df-theme")).to_have_text(re.compile("Light"), timeout=TIMEOUT)
    assert luminance(page.locator("body")) < 0.3
    page.screenshot(path=screenshots / "start-dark.png")

    # A plain link (no ?theme=) opens the project in the chosen theme.
    page.locator("a.df-open", has_text=project).click()
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    assert "theme=" not in page.url
    expect(page.locator("a.df-theme")).to_have_text(re.compile("Light"))
    assert luminance(page.locator("body")) < 0.3

    node(page, "train").click()
    editor = page.locator(".ace_editor:visible").first
    expect(editor).to_be_visible(timeout=TIMEOUT)
    assert luminance(editor) < 0.3, "the code editor stays light in dark mode"

    page.locator(".bk-tab", has_text="History").click()
    pager = page.locator(".tabulator-footer:visible").first
    expect(pager).to_be_visible(timeout=TIMEOUT)
    assert luminance(pager) < 0.3, "the table pager stays light in dark mode"

    # Back to light: the toggle on the project page keeps the project and clears the remembered choice.
    page.locator("a.df-theme").click()
    expect(page).to_have_url(re.compile(r"theme=default"), timeout=TIMEOUT)
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    assert luminance(page.locator("body")) > 0.7
    page.goto(server.url)
    expect(page.locator("a.df-theme")).to_have_text(re.compile("Dark"), timeout=TIMEOUT)


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_every_tab_in_each_theme(server: Any, project: str, new_tab: Any, screenshots: Path, theme: str) -> None:
    """Screenshots of each tab, with no console error and no request off loopback (``new_tab`` checks both);
    the node subtitles, the catalog's selected layer and the graph's edges keep their contrast."""
    tab = new_tab()
    page = open_project(tab, server, project, theme)
    node(page, "train").click()
    subtitle = page.locator(".df-op").first
    text, back = subtitle.evaluate(
        """(e) => {
          let n = e, bg = 'rgba(0, 0, 0, 0)'
          while (n && bg === 'rgba(0, 0, 0, 0)') {
            bg = getComputedStyle(n).backgroundColor
            n = n.parentElement || (n.getRootNode() && n.getRootNode().host)
          }
          return [getComputedStyle(e).color, bg]
        }"""
    )
    assert contrast(text, back) >= 4.5, f"node subtitle {text} on {back}"
    for title, drawn in TABS.items():
        page.locator(".bk-tab", has_text=title).click()
        expect(page.locator(drawn).first).to_be_visible(timeout=TIMEOUT)
        page.screenshot(path=screenshots / f"{title.lower()}-{theme}.png")
        if title == "Architectures" and theme == "dark":
            chosen = page.locator("select[size]:visible").first.evaluate(SELECTED_OPTION)
            assert contrast(*chosen) >= 4.5, f"the catalog's selected layer: {chosen[0]} on {chosen[1]}"
            edge = page.locator(".react-flow__edge-path:visible").first.evaluate(EDGE)
            assert contrast(*edge) >= 3, f"an edge of the architecture graph: {edge[0]} on {edge[1]}"
    assert tab.errors == [] and tab.external == []


SELECTED_OPTION = """(s) => {
  const style = getComputedStyle(s.options[s.selectedIndex])
  return [style.color, style.backgroundColor]
}"""
EDGE = """(e) => [getComputedStyle(e).stroke, getComputedStyle(e.closest('.react-flow')).backgroundColor]"""


LONG_NAME = "Convolutional_network_experiments_on_the_digits_dataset-v2.final"
"""As long as a project name may be, with no space to wrap at."""


@pytest.mark.parametrize("theme", ["default", "dark"])
def test_a_long_project_name_ends_in_an_ellipsis(server: Any, new_tab: Any, screenshots: Path, theme: str) -> None:
    from deepforge_panel.crdt import Home

    home = Home(server.home)
    if not home.exists(LONG_NAME):
        home.create(LONG_NAME).close()
    page = new_tab().page
    page.goto(f"{server.url}?theme={theme}")
    link = page.locator("a.df-open", has_text=LONG_NAME[:20])
    expect(link).to_have_attribute("title", LONG_NAME, timeout=TIMEOUT)
    row = page.locator(".df-project", has=link)
    rename = row.get_by_placeholder("new name")
    assert link.bounding_box()["x"] + link.bounding_box()["width"] <= rename.bounding_box()["x"]
    assert link.evaluate("(a) => a.scrollWidth > a.clientWidth"), "the name is cut, not squeezed"
    page.screenshot(path=screenshots / f"start-long-name-{theme}.png")


def _channel(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def _relative(color: str) -> float:
    r, g, b = (float(x) for x in re.findall(r"[\d.]+", color)[:3])
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colors."""
    la, lb = sorted((_relative(a), _relative(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
