"""Issue 9, point 2: every tab fits the window, and the graph editors keep their nodes in view."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_architecture_editor import catalog_add, new_architecture
from tests.browser.test_workbench import TIMEOUT, node, open_project

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1500, "height": 950}


METRIC_PLOTS = """() => {
  let n = 0
  for (const doc of Bokeh.documents) for (const m of doc.all_models)
    if (m.title && /^metric \\d+$/.test(m.title.text || '')) n++
  return n
}"""

SCROLLING_TAB = """() => {
  const walk = (root) => {
    let n = 0
    for (const el of root.querySelectorAll('.scrollable, .scrollable-vertical')) {
      if (el.offsetParent !== null && el.scrollHeight > el.clientHeight + 200) n++
    }
    for (const el of root.querySelectorAll('*')) if (el.shadowRoot) n += walk(el.shadowRoot)
    return n
  }
  return walk(document)
}"""


def _seed_a_tall_run(home: Path, project: str) -> None:
    """A finished run whose job drew many metrics: its Executions tab is far taller than the window."""
    from deepforge_panel.crdt import Home
    from deepforge_panel.project import Project

    store = Home(home).open(project)
    try:
        forked = Project.open(store)
        train = next(p for p in forked.pipelines.all() if p.name == "train")
        execution_id, jobs = forked.executions.create(
            train, store.head() or "", {nid: {} for nid in train.nodes}, author="ada"
        )
        job = next(iter(jobs.values()))
        record = forked.executions.job_record(execution_id, job)
        with forked.transaction():
            for metric in range(24):
                for step in range(5):
                    forked.executions.append_metric(record, f"metric {metric}", step, float(step * metric))
        forked.executions.finish(execution_id, "succeeded")
    finally:
        store.close()


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def _overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def _pane(page: Any) -> dict[str, float]:
    return page.locator(".react-flow:visible").first.bounding_box()


def _wait_in_view(page: Any, target: Any) -> None:
    """``target`` ends inside the visible graph pane, clear of the zoom controls."""
    deadline_ms = TIMEOUT
    step = 100
    for _ in range(deadline_ms // step):
        box, pane = target.bounding_box(), _pane(page)
        controls = page.locator(".react-flow__controls:visible").first.bounding_box()
        window = {"x": 0, "y": 0, **VIEWPORT}
        if box and _inside(box, pane) and _inside(box, window) and not _overlaps(box, controls):
            return
        page.wait_for_timeout(step)
    raise AssertionError(f"{box} not in view of the pane {pane} (controls {controls})")


@pytest.mark.parametrize("theme", ["", "&theme=dark"])
def test_each_tab_fits_the_window_after_a_tall_run(
    server: Any, project: str, new_tab: Any, screenshots: Path, theme: str
) -> None:
    _seed_a_tall_run(server.home, project)
    page = open_project(new_tab(), server, project, theme.removeprefix("&theme=") or None)
    pane = _pane(page)
    assert pane["y"] + pane["height"] <= VIEWPORT["height"] + 1, f"the graph runs below the window: {pane}"
    for each in page.locator(".react-flow__node").all():
        _wait_in_view(page, each)
    page.screenshot(path=screenshots / f"layout-pipelines{theme.replace('&theme=', '-')}.png")

    page.locator(".bk-tab", has_text="Executions").click()
    page.wait_for_function(f"() => ({METRIC_PLOTS})() === 24", timeout=TIMEOUT)
    page.screenshot(path=screenshots / f"layout-executions{theme.replace('&theme=', '-')}.png")
    assert page.evaluate("() => document.scrollingElement.scrollHeight") <= VIEWPORT["height"] + 1
    page.wait_for_function(f"() => ({SCROLLING_TAB})() > 0", timeout=TIMEOUT)  # the tab scrolls in its own box

    page.locator(".bk-tab", has_text="Pipelines").click()
    for each in page.locator(".react-flow__node").all():
        _wait_in_view(page, each)


def test_a_new_node_lands_in_view_however_the_graph_was_zoomed(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    for _ in range(4):
        page.locator(".react-flow__controls-zoomin:visible").click()
    page.locator("select").nth(1).select_option("ScoreClassifier")
    page.get_by_role("button", name="Add node").click()
    added = node(page, "scoreclassifier")
    added.wait_for(timeout=TIMEOUT)
    _wait_in_view(page, added)


def test_a_new_layer_lands_in_view(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    page.locator(".bk-tab", has_text="Architectures").click()
    new_architecture(page, "wide")
    for index, label in enumerate(["dense", "dense_1", "dense_2", "dense_3", "dense_4", "dense_5"]):
        catalog_add(page, "Dense")
        layer = node(page, label)
        layer.wait_for(timeout=TIMEOUT)
        expect(layer).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)  # the new layer is the selected one
        expect(page.locator(".react-flow__node.selected:visible")).to_have_count(1, timeout=TIMEOUT)
        if index == 1:
            for _ in range(3):
                page.locator(".react-flow__controls-zoomin:visible").click()
        layer.click()  # the next layer goes right of this one
        _wait_in_view(page, layer)


def _transform(page: Any) -> str:
    return page.locator(".react-flow__viewport:visible").first.evaluate("el => el.style.transform")


def test_the_pipeline_editor_keeps_its_zoom_and_scroll_across_tabs(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    page.wait_for_timeout(500)  # the first fit settles
    for _ in range(2):
        page.locator(".react-flow__controls-zoomin:visible").click()
    pane = _pane(page)
    page.mouse.move(pane["x"] + 300, pane["y"] + 300)
    page.mouse.down()
    page.mouse.move(pane["x"] + 200, pane["y"] + 250, steps=8)
    page.mouse.up()
    before = _transform(page)
    assert "scale(1)" not in before, before
    for tab in ("Executions", "Architectures", "History", "Pipelines"):
        page.locator(".bk-tab", has_text=tab).click()
    page.locator(".react-flow__node").first.wait_for(timeout=TIMEOUT)
    assert _transform(page) == before, "switching tabs moved the graph"
