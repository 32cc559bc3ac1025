"""The workbench in Chromium: open the example, edit the pipeline and code, run, two tabs, history."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
TIMEOUT = 30_000
EXAMPLE_NODES, EXAMPLE_EDGES = 5, 6  # the digits example's first pipeline, "train"


def open_project(tab: Any, server: Any, name: str, theme: str | None = None) -> Any:
    """Open a fork of the digits example (in ``theme``, if given) and wait until its first pipeline is drawn."""
    page = tab.page
    page.goto(f"{server.url}?project={name}" + (f"&theme={theme}" if theme else ""))
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)
    return page


def node(page: Any, label: str) -> Any:
    """The graph node whose label is exactly ``label``."""
    return page.locator(".react-flow__node").filter(
        has=page.locator(".rf-node-label", has_text=re.compile(f"^{re.escape(label)}$"))
    )


def run_train(page: Any, epochs: int) -> None:
    """Set the train node's epochs and run the pipeline with Ctrl+Enter."""
    node(page, "train").click()
    field = page.locator(".bk-input-group", has=page.get_by_text("epochs", exact=True)).locator("input")
    field.fill(str(epochs))
    field.press("Enter")
    page.keyboard.press("Control+Enter")


def settled(page: Any, quiet_ms: int = 400) -> None:
    """Wait until the visible graph's viewport has not moved for ``quiet_ms`` (a node just added may
    bring a fit into view a moment after it appears), within the test deadline."""
    page.wait_for_function(
        """(quiet) => {
          const find = (root) => {
            for (const el of root.querySelectorAll('.react-flow__viewport')) if (el.getClientRects().length) return el
            for (const el of root.querySelectorAll('*')) if (el.shadowRoot) { const f = find(el.shadowRoot); if (f) return f }
            return null
          }
          const viewport = find(document)
          const now = performance.now(), transform = viewport ? viewport.style.transform : ''
          if (window.__dfViewport !== transform) { window.__dfViewport = transform; window.__dfSince = now }
          return now - window.__dfSince >= quiet
        }""",
        arg=quiet_ms,
        polling=50,
        timeout=TIMEOUT,
    )


def drag(page: Any, source: Any, target: Any) -> None:
    """Once the graph is still, press on ``source``, move in steps (React Flow tracks the pointer), release on ``target``."""
    settled(page)
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


def test_open_example_add_a_node_and_connect_it(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
    page.screenshot(path=screenshots / "pipeline.png")
    select = page.locator("select").nth(1)
    select.select_option("ScoreClassifier")
    page.get_by_role("button", name="Add node").click()
    new = node(page, "scoreclassifier")
    new.wait_for(timeout=TIMEOUT)
    train = node(page, "train")
    source = train.locator(".react-flow__handle.source[data-handleid='model']")
    target = new.locator(".react-flow__handle.target[data-handleid='model']")
    # Edges are found by their endpoints, not counted: React Flow unmounts every edge for a
    # frame or two while it re-measures nodes after an update, so a count can read 0.
    wire = page.locator(
        f".react-flow__edge[aria-label='Edge from {train.get_attribute('data-id')} to {new.get_attribute('data-id')}']"
    )
    assert wire.count() == 0
    drag(page, source, target)
    expect(wire).to_have_count(1, timeout=TIMEOUT)
    page.screenshot(path=screenshots / "connected.png")


EDGES_PER_FRAME = """() => {
  const count = () => {
    let n = 0
    const walk = (root) => {
      n += root.querySelectorAll('.react-flow__edge').length
      root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot) })
    }
    walk(document)
    return n
  }
  window.edgesPerFrame = []
  const sample = () => { window.edgesPerFrame.push(count()); requestAnimationFrame(sample) }
  sample()
}"""


def test_edges_stay_drawn_while_a_node_is_added(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    expect(page.locator(".react-flow__edge")).to_have_count(EXAMPLE_EDGES, timeout=TIMEOUT)
    page.evaluate(EDGES_PER_FRAME)
    page.locator("select").nth(1).select_option("ScoreClassifier")
    page.get_by_role("button", name="Add node").click()
    node(page, "scoreclassifier").wait_for(timeout=TIMEOUT)
    # The redraws that follow a new node go on for some frames after it appears: watch 60 more.
    seen = page.evaluate("window.edgesPerFrame.length")
    page.wait_for_function(f"() => window.edgesPerFrame.length > {seen + 60}", timeout=TIMEOUT)
    counts = page.evaluate("window.edgesPerFrame")
    assert set(counts) == {EXAMPLE_EDGES}, f"edges per frame: {sorted(set(counts))}"


TITLES_PER_FRAME = """() => {
  const titles = () => {
    const found = []
    const walk = (root) => {
      root.querySelectorAll('h3').forEach(h => found.push(h.textContent))
      root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot) })
    }
    walk(document)
    return found.join('|')
  }
  window.titles = []
  const sample = () => {
    const now = titles()
    if (window.titles[window.titles.length - 1] !== now) window.titles.push(now)
    requestAnimationFrame(sample)
  }
  sample()
}"""


def test_the_added_node_is_the_only_one_selected(server: Any, project: str, new_tab: Any) -> None:
    page = open_project(new_tab(), server, project)
    page.locator("select").nth(1).select_option("ScoreClassifier")
    page.evaluate(TITLES_PER_FRAME)
    for count in (1, 2, 3):
        page.get_by_role("button", name="Add node").click()
        expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + count, timeout=TIMEOUT)
        page.locator("h3", has_text=re.compile(f"^scoreclassifier{'' if count == 1 else f'_{count}'}$")).wait_for(
            timeout=TIMEOUT
        )
    # The side panel went from one new node to the next, never back to an earlier one.
    titles = [seg for t in page.evaluate("window.titles") for seg in t.split("|") if seg.startswith("scoreclassifier")]
    shown = [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]
    assert shown == ["scoreclassifier", "scoreclassifier_2", "scoreclassifier_3"], shown
    newest = node(page, "scoreclassifier_3")
    expect(newest).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)
    expect(page.locator(".react-flow__node.selected")).to_have_count(1, timeout=TIMEOUT)
    expect(page.locator("h3", has_text=re.compile("^scoreclassifier_3$"))).to_have_count(1, timeout=TIMEOUT)
    node(page, "split").click()
    expect(page.locator(".react-flow__node.selected")).to_have_count(1, timeout=TIMEOUT)
    expect(node(page, "split")).to_have_class(re.compile(r"\bselected\b"), timeout=TIMEOUT)
    expect(page.locator("h3", has_text=re.compile("^split$"))).to_have_count(1, timeout=TIMEOUT)


def test_editing_code_changes_the_ports(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
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


def test_two_tabs_see_each_others_edits(server: Any, project: str, new_tab: Any) -> None:
    first = open_project(new_tab(), server, project)
    second = open_project(new_tab(), server, project)
    first.locator("select").nth(1).select_option("TrainTestSplit")
    first.get_by_role("button", name="Add node").click()
    expect(second.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=5000)


LOSS_POINTS = """() => {
  const plots = []
  for (const doc of Bokeh.documents) for (const m of doc.all_models) {
    if (m.title && m.title.text === 'Training loss' && m.renderers) {
      plots.push(m.renderers.filter(r => r.glyph && r.glyph.type === 'Line').map(r => r.data_source.data.y.length))
    }
  }
  return plots
}"""


def test_run_the_pipeline_and_watch_it(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
    run_train(page, epochs=2)
    job = page.locator("g.df-job[data-name='train']")
    job.wait_for(timeout=TIMEOUT)
    page.locator("g.df-job[data-name='train'][data-status='running']").wait_for(timeout=60_000)
    page.screenshot(path=screenshots / "running.png")
    page.locator("g.df-job[data-name='train'][data-status='succeeded']").wait_for(timeout=120_000)
    job.click()
    page.wait_for_function(
        f"() => ({LOSS_POINTS})().some(lines => lines.length === 2 && lines.every(points => points === 2))",
        timeout=TIMEOUT,
    )
    page.locator("g.df-job[data-name='score'][data-status='succeeded']").wait_for(timeout=120_000)
    page.screenshot(path=screenshots / "executions.png")


def test_commit_then_restore_an_old_version(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    page = open_project(new_tab(), server, project)
    page.locator("select").nth(1).select_option("LoadDataset")
    page.get_by_role("button", name="Add node").click()
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES + 1, timeout=TIMEOUT)
    page.keyboard.press("Control+s")
    message = page.get_by_placeholder("what changed?")
    message.fill("one more loader")
    page.get_by_role("button", name="Commit", exact=True).first.click()
    page.locator(".bk-tab", has_text="History").click()
    page.locator(".tabulator-row", has_text="one more loader").wait_for(timeout=TIMEOUT)
    page.locator(".tabulator-row", has_text="Fork of digits").click()
    page.get_by_role("button", name="Restore this version").click()
    page.get_by_role("button", name="Confirm restore").click()
    page.locator(".tabulator-row", has_text="Restore").first.wait_for(timeout=TIMEOUT)
    page.screenshot(path=screenshots / "history.png")
    page.locator(".bk-tab", has_text="Pipelines").click()
    expect(page.locator(".react-flow__node")).to_have_count(EXAMPLE_NODES, timeout=TIMEOUT)


def test_restore_keeps_executions_and_artifacts(server: Any, project: str, new_tab: Any, screenshots: Path) -> None:
    from deepforge_panel.crdt import Home
    from deepforge_panel.project import Project

    store = Home(server.home).open(project)
    try:
        forked = Project.open(store)
        train = next(p for p in forked.pipelines.all() if p.name == "train")
        attributes = {nid: {} for nid in train.nodes}
        execution_id, _jobs = forked.executions.create(train, store.head() or "", attributes, author="ada")
        forked.executions.finish(execution_id, "succeeded")
        forked.artifacts.add("recorded-model", "keras", "file:///tmp/recorded-model", "h" * 8, 8)
        forked.pipelines.create("extra")
        forked.commit("after a recorded run", author="ada")
    finally:
        store.close()

    for theme in ("&theme=dark", ""):  # dark only looks and cancels; light confirms
        tab = new_tab()
        page = tab.page
        page.goto(f"{server.url}?project={project}{theme}")
        page.locator(".bk-tab", has_text="History").click(timeout=TIMEOUT)
        page.locator(".tabulator-row:visible", has_text="Fork of digits").click()
        page.get_by_role("button", name="Restore this version").click()
        effect = page.get_by_text("Restore makes the design equal to version")
        expect(effect).to_contain_text("1 pipeline removed", timeout=TIMEOUT)
        expect(effect).to_contain_text("Executions, artifacts, notebook outputs and results are kept as they are.")
        expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_visible()
        page.screenshot(path=screenshots / f"restore-confirm{theme.replace('&theme=', '-')}.png")
        if theme:
            page.get_by_role("button", name="Cancel", exact=True).click()
            continue
        page.get_by_role("button", name="Confirm restore").click()
        page.locator(".tabulator-row:visible", has_text="Restore").first.wait_for(timeout=TIMEOUT)

    page.locator(".bk-tab", has_text="Executions").click()
    expect(page.locator(".tabulator-row:visible", has_text="train")).to_have_count(1, timeout=TIMEOUT)
    page.screenshot(path=screenshots / "restore-kept-executions.png")
    page.locator(".bk-tab", has_text="Artifacts").click()
    expect(page.locator(".tabulator-row:visible", has_text="recorded-model")).to_have_count(1, timeout=TIMEOUT)
    page.screenshot(path=screenshots / "restore-kept-artifacts.png")
